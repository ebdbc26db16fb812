"""FastCCD: binning with the DSSC engine recovers the injected pumped /
unpumped ring ratio at every delay, the gain map flattens the two detector
halves, the dark is subtracted and the azimuthal integration puts the ring at
the injected q."""

import shutil

import numpy as np
import pytest
from scipy.optimize import curve_fit

import scs_nb as tb
from scs_nb.detectors.fccd import Q_DIM, FastCCD
from scs_nb.sim import fccd as simfccd


@pytest.fixture(scope="module")
def binned(simulated, tmp_path_factory):
    res = simulated("fastccd")
    dark = simulated("fccd_dark")
    t = res.truth["fccd"]
    out = tmp_path_factory.mktemp("fccd")
    f = FastCCD(res.proposal, distance=t["distance_m"])
    f.open_run(dark.run, isDark=True)
    f.binning()
    f.save(out)
    f.open_run(res.run, t0=t["t0_mm"])
    f.define_scan("PP800_DelayLine", 0.01)
    raw = f.binning()
    path = f.save(out)
    gain = out / "gain.npy"
    np.save(gain, simfccd.gain_map())
    yield t, f, raw, out, gain, res, dark, path
    shutil.rmtree(out, ignore_errors=True)  # ~100 MB of binned frames


def test_scan_and_pumped_trains(binned):
    t, f, raw, *_ = binned
    assert np.allclose(raw.scan_variable, t["setpoints_mm"], atol=1e-6)
    # the PP laser fires on even trains: half of each step pumped
    assert (raw.sum_count_pumped == raw.sum_count_unpumped).all()
    assert int(raw.sum_count_pumped.sum() + raw.sum_count_unpumped.sum()) == 12
    assert np.allclose(raw.delay_ps, t["delay_ps"], atol=1e-6)


def test_dark_gain_and_ratio(binned):
    t, f, raw, out, gain, res, dark, path = binned
    f.load_gain(str(gain))
    b = f.load_binned(res.run, dark_runNB=dark.run, xgm_norm=True, save_folder=out)
    cx, cy = t["centre_px"]
    xx, yy = np.indices(b.pumped.shape[1:])
    ring = np.abs(np.hypot(xx - cx, yy - cy) - t["r0_px"]) < t["width_px"]
    top, bottom = ring & (xx < xx.shape[0] // 2), ring & (xx >= xx.shape[0] // 2)
    u = b.unpumped.values
    # gain corrected: both halves alike; without the gain map the bottom is 0.8 x
    ratio = np.nanmean(u[:, bottom]) / np.nanmean(u[:, top])
    assert ratio == pytest.approx(1.0, abs=0.01)
    f.gain = np.ones_like(f.gain)
    b0 = f.load_binned(res.run, dark_runNB=dark.run, save_folder=out)
    r0 = np.nanmean(b0.unpumped.values[:, bottom]) / np.nanmean(b0.unpumped.values[:, top])
    assert r0 == pytest.approx(t["gain_bottom"], abs=0.01)
    # dark subtracted: outside the ring only noise around 0
    far = np.hypot(xx - cx, yy - cy) > t["r0_px"] + 6 * t["width_px"]
    assert abs(np.nanmean(b0.unpumped.values[:, far])) < 1e-3
    # pumped / unpumped ring ratio at each delay: as injected (shot noise ~0.5 %)
    got = b.pumped.values[:, ring].mean(1) / b.unpumped.values[:, ring].mean(1)
    assert np.allclose(got, t["ratio_pumped_unpumped"], atol=0.02)


def test_azimuthal_integration(binned):
    t, f, raw, out, gain, res, dark, path = binned
    f.load_gain(str(gain))
    f.load_binned(res.run, dark_runNB=dark.run, save_folder=out)
    az = f.azimuthal_int(t["wavelength_nm"], center=t["centre_px"], dr=2)
    u = az.unpumped.mean("scan_variable")
    q = u[Q_DIM].values
    popt, _ = curve_fit(
        lambda x, a, m, s: a * np.exp(-0.5 * ((x - m) / s) ** 2),
        q,
        u.values,
        p0=[float(u.max()), float(q[int(np.argmax(u.values))]), 0.003],
    )
    dq = np.diff(q).mean()
    assert abs(popt[1] - t["q0_per_nm"]) < dq  # within one radial bin
    cuts = f.plot_azimuthal_line_cut(az["relative"], [t["q0_per_nm"]], [0.002])
    assert np.allclose(cuts.values[0] + 1, t["ratio_pumped_unpumped"], atol=0.03)
    assert f.plot_azimuthal_int("relative") is not None


def test_save_never_overwrites_silently(binned):
    t, f, raw, out, *_ = binned
    with pytest.raises(tb.ToolBoxError, match="exists"):
        f.save(out)
    with pytest.raises(tb.ToolBoxError, match="shape"):
        np.save(out / "bad.npy", np.ones((3, 3)))
        f.load_gain(str(out / "bad.npy"))


def test_mask_and_xgm_filter(binned):
    """A mask hides pixels from the azimuthal integration (the ring stays at
    its q); xgm_filter drops every train with a pulse outside the range."""
    t, f, raw, out, gain, res, dark, path = binned
    f.load_gain(str(gain))
    f.load_binned(res.run, dark_runNB=dark.run, save_folder=out)
    m = np.ones(f.shape, bool)
    m[: f.shape[0] // 2] = False  # top half masked
    np.save(out / "mask.npy", m)
    f.load_mask(str(out / "mask.npy"), plot=False)
    full = f.azimuthal_int(t["wavelength_nm"], center=t["centre_px"], dr=2, use_mask=False)
    half = f.azimuthal_int(t["wavelength_nm"], center=t["centre_px"], dr=2, use_mask=True)
    u_full = full.unpumped.mean("scan_variable").values
    u_half = half.unpumped.mean("scan_variable").values
    k = int(np.nanargmax(u_full))
    # the same ring to the radial binning: the peak bin of the noisier half image may be
    # the neighbour of the full image's
    q = full[Q_DIM].values
    assert abs(q[k] - half[Q_DIM].values[int(np.nanargmax(u_half))]) <= np.max(np.diff(q)) + 1e-9
    assert u_half[k] == pytest.approx(u_full[k], rel=0.02)  # same ring, half the pixels
    f.mask = np.ones(f.shape, bool)
    # xgm_filter on a fresh scan: bounds around all pulses keep every train; an upper
    # bound at the lowest per-train maximum keeps only that train
    g = FastCCD(res.proposal, distance=t["distance_m"])
    g.open_run(res.run, t0=t["t0_mm"])
    xgm = g.scan["xgm_all"].values
    keep = g.xgm_filter(xgm_low=float(np.nanmin(xgm)) - 1, xgm_high=float(np.nanmax(xgm)) + 1)
    assert keep.sizes["trainId"] == 12
    lo = float(np.nanmin(xgm.max(1)))  # the train with the weakest strongest pulse
    g.xgm_filter(xgm_high=lo)
    assert g.scan.sizes["trainId"] == 1


def test_plot_images_show_x_horizontally(binned):
    """The images are (x, y): x runs horizontally, as the beam centre (x, y) is given."""
    import matplotlib

    matplotlib.use("Agg")
    t, f, raw, out, gain, res, dark, path = binned
    f.load_binned(res.run, dark_runNB=dark.run, xgm_norm=True, save_folder=out)
    fig = f.plot_FastCCD()
    nx, ny = f.binned.sizes["x"], f.binned.sizes["y"]
    for ax in fig.axes[:3]:
        assert ax.get_xlabel() == "x [pixel]" and ax.get_ylabel() == "y [pixel]"
        assert ax.images[0].get_array().shape == (ny, nx)
