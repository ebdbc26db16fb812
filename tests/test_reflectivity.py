"""Transient reflectivity: time zero and both decay constants of the injected
double-exponential response are recovered within their fit errors, and the
BAM correction of the delay sharpens the edge."""

import numpy as np
import pytest

import scs_nb as tb
from scs_nb.routines.reflectivity import double_exp_step, erf_step, fit_double_exp, fit_step

FIELDS = ["FastADC5peaks", "FastADC3peaks", "PP800_DelayLine", "BAM1932S"]


@pytest.fixture(scope="module")
def scan(simulated):
    res = simulated("reflectivity", run=1501)  # one realization: statistical asserts
    _, ds = tb.load(res.proposal, res.run, FIELDS, bunchPattern="scs_ppl")
    ds["delay_ps"] = tb.positionToDelay(ds["PP800_DelayLine"], origin=0, invert=False)
    ds["delay_bam"] = ds["delay_ps"] - ds["BAM1932S"]
    return res.truth["reflectivity"], ds


def test_bam_corrected_fit_recovers_t0_and_decays(scan):
    truth, ds = scan
    r = tb.reflectivity(
        ds, delaykey="delay_bam", binWidth=0.03, positionToDelay=False, units="ps", plot=False
    )
    p, e = r.attrs["fit_double_exp"], r.attrs["fit_double_exp_err"]
    for name, key in (
        ("t0", "t0_ps"),
        ("tau1", "tau1_ps"),
        ("tau2", "tau2_ps"),
        ("a1", "a1"),
        ("a2", "a2"),
    ):
        assert abs(p[name] - truth[key]) < 3 * e[name], (name, p[name], e[name], truth[key])
    # the errors are those of a well-measured curve, not of a loose fit
    assert e["t0"] < 0.01 and e["tau1"] < 0.2 * truth["tau1_ps"]
    # the binned curve scatters around the injected model as its standard errors say
    model = double_exp_step(
        r.delay_bam.values,
        truth["t0_ps"],
        truth["sigma_ps"],
        truth["a1"],
        truth["tau1_ps"],
        truth["a2"],
        truth["tau2_ps"],
        0.0,
    )
    good = r.counts.values > 10
    z = (r.deltaR.values - model)[good] / r.deltaR_stderr.values[good]
    # the model is averaged over each 0.03 ps bin (curvature adds a little)
    assert 0.7 < np.sqrt(np.mean(z**2)) < 1.5


def test_bam_correction_sharpens_the_edge(scan):
    truth, ds = scan
    raw = tb.reflectivity(ds, binWidth=0.01, origin=0.0, plot=False)  # delay-line only
    cor = tb.reflectivity(
        ds, delaykey="delay_bam", binWidth=0.03, positionToDelay=False, units="ps", plot=False
    )
    assert raw.attrs["fit_axis"] == "delay" and "delay" in raw.coords
    s_raw = raw.attrs["fit_double_exp"]["sigma"]
    s_cor = cor.attrs["fit_double_exp"]["sigma"]
    err = cor.attrs["fit_double_exp_err"]["sigma"]
    assert abs(s_cor - truth["sigma_ps"]) < abs(s_raw - truth["sigma_ps"])
    assert abs(s_cor - truth["sigma_ps"]) < 3 * err
    # without the correction the edge is broadened by the BAM jitter and drift
    assert s_raw > 1.5 * truth["sigma_ps"]
    # the step fit sees the same edge
    st = cor.attrs["fit_step"]
    assert abs(st["t0"] - truth["t0_ps"]) < 3 * truth["sigma_ps"]


def test_schemes_agree(scan):
    """Pumped-only gives Ir/Io itself; Ioweights (ratio of means) gives the
    same Delta R as the mean of ratios on this low-jitter laser."""
    truth, ds = scan
    a = tb.reflectivity(ds, binWidth=0.05, plot=False)
    b = tb.reflectivity(ds, binWidth=0.05, Ioweights=True, plot=False)
    assert np.allclose(a.deltaR, b.deltaR, atol=4 * float(a.deltaR_stderr.max()))
    p = tb.reflectivity(ds, binWidth=0.05, pumpedOnly=True, plot=False)
    assert float(p.deltaR[0]) == pytest.approx(0.5, rel=0.01)  # the sample's reflectance
    with pytest.raises(tb.ToolBoxError, match="not in the dataset"):
        tb.reflectivity(ds, Iokey="nope", plot=False)


def test_fits_on_exact_curves():
    t = np.linspace(-1, 6, 400)
    y = double_exp_step(t, 0.3, 0.05, -2.0, 0.2, -1.0, 1.5, 0.0)
    p, _ = fit_double_exp(t, y)
    assert p["t0"] == pytest.approx(0.3, abs=1e-4) and p["tau1"] == pytest.approx(0.2, rel=1e-3)
    assert p["tau2"] == pytest.approx(1.5, rel=1e-3)
    s, _ = fit_step(t, erf_step(t, 0.3, 0.1, 2.0, 1.0))
    assert s["t0"] == pytest.approx(0.3, abs=1e-4) and s["sigma"] == pytest.approx(0.1, rel=1e-3)


def test_alternate_trains(simulated):
    """Pumped even trains referenced to the unpumped odd trains: the same
    time zero and decays."""
    res = simulated("reflectivity", alternate_trains=True, run=1502)
    truth = res.truth["reflectivity"]
    _, ds = tb.load(res.proposal, res.run, FIELDS, bunchPattern="scs_ppl")
    ds["delay_bam"] = tb.positionToDelay(ds["PP800_DelayLine"], 0, False) - ds["BAM1932S"]
    r = tb.reflectivity(
        ds,
        delaykey="delay_bam",
        binWidth=0.03,
        positionToDelay=False,
        alternateTrains=True,
        pumpOnEven=True,
        plot=False,
    )
    p, e = r.attrs["fit_double_exp"], r.attrs["fit_double_exp_err"]
    for name, key in (("t0", "t0_ps"), ("tau1", "tau1_ps"), ("tau2", "tau2_ps")):
        assert abs(p[name] - truth[key]) < 3 * e[name], (name, p[name], e[name])
    # the wrong parity references pumped to unpumped trains: the inverted change
    inv = tb.reflectivity(
        ds, delaykey="PP800_DelayLine", alternateTrains=True, pumpOnEven=False, plot=False
    )
    right = tb.reflectivity(ds, delaykey="PP800_DelayLine", alternateTrains=True, plot=False)
    assert float(inv.deltaR.max()) > 2 and float(right.deltaR.min()) < -2
    assert float(inv.deltaR.min()) > -6 * float(inv.deltaR_stderr.max())


def test_plot_names_the_delay_axis(scan):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ds = scan
    kw = dict(delaykey="delay_bam", binWidth=0.03, positionToDelay=False, units="ps")
    tb.reflectivity(ds, xlabel="pump-probe delay, BAM-corrected", **kw)
    assert plt.gca().get_xlabel() == "pump-probe delay, BAM-corrected [ps]"
    tb.reflectivity(ds, **kw)
    assert plt.gca().get_xlabel() == "delay_bam [ps]"
    plt.close("all")
