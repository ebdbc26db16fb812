"""Bunch pattern decoding: pulse ids per train equal the injected ones,
including across a mid-run pattern change and without the table."""

import numpy as np
import pytest
import xarray as xr
from extra_data import RunDirectory

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError
from scs_nb.pulses import bunch_pattern as bp
from scs_nb.reader import read_loose as load_array


def _same(per_train, truth):
    return all(np.array_equal(a, b) for a, b in zip(per_train, truth))


@pytest.mark.parametrize("scenario", ["basic", "pattern_change", "pump_probe"])
def test_pulse_ids_equal_injected(simulated, scenario):
    res = simulated(scenario, trains=40)
    run = RunDirectory(str(res.run_dir))
    pat = res.truth["pattern"]
    for loc, key in (
        ("sase3", "sase3_pulse_ids"),
        ("sase1", "sase1_pulse_ids"),
        ("scs_ppl", "ppl_pulse_ids"),
    ):
        p = bp.pulse_ids(run, loc)
        assert p.source == "bunchPatternTable"
        assert p.dim == bp.PULSE_DIMS[loc]
        assert _same(p.per_train(), pat[key])
        union = np.unique(np.concatenate([np.asarray(x, int) for x in pat[key]] + [[]]))
        assert np.array_equal(tb.get_sase_pId(run, loc), union.astype(int))
    changed = len(set(pat["npulses_sase3"])) > 1
    assert tb.npulses_has_changed(run, "sase3") == changed


def test_decoder_fallback_without_table(simulated):
    res = simulated("pattern_change", trains=40)
    run = RunDirectory(str(res.run_dir)).deselect("SCS_RR_UTC/TSYS/TIMESERVER*")
    p = bp.pulse_ids(run, "sase3")
    assert p.source == "bunch decoder"
    assert _same(p.per_train(), res.truth["pattern"]["sase3_pulse_ids"])


def test_extract_bunch_pattern_and_rep_rate(simulated):
    res = simulated("pump_probe", trains=40)
    run = RunDirectory(str(res.run_dir))
    ids, npulses, matched = tb.extractBunchPattern(runDir=run, key="sase3")
    truth = res.truth["pattern"]["sase3_pulse_ids"]
    assert np.array_equal(npulses.values, [len(x) for x in truth])
    assert np.array_equal(ids.values[0, : len(truth[0])], truth[0])
    assert matched.dims == ("trainId", "pulse_slot") and int(matched[0].sum()) == len(truth[0])
    dec = xr.Dataset(
        {k: load_array(run, k) for k in ("sase1", "sase3", "npulses_sase1", "npulses_sase3")}
    )
    assert tb.repRate(dec, key="sase3") == pytest.approx(4500 / 24)
    assert tb.repRate(dec, key="sase1") == pytest.approx(4500 / 4)
    info = tb.pulsePatternInfo(dec)
    assert info["sase3"]["npulses_max"] == 20 and info["first"] == "SASE1"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tb.pulsePatternInfo(dec, plot=True)  # one row per source: rows named, axis labelled
    ax = plt.gca()
    assert ax.get_ylabel() == "pulse source"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["SASE1", "SASE3"]
    plt.close("all")


def test_wrappers_on_synthetic_table():
    import euxfel_bunch_pattern as ebp

    t = np.zeros(2700, np.uint32)
    t[10] = ebp.DESTINATION_T4D | ebp.PHOTON_LINE_DEFLECTION | 1
    t[20] = ebp.DESTINATION_T4D | 1
    t[30] = ebp.LASER_SEED6
    assert np.flatnonzero(tb.is_sase_3(t)).tolist() == [10]
    assert np.flatnonzero(tb.is_sase_1(t)).tolist() == [20]
    assert np.flatnonzero(tb.is_ppl(t)).tolist() == [30]
    assert np.flatnonzero(tb.is_pulse_at(t, "scs_ppl")).tolist() == [30]
    with pytest.raises(ToolBoxValueError, match="sase3"):
        tb.is_pulse_at(t, "sase7")


def test_missing_pattern_is_a_helpful_error(simulated):
    res = simulated("basic", trains=40)
    run = RunDirectory(str(res.run_dir)).deselect("SCS_RR_UTC*")
    with pytest.raises(ToolBoxValueError, match="indices"):
        bp.pulse_ids(run, "sase3")
    assert tb.get_sase_pId(run) is None
    assert tb.npulses_has_changed(run) is True
