"""Viking (Andor Newton) against the simulator's injected values
(scs_nb.sim.viking): calibration polynomial, camera gain, baseline removal and
the sample's XAS."""

import numpy as np
import pytest

import scs_nb as tb
from scs_nb.detectors.viking import Viking
from scs_nb.sim import viking as sv

MONO = (520.0, 530.0, 540.0, 550.0, 560.0)


@pytest.fixture(scope="module")
def runs(simulated):
    return {
        "dark": simulated("viking_dark"),
        "ref": simulated("viking_reference"),
        "sample": simulated("viking_sample"),
        "mono": [simulated("viking_mono", nrj=e) for e in MONO],
    }


@pytest.fixture()
def v(runs):
    obj = Viking(runs["dark"].proposal)
    obj.Y_RANGE = slice(*sv.Y_RANGE)
    obj.load_dark(runs["dark"].run)
    return obj


def test_calibration_polynomial_within_fit_errors(v, runs):
    calib = v.calibrate([r.run for r in runs["mono"]], plot=False)
    truth = runs["mono"][0].truth["viking"]["ENERGY_CALIB"]
    cov = np.array(v.calibration_fit["covariance"])
    x = np.linspace(50, 1950, 9)
    V = np.vander(x, 3)
    err = np.sqrt(np.einsum("ij,jk,ik->i", V, cov, V))
    diff = np.polyval(calib, x) - np.polyval(truth, x)
    assert np.all(np.abs(diff) <= 3 * err + 1e-3), (diff, err)
    assert np.all(np.abs(diff) < 0.03)  # eV over the whole detector
    # positions of the lines: where the truth puts them
    np.testing.assert_allclose(
        v.calibration_fit["positions"],
        [r.truth["viking"]["peak_pixel"] for r in runs["mono"]],
        atol=0.3,
    )


def test_camera_gain_and_photoelectrons_per_count(v, runs):
    for key in ("ref", "sample"):
        truth = runs[key].truth["viking"]
        run = tb.open_run(runs[key].proposal, runs[key].run)
        assert v.get_camera_gain(run) == truth["gain"]
        assert v.e_per_counts(run) == truth["e_per_counts"]
        params = v.get_camera_params(run)
        assert params["photoelectrons_per_count"] == truth["e_per_counts"]
        assert params["high_capacity"] == truth["HighCapacity"]


def _binned(a, n=32):
    a = np.asarray(a)
    m = a.shape[-1] // n * n
    return a[..., :m].reshape(a.shape[:-1] + (-1, n)).mean(axis=-1)


def test_baseline_removal_recovers_the_signal(v, runs):
    v.ENERGY_CALIB = list(sv.ENERGY_CALIB)
    v.BL_SIGNAL_RANGE = list(sv.BL_SIGNAL_RANGE)
    ds = v.removePolyBaseline(v.integrate(v.from_run(runs["ref"].run)))
    truth = runs["ref"].truth["viking"]
    assert ds["spectrum"].attrs["units"] == "photoelectrons per pixel"
    # binned (32 px) mean spectrum vs the injected signal; its error: the
    # train-to-train spread and the noise of the dark, in photoelectrons
    per_train = _binned(ds["spectrum_nobl"].values)
    mean = per_train.mean(axis=0)
    se = per_train.std(axis=0, ddof=1) / np.sqrt(len(per_train))
    dark = v.from_run(runs["dark"].run, add_attrs=False)["newton"].values.astype(float)
    dark_err = _binned(dark.mean(axis=1)).std(axis=0, ddof=1) / np.sqrt(len(dark))
    err = np.hypot(se, dark_err * truth["e_per_counts"])
    z = (mean - _binned(truth["signal_e"])) / err
    assert np.mean(np.abs(z) < 3) >= 0.95 and np.mean(z**2) < 2.0, z
    # without the baseline removal the same comparison fails: it was there
    raw = _binned(ds["spectrum"].values).mean(axis=0)
    assert np.mean(np.abs((raw - _binned(truth["signal_e"])) / err) > 3) > 0.5


def test_sample_xas_within_noise(v, runs):
    v.ENERGY_CALIB = list(sv.ENERGY_CALIB)
    v.BL_SIGNAL_RANGE = list(sv.BL_SIGNAL_RANGE)
    s = v.removePolyBaseline(v.integrate(v.from_run(runs["sample"].run)))
    r = v.removePolyBaseline(v.integrate(v.from_run(runs["ref"].run)))
    xas = v.xas(s, r, thickness=1.0)
    truth = runs["sample"].truth["viking"]
    i0 = xas["I0"].values
    good = i0 > 0.2 * i0.max()
    assert good.sum() > 300
    # on 32 px bins (the SASE spikes correlate ~25 px): each bin's z is a Student t
    # of 19 degrees of freedom (20 trains); P(|z| > 4) < 1e-3 per bin. chi2 / N is not
    # tested: the runs' flux difference is common to all bins and makes it scatter
    agree = sv.xas_agreement(v, s, r, thickness=1.0, bin_px=32)
    assert agree["n"] >= 12
    z = np.asarray(agree["z"])
    assert np.max(np.abs(z)) < 4 and np.mean(np.abs(z) < 3) >= 0.9, z
    # pixel-wise, the errors are neither too small nor inflated (a 2x error is caught)
    zp = (xas["absorptionCoef"].values - np.asarray(truth["mu"]))[good] / xas[
        "absorptionCoef_stderr"
    ].values[good]
    assert 0.1 < np.mean(zp**2) < 4
    # the edge jump and white line are there: mu(532 eV) - mu(525 eV) ~ 1.3,
    # on +-0.3 eV windows (errors taken as fully correlated within a window)
    e = xas["newt_x"].values
    mu_true = np.asarray(truth["mu"])

    def window(ev):
        w = np.abs(e - ev) < 0.3
        return (
            xas["absorptionCoef"].values[w].mean(),
            mu_true[w].mean(),
            xas["absorptionCoef_stderr"].values[w].mean(),
        )

    (m1, t1, s1), (m0, t0, s0) = window(532.0), window(525.0)
    assert t1 - t0 > 1.0
    assert abs((m1 - m0) - (t1 - t0)) <= 3 * np.hypot(s1, s0)
    assert set(xas.data_vars) >= {
        "I0",
        "It",
        "absorptionCoef",
        "absorptionCoef_std",
        "absorptionCoef_stderr",
        "I0_stderr",
        "It_stderr",
    }


def test_absorption_max_within_the_valid_range(v, runs):
    v.ENERGY_CALIB = list(sv.ENERGY_CALIB)
    v.BL_SIGNAL_RANGE = list(sv.BL_SIGNAL_RANGE)
    s = v.removePolyBaseline(v.integrate(v.from_run(runs["sample"].run)))
    r = v.removePolyBaseline(v.integrate(v.from_run(runs["ref"].run)))
    xas = v.xas(s, r, thickness=1.0)
    e = xas["newt_x"].values
    ok = Viking.valid_range(xas).values
    top = Viking.absorption_max(xas)
    lo, hi = top["range_eV"]
    assert lo <= top["energy_eV"] <= hi and (lo, hi) == (e[ok].min(), e[ok].max())
    # outside the SASE spectrum -log(It/I0) is noise over noise: its largest value lies
    # there, far above any absorption, which is why the search is restricted
    k_all = int(np.nanargmax(xas["absorptionCoef"].values))
    assert not ok[k_all]
    # the white line of the injected absorption: the maximum of the noisy curve sits at
    # most a few standard errors above it (the max of many pixels is biased upwards)
    mu_true = np.asarray(runs["sample"].truth["viking"]["mu"])
    k = int(np.argmax(np.where(ok, mu_true, -np.inf)))
    assert abs(top["energy_eV"] - e[k]) < 1.0
    assert -2 * top["error"] < top["value"] - mu_true[k] < 4 * top["error"], (top, mu_true[k])
    with pytest.raises(tb.errors.ToolBoxValueError, match="min_fraction"):
        Viking.absorption_max(xas.assign(absorptionCoef=xas["absorptionCoef"] * np.nan))


def test_parameters_and_errors(v, runs):
    assert v.get_params("bl_poly_deg") == {"bl_poly_deg": 1}
    v.set_params(bl_poly_deg=2, x_range=slice(0, 1900))
    assert v.BL_POLY_DEG == 2
    with pytest.raises(tb.ToolBoxValueError, match="parameters"):
        v.set_params(bl_degree=2)
    ds = v.from_run(runs["ref"].run)
    assert ds.sizes["newt_x"] == 1900 and ds.sizes["newt_y"] == sv.Y_RANGE[1] - sv.Y_RANGE[0]
    with pytest.raises(tb.ToolBoxValueError, match="integrate"):
        v.removePolyBaseline(ds)
    with pytest.raises(tb.ToolBoxValueError, match="differ"):
        v.integrate(ds)  # the dark was loaded with the full X_RANGE
    v.load_dark(None)
    assert not v.USE_DARK
    with pytest.raises(tb.ToolBoxValueError, match="at least 3"):
        v.calibrate([1, 2])
    from scs_nb.detectors.viking import Viking as V

    assert tb.Viking is V


def test_save_and_load_params(v, tmp_path):
    v.ENERGY_CALIB = np.array(sv.ENERGY_CALIB)
    v.BL_SIGNAL_RANGE = [[519.0, 530.0], [530.0, 544.0]]
    path = v.save_params(tmp_path / "viking.json")
    other = Viking(1).load_params(path)
    assert other.Y_RANGE == v.Y_RANGE and other.BL_SIGNAL_RANGE == v.BL_SIGNAL_RANGE
    np.testing.assert_allclose(other.ENERGY_CALIB, sv.ENERGY_CALIB)
    with pytest.raises(tb.ToolBoxPathError):
        Viking(1).load_params(tmp_path / "none.json")
