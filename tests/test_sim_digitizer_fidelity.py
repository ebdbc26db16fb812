"""Simulated devices as the real ones, checked with the ToolBox's own client calls:
the pipeline copy of the bunch pattern table (written with ``extra_mnemonics``) is the
run's pattern as uint32, so ``extractBunchPattern(key='sase3', runDir=run)`` decodes
the injected pulses on a run whose pattern changes; the PES digitizer has the real
sampling (440 samples per 4.5 MHz slot) and a trace long enough for the seed's example
``get_pes_tof(..., 'PES_2Araw', start=2557, origin=76)``, whose spectra hold the
injected peaks."""

import numpy as np
import pytest
from extra_data import RunDirectory

import scs_nb as tb
from scs_nb.facility import ADQ412_SAMPLES_PER_SLOT
from scs_nb.facility import sources as S


def test_extract_bunch_pattern_with_every_table_device(simulated):
    # the pipeline copy of the table is what `extra_mnemonics=all` adds for the timeserver
    res = simulated("pattern_change", trains=12, extra_mnemonics="bunchPatternTable")
    run = RunDirectory(str(res.run_dir))
    kd = run[S.TIMESERVER_PIPELINE, "data.bunchPatternTable"]
    assert kd.dtype == np.uint32
    assert kd.entry_shape == run[S.TIMESERVER, "bunchPatternTable.value"].entry_shape
    ids, npulses, matched = tb.extractBunchPattern(key="sase3", runDir=run)
    truth = res.truth["pattern"]["sase3_pulse_ids"]
    assert len({tuple(t) for t in truth if t}) == 2  # the pattern does change
    assert np.array_equal(npulses.values, [len(t) for t in truth])
    for row, n, t in zip(ids.values, npulses.values, truth):
        assert list(row[:n]) == list(t)


def test_seed_pes_example_on_a_simulated_run(simulated):
    res = simulated("pes", trains=8)
    t = res.truth["pes"]
    assert (t["start"], t["origin"], t["width"]) == (2557, 76, ADQ412_SAMPLES_PER_SLOT)
    pes = tb.get_pes_tof(res.proposal, res.run, "PES_2Araw", start=2557, origin=76)
    assert pes.sizes["sampleId"] == 440
    assert pes.sa3_pId.values.tolist() == res.truth["pattern"]["sase3_pulse_ids"][0]
    # the injected peaks sit where the truth puts them (samples after the spectrum start)
    avg = -pes.mean(("trainId", "sa3_pId")).values
    for p, a in zip(t["peaks"]["2A"]["position"], t["peaks"]["2A"]["amplitude"]):
        k = int(round(p))
        assert avg[k] > 0.5 * a * np.mean(res.truth["xgm"]["SCS"]["true_sa3_energy_uJ"][0]) / 500
    # time_ns from the prompt: 0 at sample 76, 1 / 1.98 GS/s per sample
    assert float(pes.time_ns[76]) == pytest.approx(0.0)
    assert float(pes.time_ns[1] - pes.time_ns[0]) == pytest.approx(
        1e9 / (ADQ412_SAMPLES_PER_SLOT * 4.5e6), rel=1e-2
    )


def test_pes_traces_of_extra_mnemonics_fit_the_example(simulated):
    res = simulated("basic", trains=3, extra_mnemonics="PES_2Araw")
    pes = tb.get_pes_tof(res.proposal, res.run, "PES_2Araw", start=2557, origin=76)
    assert pes.sizes["sa3_pId"] == len(res.truth["pattern"]["sase3_pulse_ids"][0])
