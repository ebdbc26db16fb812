"""The examples of the ToolBox's API reference, replayed as written (proposal
and run numbers aside) on simulated runs, with their results checked against
the injected values."""

import numpy as np
import pytest

import scs_nb as tb
import scs_nb.detectors as tbdet


@pytest.fixture(scope="module")
def pp(simulated):
    return simulated("pump_probe", trains=16, seed=8)


def test_get_bam_example(pp):
    # >>> run = tb.open_run(2711, 303)
    # >>> bam = tb.get_bam(run, 'BAM1932S')
    run = tb.open_run(pp.proposal, pp.run)
    bam = tb.get_bam(run, "BAM1932S")
    assert "sa3_pId" in bam["BAM1932S"].dims
    np.testing.assert_array_equal(bam["sa3_pId"], pp.truth["pattern"]["sase3_pulse_ids"][0])


def test_digitizer_signal_description_example(pp):
    # run = tb.open_run(3481, 100); signals = tb.digitizer_signal_description(run)
    # signals_fadc2 = tb.digitizer_signal_description(run, 'FastADC2')
    run = tb.open_run(pp.proposal, pp.run)
    signals = tb.digitizer_signal_description(run)
    assert signals["FastADC"]["FastADC5"] == "PP laser photodiode"
    assert set(signals["ADQ412"]) == {"MCP1", "MCP2", "MCP3", "MCP4"}
    assert tb.digitizer_signal_description(run, "FastADC2") == {}  # no such board here


def test_dssc_bins_example(pp):
    # >>> run = tb.open_run(2212, 235, include='*DA*')
    # >>> bins_trainId = tb.get_array(run, 'PP800_PhaseShifter', 0.04)
    # >>> binner_train = tb.create_dssc_bins("trainId", run.trainIds, bins_trainId.values)
    run = tb.open_run(pp.proposal, pp.run, include="*DA*")
    bins_trainId = tb.get_array(run, "PP800_PhaseShifter", 0.04)
    assert np.all(np.abs(bins_trainId.values) < 0.02)  # injected: 0 ps, 1e-4 noise
    binner_train = tb.create_dssc_bins("trainId", run.train_ids, bins_trainId.values)
    assert binner_train.sizes["trainId"] == 16


def test_load_examples(pp):
    # >>> run, ds = tb.load(2212, 213, 'SCS_SA3')
    run, ds = tb.load(pp.proposal, pp.run, "SCS_SA3")
    assert ds["SCS_SA3"].sizes["sa3_pId"] == len(pp.truth["pattern"]["sase3_pulse_ids"][0])
    # >>> run, data = tb.load(2212, 208, ['SCS_SA3', 'MCP2apd', 'nrj'])
    run, data = tb.load(pp.proposal, pp.run, ["SCS_SA3", "MCP2apd", "nrj"])
    assert {"SCS_SA3", "MCP2peaks", "nrj"} <= set(data)
    assert float(data["nrj"].mean()) == pytest.approx(pp.truth["readback"]["nrj"][0], abs=0.05)


def test_get_xgm_and_calibrate_example(simulated):
    # >>> run, data = tb.load(900074, 69, ['SCS_XGM'])
    # >>> ds = tbdet.get_xgm(run, merge_with=data)
    # >>> F = tbdet.calibrate_xgm(run, ds, plot=True)
    res = simulated("xgm_calibration", trains=30, seed=5)
    run, data = tb.load(res.proposal, res.run, ["SCS_XGM"])
    ds = tbdet.get_xgm(run, merge_with=data)
    F = tbdet.calibrate_xgm(run, ds, plot=True)
    assert F == pytest.approx(2.5, rel=0.01)


def test_mnemonics_for_run_example(pp):
    # >>> tb.mnemonics_for_run(2212, 213)
    found = tb.mnemonics_for_run(pp.proposal, pp.run)
    assert {"SCS_SA3", "MCP2raw", "BAM1932S", "nrj", "FastADC5raw"} <= set(found)
    assert found["SCS_SA3"]["source"] == "SCS_BLU_XGM/XGM/DOOCS:output"
