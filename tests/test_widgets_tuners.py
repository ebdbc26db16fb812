"""Widgets without a browser: set controls and selector extents from Python,
check the returned parameters against the simulator's ground truth and the
plotted data (line/patch data of the axes)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import xarray as xr

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError
from scs_nb.widgets import (
    PeakWindowTuner,
    ROISelector,
    ScanExplorer,
    ThresholdTuner,
    interactive_available,
)


@pytest.fixture(scope="module")
def basic_run(simulated):
    res = simulated("basic", trains=30, seed=3)
    return res, tb.open_run(res.proposal, res.run)


@pytest.fixture(scope="module")
def delay_run(simulated):
    res = simulated("delay_scan", trains=40, seed=4)
    return res, tb.open_run(res.proposal, res.run)


def test_headless_detection(monkeypatch):
    monkeypatch.delenv("SCS_NB_INTERACTIVE", raising=False)
    assert interactive_available() is False  # pytest: no kernel, no front end
    monkeypatch.setenv("SCS_NB_INTERACTIVE", "1")
    assert interactive_available() is True
    monkeypatch.setenv("SCS_NB_INTERACTIVE", "0")
    assert interactive_available() is False


# -- ThresholdTuner ----------------------------------------------------------
def test_threshold_mask_matches_xgm_truth(basic_run):
    res, run = basic_run
    raw = np.asarray(res.truth["xgm"]["SCS"]["sa3_fast_raw"])  # (trains, pulses) µJ
    tuner = ThresholdTuner.from_run(run, "SCS_SA3", interactive=False)
    assert tuner.mask.shape == raw.shape
    assert tuner.nselected == raw.size  # default: everything
    low, high = np.percentile(raw, [20, 90])
    tuner.set_thresholds(low, high)
    expected = int(((raw >= low) & (raw <= high)).sum())
    assert tuner.value == (pytest.approx(low), pytest.approx(high))
    assert tuner.nselected == expected
    # the mask has the data's coordinates, True inside the window
    m = tuner.mask
    assert m.dims == tuner.data.dims
    np.testing.assert_array_equal(
        m.values, (tuner.data.values >= low) & (tuner.data.values <= high)
    )
    # the plotted selection: the highlighted histogram holds the bins inside
    assert tuner.selected_counts.sum() <= expected
    assert f"{expected} of {raw.size}" in tuner.status.value
    assert tuner._lines[0].get_xdata()[0] == pytest.approx(low)


def test_threshold_controls_span_and_boxes():
    rng = np.random.default_rng(0)
    data = xr.DataArray(rng.normal(500, 100, (40, 10)), dims=("trainId", "sa3_pId"), name="xgm")
    tuner = ThresholdTuner(data, interactive=False)
    seen = []
    tuner.observe(lambda t: seen.append(t.value))
    # the histogram span (what a mouse drag calls)
    tuner.span.extents = (400, 600)
    tuner.span.onselect(400, 600)
    assert tuner.value == (400, 600)
    assert tuner.nselected == int(((data >= 400) & (data <= 600)).sum())
    # text boxes
    tuner.low_box.value = 450
    assert tuner.value[0] == 450 and tuner.slider.value[0] == pytest.approx(450, abs=1)
    # range slider
    tuner.slider.value = (300.0, 700.0)
    assert tuner.value == (300.0, 700.0)
    assert tuner.span.extents == pytest.approx((300.0, 700.0))
    assert seen[-1] == (300.0, 700.0) and len(seen) >= 3
    # swapped bounds are ordered; NaN never selected
    tuner.set_thresholds(650, 350)
    assert tuner.value == (350, 650)
    data[0, 0] = np.nan
    assert not ThresholdTuner(data, interactive=False).mask[0, 0]


def test_threshold_dssc_binner_semantics():
    class Binner:  # what DSSCBinner.create_pulsemask receives
        def create_pulsemask(self, use_data="xgm", threshold=(0, np.inf)):
            self.args = (use_data, threshold)

    data = xr.DataArray(np.arange(10.0), dims=("pulse",))
    tuner = ThresholdTuner(data, low=2, high=5, interactive=False)
    b = Binner()
    tuner.apply_to(b)
    assert b.args == ("xgm", (2.0, 5.0))
    assert tuner.mask.values.tolist() == [False, False] + [True] * 4 + [False] * 4


def test_threshold_rejects_empty():
    with pytest.raises(ToolBoxValueError, match="no finite values"):
        ThresholdTuner(np.full(5, np.nan), interactive=False)


# -- PeakWindowTuner ---------------------------------------------------------
@pytest.mark.parametrize("mnemonic", ["MCP2raw", "FastADC4raw"])
def test_peak_windows_recover_injected_peaks(basic_run, mnemonic):
    res, run = basic_run
    truth = res.truth["digitizers"][mnemonic[:-3]]
    injected = np.asarray(truth["peaks"]).mean(axis=0)  # mean over trains, per pulse
    tuner = PeakWindowTuner.from_run(run, mnemonic, ntrains=None, interactive=False)
    p = tuner.value
    assert set(p) == {"pulseStart", "pulseStop", "baseStart", "baseStop", "period", "npulses"}
    assert p["npulses"] == len(injected)
    # the average trace's integrals equal the mean injected peaks within the noise:
    # noise per integral ~ sigma * sqrt(width) / sqrt(ntrains)
    sigma = truth["noise_counts"]
    width = p["pulseStop"] - p["pulseStart"]
    tol = (
        6
        * sigma
        * np.sqrt(width * (1 + width / (p["baseStop"] - p["baseStart"])))
        / np.sqrt(len(run.train_ids))
        + 0.01 * np.abs(injected).max()
    )
    np.testing.assert_allclose(tuner.preview, injected, atol=tol)
    # the lower panel plots exactly that preview
    x, y = tuner._peak_line.get_data()
    np.testing.assert_allclose(y, tuner.preview)


def test_peak_windows_controls_and_spans():
    # synthetic trace: 5 positive pulses of 4 samples, period 20, baseline 100
    y = np.full(120, 100.0)
    for k in range(5):
        y[10 + 20 * k : 14 + 20 * k] += 50.0
    tuner = PeakWindowTuner(
        y,
        integParams={
            "pulseStart": 8,
            "pulseStop": 16,
            "baseStart": 0,
            "baseStop": 6,
            "period": 20,
            "npulses": 5,
        },
        interactive=False,
    )
    np.testing.assert_allclose(tuner.preview, 200.0)
    # drag the pulse span (what the mouse calls) to cover half of each pulse
    tuner.pulse_span.extents = (12, 14)
    tuner.pulse_span.onselect(12, 14)
    assert tuner.value["pulseStart"] == 12 and tuner.value["pulseStop"] == 14
    np.testing.assert_allclose(tuner.preview, 100.0)
    # the baseline span is active only in 'baseline' drag mode
    tuner.drag_mode.value = "baseline"
    assert tuner.base_span.get_active() and not tuner.pulse_span.get_active()
    tuner.base_span.onselect(2, 8)
    assert (tuner.value["baseStart"], tuner.value["baseStop"]) == (2, 8)
    # sliders and boxes
    tuner.pulse_slider.value = (10, 14)
    tuner.npulses_box.value = 3
    assert tuner.value == {
        "pulseStart": 10,
        "pulseStop": 14,
        "baseStart": 2,
        "baseStop": 8,
        "period": 20,
        "npulses": 3,
    }
    np.testing.assert_allclose(tuner.preview, 200.0)
    # windows repeated for pulses 2..n are drawn as spans
    assert len(tuner._patches) == 2 * 2
    with pytest.raises(ToolBoxValueError, match="unknown integParams"):
        tuner.set_params(pulsestart=3)
    with pytest.raises(ToolBoxValueError, match="pulseStart < pulseStop"):
        tuner.set_params(pulseStart=14, pulseStop=10)


def test_peak_windows_need_1d():
    with pytest.raises(ToolBoxValueError, match="1D"):
        PeakWindowTuner(np.zeros((3, 10)), interactive=False)


# -- ROISelector -------------------------------------------------------------
def test_roi_selector_extents_to_load_rois():
    from extra_data import by_index

    img = np.zeros((100, 200))
    img[20:40, 50:90] = 5.0
    sel = ROISelector(img, mnemonic="fastccd", dims=["x", "y"], interactive=False)
    # a drawn rectangle: x (columns) 49.6..89.4, y (rows) 19.5..39.5
    sel.selector.extents = (49.6, 89.4, 19.5, 39.5)
    sel.selector.onselect(None, None)
    sel.add_roi("sam")
    sel.add_roi("ref", rows=(60, 70), cols=(0, 20))
    v = sel.value["fastccd"]
    assert v["sam"]["roi"].value == by_index[20:40, 50:90].value
    assert v["sam"]["dim"] == ["sam_x", "sam_y"]
    assert v["ref"]["roi"].value == (slice(60, 70), slice(0, 20))
    assert sel.bounds["sam"] == {"yl": 20, "yh": 40, "xl": 50, "xh": 90}
    assert sel.roi_means() == {"sam": 5.0, "ref": 0.0}
    # the ROIs are drawn as rectangles on the image
    rects = [a for a in sel._artists if hasattr(a, "get_width")]
    assert [(r.get_x(), r.get_y(), r.get_width(), r.get_height()) for r in rects] == [
        (49.5, 19.5, 40, 20),
        (-0.5, 59.5, 20, 10),
    ]
    # picking one in the list moves the selector onto it
    sel.roi_list.value = "ref"
    assert sel.selector.extents == pytest.approx((-0.5, 19.5, 59.5, 69.5))
    sel.delete_roi("ref")
    assert list(sel.rois) == ["sam"]
    # ROIs given back in come out unchanged
    again = ROISelector(img, rois=sel.value["fastccd"], interactive=False)
    assert again.bounds == sel.bounds
    with pytest.raises(ToolBoxValueError, match="identifier"):
        sel.add_roi("bad name")


def test_roi_selector_dssc_assembly():
    modules = np.zeros((16, 128, 512))
    modules[3] = 7.0
    sel = ROISelector.from_dssc(modules, interactive=False)
    img = np.asarray(sel.image)
    assert img.ndim == 2 and img.shape[0] > 512 and img.shape[1] > 512
    assert np.nansum(img == 7.0) == 128 * 512  # every pixel of module 3 placed once
    with pytest.raises(ToolBoxValueError, match="2D image"):
        ROISelector(np.zeros((2, 3, 4)), interactive=False)


# -- ScanExplorer ------------------------------------------------------------
def test_scan_explorer_bins_on_setpoints(delay_run):
    res, run = delay_run
    setpoints = np.asarray(res.truth["scan"]["setpoints"])
    raw = np.asarray(res.truth["xgm"]["SCS"]["sa3_fast_raw"])  # (trains, pulses)
    readback = np.asarray(res.truth["readback"]["PP800_DelayLine"])
    view = ScanExplorer.from_run(run, "SCS_SA3", "PP800_DelayLine", interactive=False)
    r = view.value
    centres = r["PP800_DelayLine"].values
    # automatic bin width = the scan step: one bin per set point
    assert view.params["bin_width"] == pytest.approx(np.diff(setpoints).min(), rel=0.05)
    assert len(centres) == len(setpoints)
    np.testing.assert_allclose(centres, setpoints, atol=0.5 * view.params["bin_width"])
    # per-bin mean and counts equal the injected pulse energies grouped by step
    step = np.argmin(np.abs(readback[:, None] - setpoints[None, :]), axis=1)
    for i in range(len(setpoints)):
        sel = raw[step == i]
        assert r["counts"].values[i] == sel.size
        assert r["signal"].values[i] == pytest.approx(sel.mean(), rel=1e-5)
    # the plot shows the binned signal
    line = view.ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), r["signal"].values)
    # twice the bin width: half the bins, same total
    view.set(bin_width=2 * view.params["bin_width"])
    assert view.value.sizes["PP800_DelayLine"] < len(setpoints)
    assert int(view.value["counts"].sum()) == raw.size


def test_scan_explorer_normalisation_and_2d():
    rng = np.random.default_rng(1)
    n = 400
    x = np.repeat(np.arange(4.0), n // 4)
    i0 = rng.uniform(1, 3, n)
    sig = i0 * (1 + x)  # normalised signal = 1 + x exactly
    y = np.tile([0.0, 1.0], n // 2)
    ds = xr.Dataset(
        {"sig": ("trainId", sig), "i0": ("trainId", i0), "x": ("trainId", x), "y": ("trainId", y)}
    )
    view = ScanExplorer(ds, "sig", "x", norm="i0", interactive=False)
    np.testing.assert_allclose(view.value["signal"].values, 1 + np.arange(4.0))
    np.testing.assert_allclose(view.value["error"].values, 0, atol=1e-9)
    view.set(mode="ratio of sums")
    np.testing.assert_allclose(view.value["signal"].values, 1 + np.arange(4.0))
    view.set(scan2="y", bin_width2=1.0)
    assert view.value["signal"].dims == ("x", "y")
    assert view.value["counts"].values.tolist() == [[50, 50]] * 4
    mesh = view.ax.collections[0]
    np.testing.assert_allclose(
        np.asarray(mesh.get_array()).ravel(), view.value["signal"].values.ravel()
    )
    with pytest.raises(ToolBoxValueError, match="not in the data"):
        view.set(norm="nope")
    with pytest.raises(ToolBoxValueError, match="bin width"):
        view.set(bin_width=0.0)


def test_headless_display_prints_value(capsys):
    data = xr.DataArray(np.arange(100.0), dims=("pulse",), name="xgm")
    tuner = ThresholdTuner(data, low=10, high=19, interactive=False)
    tuner.display()
    out = capsys.readouterr().out
    assert "10 of 100 pulses selected" in out
