"""XAS / XMCD: the edge position and jump, the white line and the XMCD
amplitude of the simulated sample are recovered, in transmission and in
fluorescence, and the reported standard errors match the scatter."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

import scs_nb as tb
from scs_nb.sim.xas import mu

FIELDS = ["SCS_SA3", "MCP3apd", "MCP1apd", "nrj", "magnet"]


@pytest.fixture(scope="module")
def spectra(simulated):
    res = simulated("xas_xmcd", run=1503)  # one realization: statistical asserts
    _, ds = tb.load(res.proposal, res.run, FIELDS)
    t = res.truth["xas"]
    e = np.asarray(t["setpoints_eV"])
    bins = np.concatenate([e - 0.25, [e[-1] + 0.25]])
    P = tb.xas(ds.where(ds.magnet > 0, drop=True), bins=bins)
    N = tb.xas(ds.where(ds.magnet < 0, drop=True), bins=bins)
    return t, ds, bins, P, N


def test_returns_as_the_toolbox(spectra):
    t, ds, bins, P, N = spectra
    assert set(P) == {"nrj", "muA", "sigmaA", "sterrA", "muIo", "counts"}
    assert np.allclose(P["nrj"], t["setpoints_eV"])
    assert P["counts"].sum() + N["counts"].sum() == ds.sizes["trainId"] * ds.sizes["sa3_pId"]
    xas_, xmcd = tb.xasxmcd(P, N)
    assert xmcd.dtype.names == ("nrj", "muA", "sigmaA", "sterrA", "muIo", "counts")
    # structured arrays in, as the ToolBox chains them
    again, _ = tb.xasxmcd(xas_, xas_)
    assert np.allclose(again["muA"], xas_["muA"])


def test_absorption_matches_the_sample(spectra):
    """-ln(MCP3/XGM) = mu - ln(gain): equal to the injected mu at each energy
    within the reported standard errors."""
    t, ds, bins, P, N = spectra
    for data, truth in ((P, t["mu_plus"]), (N, t["mu_minus"])):
        z = (data["muA"] - (np.asarray(truth) - t["ln_gain_MCP3"])) / data["sterrA"]
        assert 0.6 < np.sqrt(np.mean(z**2)) < 1.5
        assert np.all(np.abs(z) < 5)


def test_edge_and_xmcd_amplitude(spectra):
    t, ds, bins, P, N = spectra
    xas_, xmcd = tb.xasxmcd(P, N)

    def model(E, E0, gamma, pre, jump, white):
        return mu(E, 0, E0, gamma, pre, jump, white, 0.0)

    popt, pcov = curve_fit(
        model, xas_["nrj"], xas_["muA"], sigma=xas_["sterrA"], p0=[779, 2, 0, 1, 1]
    )
    err = np.sqrt(np.diag(pcov))
    assert abs(popt[0] - t["E0_eV"]) < max(4 * err[0], 0.01)
    assert abs(popt[0] - t["E0_eV"]) < 0.05  # eV
    assert abs(popt[3] - t["jump"]) < 4 * err[3]
    assert abs(popt[4] - t["white"]) < 4 * err[4]
    # XMCD: a Lorentzian at E0 with amplitude -xmcd
    k = int(np.argmax(np.abs(xmcd["muA"])))
    assert xmcd["nrj"][k] == pytest.approx(t["E0_eV"])
    assert abs(xmcd["muA"][k] - t["xmcd_at_E0"]) < 4 * xmcd["sterrA"][k]


def test_fluorescence(spectra):
    """MCP1 sees gain * E * mu: the ratio gives mu directly."""
    t, ds, bins, P, N = spectra
    F = tb.xas(ds.where(ds.magnet > 0, drop=True), bins=bins, Itkey="MCP1peaks", fluorescence=True)
    z = (F["muA"] / t["gain_MCP1"] - np.asarray(t["mu_plus"])) / (F["sterrA"] / t["gain_MCP1"])
    assert 0.6 < np.sqrt(np.mean(z**2)) < 1.5


def test_bad_input(spectra):
    t, ds, bins, P, N = spectra
    with pytest.raises(tb.ToolBoxError, match="not in the dataset"):
        tb.xas(ds, Itkey="MCP9peaks")
    with pytest.raises(tb.ToolBoxError, match="same bins"):
        tb.xasxmcd(P, tb.xas(ds, bins=10))
