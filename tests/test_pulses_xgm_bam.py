"""XGM and BAM: pulse energies and arrival times equal the injected values,
aligned on the bunch pattern (NaN where a train had no such pulse)."""

import warnings

import numpy as np
import pytest
from extra_data import RunDirectory

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError


def _check_aligned(da, pulse_ids, values, dim):
    assert da.dims == ("trainId", dim)
    coord = da[dim].values
    for row, ids, vals in zip(da.values, pulse_ids, values):
        fin = np.isfinite(row)
        assert np.array_equal(coord[fin], ids)
        np.testing.assert_allclose(row[fin], vals, rtol=1e-6)


@pytest.mark.parametrize("scenario", ["basic", "pattern_change", "pump_probe"])
def test_xgm_energies_equal_injected(simulated, scenario):
    res = simulated(scenario, trains=40)
    run = RunDirectory(str(res.run_dir))
    t = res.truth
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # counts agree: no warning
        ds = tb.get_xgm(run, ["SCS_SA3", "XTD10_SA3", "SCS_SA1"])
    _check_aligned(
        ds["SCS_SA3"], t["pattern"]["sase3_pulse_ids"], t["xgm"]["SCS"]["sa3_energy_uJ"], "sa3_pId"
    )
    _check_aligned(
        ds["XTD10_SA3"],
        t["pattern"]["sase3_pulse_ids"],
        t["xgm"]["XTD10"]["sa3_energy_uJ"],
        "sa3_pId",
    )
    assert ds["SCS_SA1"].dims == ("trainId", "sa1_pId")
    assert ds.sizes["trainId"] == len(t["train_ids"])  # empty trains kept (NaN)


def test_xgm_through_load_and_count_check(simulated):
    res = simulated("pattern_change", trains=40)
    run, ds = tb.load(res.proposal, res.run, ["SCS_SA3", "nrj"])
    assert ds["SCS_SA3"].dims == ("trainId", "sa3_pId")
    _check_aligned(
        ds["SCS_SA3"],
        res.truth["pattern"]["sase3_pulse_ids"],
        res.truth["xgm"]["SCS"]["sa3_energy_uJ"],
        "sa3_pId",
    )
    # an XGM that recorded one pulse too few in a train: warning, aligned anyway
    _, raw = tb.load(res.proposal, res.run, ["SCS_SA3"], extract_xgm=False)
    assert "XGMbunchId" in raw["SCS_SA3"].dims
    raw["SCS_SA3"][0, 19] = 1.0
    with pytest.warns(UserWarning, match="differs from the bunch pattern"):
        out = tb.get_xgm(run, merge_with=raw)
    assert np.isnan(out["SCS_SA3"].values[0, -1])


def test_xgm_without_bunch_pattern_uses_indices(simulated):
    res = simulated("basic", trains=40)
    run = RunDirectory(str(res.run_dir)).deselect("SCS_RR_UTC*")
    ds = tb.get_xgm(run, "SCS_SA3", indices=slice(0, 5))
    assert ds["SCS_SA3"].shape == (40, 5)
    np.testing.assert_allclose(
        ds["SCS_SA3"].values[:, :5],
        [e[:5] for e in res.truth["xgm"]["SCS"]["sa3_energy_uJ"]],
        rtol=1e-6,
    )


def test_xgm_bad_mnemonic(simulated):
    run = RunDirectory(str(simulated("basic", trains=40).run_dir))
    with pytest.raises(ToolBoxValueError, match="pulse-resolved XGM"):
        tb.get_xgm(run, "nrj")


def test_calibrate_xgm_recovers_factor(simulated):
    res = simulated("xgm_calibration", trains=40)
    run = RunDirectory(str(res.run_dir))
    ds = tb.get_xgm(run, "SCS_SA3")
    F = tb.calibrate_xgm(run, ds, xgm="SCS")
    assert F == pytest.approx(res.truth["xgm"]["SCS"]["calibration_factor"], rel=1e-4)
    calibrated = F * ds["SCS_SA3"]
    for row, e in zip(calibrated.values, res.truth["xgm"]["SCS"]["sa3_energy_uJ"]):
        np.testing.assert_allclose(row[np.isfinite(row)], e, rtol=1e-4)


def test_bam_arrival_times(simulated):
    res = simulated("pattern_change", trains=40)
    run = RunDirectory(str(res.run_dir))
    ds = tb.get_bam(run, ["BAM1932S", "BAM414"])
    t = res.truth
    for name in ("BAM1932S", "BAM414"):
        fs = [np.asarray(x) / 1000 for x in t["bam"][name]["sa3_arrival_fs"]]
        _check_aligned(ds[name], t["pattern"]["sase3_pulse_ids"], fs, "sa3_pId")
        assert ds[name].attrs["units"] == "ps"
    params = tb.get_bam_params(run, "BAM414")
    assert params == {"bamStatus1": 1, "bamStatus2": 1, "bamStatus3": 0, "bamError": 0}
    with pytest.raises(ToolBoxValueError, match="BAM"):
        tb.get_bam(run, "SCS_SA3")


def test_xgm_all_pulses_on_union_of_sase1_and_sase3(simulated):
    res = simulated("pump_probe", trains=40)
    run = RunDirectory(str(res.run_dir))
    ds = tb.get_xgm(run, ["SCS_XGM", "SCS_SA1", "SCS_SA3"])
    pat = res.truth["pattern"]
    assert ds["SCS_XGM"].dims == ("trainId", "pId")
    assert np.array_equal(
        ds["pId"].values, np.union1d(pat["sase1_pulse_ids"][0], pat["sase3_pulse_ids"][0])
    )
    both = np.concatenate([ds["SCS_SA1"].values, ds["SCS_SA3"].values], axis=1)
    np.testing.assert_allclose(ds["SCS_XGM"].values, both)  # SASE1 pulses come first
