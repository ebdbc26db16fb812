"""hRIXS curvature, energy calibration, integration and the delay scan against
the simulator's injected values (scs_nb.sim.hrixs)."""

import numpy as np
import pytest
from scipy.special import ndtr

from scs_nb.detectors.hrixs import MaranaX, hRIXS, pump_probe_ratio
from scs_nb.sim import hrixs as sh


@pytest.fixture(scope="module")
def h(simulated):
    dark = simulated("hrixs_dark")
    obj = MaranaX(dark.proposal)
    obj.load_dark(dark.run)
    obj.Y_RANGE = slice(*sh.Y_RANGE)
    return obj


def test_find_curvature_within_fit_errors(h, simulated):
    res = simulated("hrixs_curvature")
    a, b = h.find_curvature(res.run, plot=False)
    fit = h.curvature_fit
    truth = res.truth["hrixs"]
    assert abs(a - truth["CURVE_A"]) <= 3 * fit["CURVE_A_err"]
    assert abs(b - truth["CURVE_B"]) <= 3 * fit["CURVE_B_err"]
    # the errors are those of a precise fit, not an inflated one
    assert fit["CURVE_A_err"] < 0.01 * abs(truth["CURVE_A"])
    assert fit["CURVE_B_err"] < 0.3 * abs(truth["CURVE_B"])
    # primed with a starting value, the same result
    a2, b2 = h.find_curvature(res.run, plot=False, args=(0.02, 0.0))
    assert a2 == pytest.approx(a, abs=fit["CURVE_A_err"])


def test_energy_calibration_within_fit_errors(h, simulated):
    res = simulated("hrixs_energy_scan")
    h.CURVE_A, h.CURVE_B = sh.CURVE_A, sh.CURVE_B
    slope, intercept = h.find_energy_calibration(res.run)
    fit = h.energy_fit
    truth = res.truth["hrixs"]
    assert len(fit["positions"]) == 5
    assert abs(slope - truth["ENERGY_SLOPE"]) <= 3 * fit["ENERGY_SLOPE_err"]
    assert abs(intercept - truth["ENERGY_INTERCEPT"]) <= 3 * fit["ENERGY_INTERCEPT_err"]
    assert fit["ENERGY_SLOPE_err"] < 0.02 * truth["ENERGY_SLOPE"]


@pytest.fixture(scope="module")
def delay(h, simulated):
    res = simulated("hrixs_delay", trains=12)
    h.CURVE_A, h.CURVE_B = sh.CURVE_A, sh.CURVE_B
    h.ENERGY_SLOPE, h.ENERGY_INTERCEPT = sh.ENERGY_SLOPE, sh.ENERGY_INTERCEPT
    data = h.from_run(res.run)
    return res, data, h.centroid(data)


def _window_fraction(comp, lo, hi, incident=sh.REFERENCE_EV):
    loss, width, _ = comp
    c = incident - loss
    return ndtr((hi - c) / width) - ndtr((lo - c) / width)


def test_delay_scan_recovers_the_bleach(h, delay):
    res, _, cen = delay
    agg = h.normalize(h.aggregate(cen, "hRIXS_delay"))
    delays = res.truth["delay"]["delays_ps"]
    np.testing.assert_allclose(agg["hRIXS_delay"].values, delays)
    assert agg["counts"].values.tolist() == [2] * 6
    # the d-d window (1.5 eV loss, +-0.5 eV) of pumped vs unpumped delays, with the
    # library's ratio (a double hit counts two photons in the variance)
    lo, hi = sh.REFERENCE_EV - 2.0, sh.REFERENCE_EV - 1.0

    def pumped_over_unpumped(sel_lo, sel_hi):
        pp = pump_probe_ratio(agg, (sel_lo, sel_hi))
        return pp["ratio"], pp["error"]

    ratio, sigma = pumped_over_unpumped(lo, hi)
    expected = sh.expected_window_ratio(res.truth, (lo, hi))
    # 4 sigma of the counting noise (the bleach itself is a 12 sigma effect here)
    assert abs(ratio - expected) <= 4 * sigma, (ratio, expected, sigma)
    assert abs(ratio - 1) > 8 * sigma
    # the elastic line is unchanged
    r_el, s_el = pumped_over_unpumped(sh.REFERENCE_EV - 0.3, sh.REFERENCE_EV + 0.3)
    assert abs(r_el - 1) <= 4 * s_el, (r_el, s_el)


def test_aggregate_whole_run_and_normalize(h, delay):
    _, _, cen = delay
    agg = h.aggregate(cen)
    assert int(agg["counts"]) == cen.sizes["trainId"]
    np.testing.assert_allclose(agg["spectrum"].values, cen["spectrum"].sum("trainId"))
    assert float(agg["hRIXS_delay"]) == pytest.approx(float(cen["hRIXS_delay"].mean()))
    n = h.normalize(agg, which="counts")
    np.testing.assert_allclose(
        n["normalized"].values, agg["spectrum"].values / agg["counts"].item()
    )


def test_integrate_agrees_with_centroid(h, delay):
    _, data, cen = delay
    ig = h.integrate(data)
    # ADU per pixel -> photons: times the pixels along x, over the ADU of a photon
    nx = data.sizes["x"]
    photons = ig["spectrum"].sum("energy").values * nx / (sh.REFERENCE_EV / 3.65)
    counted = cen["spectrum"].sum("energy").values
    # the readout noise of all pixels summed (and of the 4-image dark), in
    # photons; the centroids lose < 2 % to pile-up
    npix = nx * (sh.Y_RANGE[1] - sh.Y_RANGE[0])
    sigma = np.sqrt(npix * sh.READ_NOISE**2 * (1 + 1 / 4)) / (sh.REFERENCE_EV / 3.65)
    assert np.all(np.abs(photons - counted) <= 3 * sigma + 0.02 * counted)
    # the same spectral shape (energy axis shared), on the summed spectra
    a = ig["spectrum"].sum("trainId").values
    b = cen["spectrum"].sum("trainId").values
    peak_a, peak_b = ig["energy"].values[np.argmax(a)], cen["energy"].values[np.argmax(b)]
    assert abs(peak_a - peak_b) <= 2 * sh.ENERGY_SLOPE
    np.testing.assert_array_equal(ig["energy"].values, cen["energy"].values)
    assert isinstance(h, hRIXS)


def test_save_and_load_params(h, tmp_path):
    import scs_nb as tb

    h.CURVE_A, h.CURVE_B = 0.0241, -3.7e-7
    path = h.save_params(tmp_path / "hrixs.json")
    with pytest.raises(tb.ToolBoxPathError, match="overwrite"):
        h.save_params(path)
    other = MaranaX(1).load_params(path)
    assert other.get_params() == h.get_params()
    assert other.Y_RANGE == slice(*sh.Y_RANGE)
    assert not list(tmp_path.glob("*.part"))
