"""EuXFEL's EXtra opens a simulated run as it opens real ones, and agrees with
scs_nb on pulse ids, XGM pulse energies, raw ADQ412 traces and samples per pulse."""

import numpy as np
import pytest

import scs_nb as tb

extra = pytest.importorskip("extra.components", reason="euxfel-extra (test extra) missing")


@pytest.fixture(scope="module")
def pump_probe(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    tb.sim.simulate("pump_probe", 900556, 1, trains=12, seed=4, data_root=root)
    return tb.run_by_path(root / "SCS" / "202622" / "p900556" / "raw" / "r0001")


def params_npulses(run):
    return len(tb.get_sase_pId(run, "sase3"))


def _per_train(series):
    return {int(t): np.asarray(g.values) for t, g in series.groupby(level=0)}


def test_pulse_ids_agree(pump_probe):
    run = pump_probe
    for sase, loc in ((3, "sase3"), (1, "sase1")):
        ours = tb.get_sase_pId(run, loc)
        theirs = _per_train(extra.XrayPulses(run, sase=sase).pulse_ids())
        assert len(theirs) == len(run.train_ids)
        for ids in theirs.values():
            np.testing.assert_array_equal(ids, ours)
    ol = _per_train(extra.OpticalLaserPulses(run).pulse_ids())
    ds = tb.get_laser_peaks(run, "FastADC5raw", bunchPattern="scs_ppl")
    ol_ids = ds["ol_pId"].values
    for ids in ol.values():
        np.testing.assert_array_equal(ids, ol_ids)


def test_xgm_pulse_energies_agree(pump_probe):
    run = pump_probe
    ours = tb.get_xgm(run, "SCS_SA3")["SCS_SA3"]
    theirs = extra.XGM(run, "SCS_BLU_XGM/XGM/DOOCS").pulse_energy(sase=3)
    assert theirs.shape == ours.shape
    np.testing.assert_allclose(np.asarray(theirs), ours.values, rtol=1e-6)


def test_adq_raw_traces_and_samples_per_pulse_agree(pump_probe):
    run = pump_probe
    # cm_period=0: the raw samples, without EXtra's common-mode correction
    adq = extra.AdqRawChannel(run, "1_C", digitizer="SCS_UTC1_ADQ/ADC/1:network", cm_period=0)
    assert not adq.interleaved and adq.clock_ratio == 440
    ours = tb.get_array(run, "MCP2raw")  # MCP2 is channel 1_C
    np.testing.assert_array_equal(np.asarray(adq.train_data()), ours.values)
    # and EXtra's pulse split puts the same samples in each pulse as scs_nb's windows
    pulses = np.asarray(adq.pulse_data(labelled=False))
    assert pulses.shape[0] == len(run.train_ids) * params_npulses(run)
    params = tb.check_peak_params(run, "MCP2raw", plot=False)
    assert adq.samples_per_pulse() == params["period"]
    assert pulses.shape[1] == params["period"]
    assert params["npulses"] == len(tb.get_sase_pId(run, "sase3"))
