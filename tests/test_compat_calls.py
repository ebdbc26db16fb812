"""Calls that real ToolBox notebooks make, replayed on simulated runs: the
per-board switches of load, xarray through the laser utilities, SCS_XGM giving
SCS_SA3/SCS_SA1 and calibrate_xgm on it, an open run passed to load, the older
quickmask form, and the DSSCBinner's message for missing aggregator files."""

import shutil

import numpy as np
import pytest
import xarray as xr

import scs_nb as tb


@pytest.fixture(scope="module")
def calib(simulated):
    return simulated("xgm_calibration", trains=30, seed=5)


def test_scs_xgm_also_gives_sa3_and_sa1(simulated):
    res = simulated("pump_probe", trains=20, seed=6)
    run, ds = tb.load(res.proposal, res.run, ["SCS_XGM"])
    assert {"SCS_XGM", "SCS_SA3", "SCS_SA1"} <= set(ds)
    assert "sa3_pId" in ds["SCS_SA3"].dims and "sa1_pId" in ds["SCS_SA1"].dims
    # the same SASE3 energies as the dedicated SASE3 channel, pulse by pulse
    _, sa3 = tb.load(res.proposal, res.run, ["SCS_SA3"])
    a, b = xr.align(ds["SCS_SA3"], sa3["SCS_SA3"], join="inner")
    np.testing.assert_allclose(a.values, b.values, rtol=1e-6)
    np.testing.assert_array_equal(ds["sa3_pId"], res.truth["pattern"]["sase3_pulse_ids"][0])
    np.testing.assert_array_equal(ds["sa1_pId"], res.truth["pattern"]["sase1_pulse_ids"][0])


def test_calibrate_xgm_on_the_scs_xgm_dataset(calib):
    run, ds = tb.load(calib.proposal, calib.run, ["SCS_XGM", "SCS_photonFlux"])
    F = tb.calibrate_xgm(run, ds)
    # injected: the fast channel reads 1/F of the slow flux, F = 2.5; XGM noise is 1 %
    # per pulse over 30 x 20 pulses
    assert F == pytest.approx(2.5, rel=0.01)


def test_load_accepts_an_open_run(calib):
    run = tb.open_run(calib.proposal, calib.run)
    _, ds = tb.load(run, fields=["nrj", "SCS_SA3"])
    _, ref = tb.load(calib.proposal, calib.run, ["nrj", "SCS_SA3"])
    xr.testing.assert_identical(ds[["nrj", "SCS_SA3"]], ref[["nrj", "SCS_SA3"]])
    assert ds.attrs["proposal"] == calib.proposal and ds.attrs["runNB"] == calib.run
    _, ds2 = tb.load(run, ["nrj"])  # the ToolBox's positional form
    assert "nrj" in ds2


def test_laser_utilities_keep_xarray():
    pos = xr.DataArray(
        [1.0, 1.5, 2.0], dims="trainId", coords={"trainId": [10, 11, 12]}, name="PP800_DelayLine"
    )
    delay = tb.positionToDelay(pos, origin=1.5)
    assert isinstance(delay, xr.DataArray) and delay.dims == ("trainId",)
    np.testing.assert_array_equal(delay.trainId, pos.trainId)
    # 0.5 mm of a double-pass line is 2 * 0.5 mm / c = 3.3356 ps, inverted
    assert float(delay[0]) == pytest.approx(3.33564, rel=1e-5)
    back = tb.delayToPosition(delay, origin=1.5)
    assert isinstance(back, xr.DataArray)
    np.testing.assert_allclose(back.values, pos.values)
    assert isinstance(tb.positionToDelay(1.0), float)
    assert isinstance(tb.degToRelPower(xr.DataArray([0.0, 22.5])), xr.DataArray)


def test_quickmask_older_form():
    geom = tb.facility.dssc_geometry()
    a = tb.quickmask_DSSC_ASIC(geom, [(3, 1, 7)])
    np.testing.assert_array_equal(a, tb.quickmask_DSSC_ASIC([(3, 1, 7)]))
    with pytest.raises(tb.ToolBoxValueError, match="DSSC 1M geometry"):
        tb.quickmask_DSSC_ASIC(object(), [(3, 1, 7)])


def test_dssc_binner_names_missing_aggregator_files(simulated, data_root, tmp_path):
    res = simulated("dssc_dark", modules="0", trains=3, npulses=2, run=160)
    for f in res.run_dir.glob("*-DA*"):
        f.unlink()
    with pytest.raises(tb.ToolBoxPathError) as err:
        tb.DSSCBinner(res.proposal, res.run)
    msg = str(err.value)
    assert "aggregator files" in msg and "include='*DA*'" in msg and "DSSC00" in msg
    assert "corrupt" not in msg
    shutil.rmtree(res.run_dir)
