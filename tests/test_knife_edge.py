"""Knife-edge: the beam radius of the simulated Gaussian beam (w0 = 50 µm)
is recovered within 1 %, and the fit's standard error matches the scatter of
independent measurements (the 10 pulses of each train)."""

import importlib

import numpy as np
import pytest
from scipy.special import erfc

import scs_nb as tb

base_ke = importlib.import_module("scs_nb.base.knife_edge")


@pytest.fixture(scope="module")
def scan(simulated):
    res = simulated("knife_edge", run=1504)  # one realization: statistical asserts
    _, ds = tb.load(res.proposal, res.run, ["scannerX", "FastADC4peaks", "SCS_SA3"])
    ds["FastADC4_norm"] = ds["FastADC4peaks"] / ds["SCS_SA3"]
    return res.truth["knife_edge"], ds


def test_w0_within_one_percent(scan):
    truth, ds = scan
    w0, err = tb.knife_edge(ds, signalKey="FastADC4_norm")
    assert abs(w0 - truth["w0_mm"]) < 0.01 * truth["w0_mm"]
    assert abs(w0 - truth["w0_mm"]) < 4 * err
    popt, pcov = tb.knife_edge(ds, signalKey="FastADC4_norm", full=True)
    assert abs(popt[0] - truth["x0_mm"]) < 4 * np.sqrt(pcov[0, 0])
    # the raw photodiode (SASE fluctuations not normalised) still gives w0, less precisely
    w0_raw, err_raw = tb.knife_edge(ds)
    assert err_raw > err and abs(w0_raw - truth["w0_mm"]) < 4 * err_raw


def test_standard_error_matches_scatter(scan):
    """Each pulse index is an independent scan of the same beam: the spread of
    their w0 equals the standard error the fit reports for one of them."""
    truth, ds = scan
    x = ds["scannerX"].values
    sig = ds["FastADC4_norm"].values
    fits = [tb.knife_edge_base(x, sig[:, k]) for k in range(sig.shape[1])]
    w = np.array([abs(p[1]) for p, _ in fits])
    e = np.array([np.sqrt(c[1, 1]) for _, c in fits])
    ratio = w.std(ddof=1) / np.sqrt(np.mean(e**2))
    # sample std of 10 values / true sigma lies in [0.45, 1.55] with > 99 % probability
    assert 0.45 < ratio < 1.55, (w, e)
    # and the per-pulse estimates are unbiased at their error
    assert abs(w.mean() - truth["w0_mm"]) < 4 * e.mean() / np.sqrt(len(w))


def test_array_forms():
    rng = np.random.default_rng(1)
    x = np.linspace(-0.2, 0.2, 81)
    y = 0.5 * erfc(np.sqrt(2) * (x - 0.01) / 0.03)
    y2 = np.stack([y, y], axis=1) + 0.002 * rng.standard_normal((81, 2))
    y2[5, 0] = np.nan
    w, e = base_ke.knife_edge(x, y2)
    assert abs(w - 0.03) < 4 * e
    # axisRange keeps the fit to the given positions; increasing edges give |w0|
    w_r, _ = base_ke.knife_edge(x, 1 - y2, axisRange=[-0.1, 0.1])
    assert abs(w_r - 0.03) < 1e-3
    px, py = base_ke.prepare_arrays(x, y2, xRange=[-0.1, 0.1])
    assert len(px) == len(py) == 2 * np.sum(base_ke.range_mask(x, -0.1, 0.1))
    assert np.all(np.isfinite(py))
    assert base_ke.range_mask(np.array([1, 2, 3]), 2).tolist() == [False, True, True]
    with pytest.raises(tb.ToolBoxError, match="one row per position"):
        base_ke.prepare_arrays(x, y2[:10])


def test_fluence_from_knife_edge(scan):
    """Peak fluence of the fitted beam: F = 2 E / (pi w0x w0y)."""
    truth, ds = scan
    w0, _ = tb.knife_edge(ds, signalKey="FastADC4_norm")
    F, _, E, _ = tb.fluenceCalibration(
        np.array([0.0, 0.5, 1.0]),
        np.array([0.0, 5.0, 10.0]),
        npulses=10,
        w0x=w0 * 1e-3,
        plot=False,
    )
    # 10 mW, 10 pulses, 10 Hz -> 100 µJ per pulse
    assert E[-1] == pytest.approx(100.0)
    assert F[-1] == pytest.approx(
        2 * 100e-6 / (np.pi * (truth["w0_mm"] * 1e-3) ** 2) * 0.1, rel=0.02
    )


def test_plot_labels_the_signal_unit(scan):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ds = scan
    unit = "ADC counts x samples / µJ"
    tb.knife_edge(ds, signalKey="FastADC4_norm", plot=True, signal_unit=unit)
    assert plt.gca().get_ylabel() == "FastADC4_norm\n[ADC counts x samples / µJ]"
    tb.knife_edge(ds, signalKey="FastADC4_norm", plot=True)
    assert plt.gca().get_ylabel() == "FastADC4_norm"
    plt.close("all")
