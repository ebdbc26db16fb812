"""Laser utilities, OL/FEL alignment, undulator configuration and the
knife-edge scenario: analytic values and injected truths are recovered."""

import numpy as np
import pytest
from extra_data import RunDirectory
from scipy.optimize import curve_fit
from scipy.special import erfc

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError


def test_delay_conversions_invert():
    pos = np.linspace(-20, 30, 11)
    for invert in (True, False):
        for refl in (1, 2):
            d = tb.positionToDelay(pos, origin=3.2, invert=invert, reflections=refl)
            np.testing.assert_allclose(tb.delayToPosition(d, 3.2, invert, refl), pos, atol=1e-12)
    # 1 mm of stage = 2 mm of path = 6.671 ps, inverted
    assert tb.positionToDelay(1.0) == pytest.approx(-2 / 0.299792458)


def test_deg_to_rel_power():
    assert tb.degToRelPower(10, theta0=10) == pytest.approx(0)
    assert tb.degToRelPower(55, theta0=10) == pytest.approx(1)
    assert tb.degToRelPower(32.5, theta0=10) == pytest.approx(0.5)


def test_fluence_calibration_analytic():
    rel = np.linspace(0, 1, 6)
    power_mW = 40.0 * rel  # 40 mW at full power
    npulses, w0x, w0y = 20, 80e-6, 120e-6
    F, fit_F, E, fit_E = tb.fluenceCalibration(rel, power_mW, npulses, w0x, w0y, plot=False)
    E_true = power_mW * 1e-3 / (10 * npulses) * 1e6  # µJ
    F_true = 2 * E_true * 1e-6 / (np.pi * w0x * w0y) / 10  # mJ/cm^2
    np.testing.assert_allclose(E, E_true)
    np.testing.assert_allclose(F, F_true)
    np.testing.assert_allclose(np.polyval(fit_F, rel), F_true, rtol=1e-9, atol=1e-9)
    with pytest.raises(ToolBoxValueError):
        tb.fluenceCalibration([0, 1], [1], 10, 1e-4, plot=False)


def test_align_ol_to_fel(simulated):
    res = simulated("pump_probe", trains=40)
    run = RunDirectory(str(res.run_dir))
    ds = tb.get_laser_peaks(run)
    ds = tb.get_xgm(run, "SCS_SA3", merge_with=ds)
    out = tb.align_ol_to_fel_pId(ds)
    assert "ol_pId" not in out.dims and out["FastADC5peaks"].dims == ("trainId", "sa3_pId")
    row = out["FastADC5peaks"].values[0]
    assert np.all(np.isfinite(row[::2])) and np.all(np.isnan(row[1::2]))  # pumped / unpumped
    with pytest.raises(ToolBoxValueError, match="ol_pId"):
        tb.align_ol_to_fel_pId(ds.drop_dims("ol_pId"))


def test_undulator_config(simulated):
    res = simulated("pump_probe", trains=40)
    run = RunDirectory(str(res.run_dir))
    t = res.truth["undulator_cells"]
    cfg = tb.get_undulator_config(run, plot=True)
    np.testing.assert_allclose(cfg["gap"].values, t["gap_mm"], rtol=1e-6)
    np.testing.assert_allclose(cfg["K"].values, t["K"], rtol=1e-6)
    assert cfg["cell_color"].values.tolist() == t["color"]
    np.testing.assert_allclose(cfg["photon_energy"].values, t["color_energy_eV"], rtol=1e-4)
    assert cfg["chicane_delay"].values[1] == pytest.approx(t["chicane_delay_fs"][0])
    with pytest.raises(ToolBoxValueError, match="undulator"):
        tb.get_undulator_config(RunDirectory(str(simulated("basic", trains=40).run_dir)))


def test_knife_edge_scan_recovers_beam_size(simulated):
    res = simulated("knife_edge", trains=124)
    run, ds = tb.load(res.proposal, res.run, ["scannerX", "FastADC4raw", "SCS_SA3"])
    signal = (ds["FastADC4peaks"] / ds["SCS_SA3"]).mean("sa3_pId")
    x = ds["scannerX"].values

    def model(x, x0, w0, a, b):
        return a * erfc(np.sqrt(2) * (x - x0) / w0) + b

    p, _ = curve_fit(model, x, signal.values, p0=[0, 0.1, signal.max().item() / 2, 0])
    t = res.truth["knife_edge"]
    assert abs(p[1]) == pytest.approx(t["w0_mm"], rel=0.03)
    assert p[0] == pytest.approx(t["x0_mm"], abs=0.003)
