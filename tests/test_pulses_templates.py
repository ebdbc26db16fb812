"""The pulse how-to templates run headless on their scenarios; their recorded results
agree with the ground truth (``scs_nb.sim.checks.check_records``): trains and XGM pulse
energies loaded, the pulse ids across a pattern change, digitizer peak integrals, the
XGM calibration factor and the BAM arrival time."""

import pytest

from scs_nb.batch.templates import find_template

CASES = {
    "load_run_data": ("pump_probe", {"trains", "SCS_SA3_mean", "SCS_SA3_pulses"}, 3),
    "bunch_pattern": ("pattern_change", {"pulse_ids", "npulses_changed"}, 3),
    "digitizer_peaks": ("pump_probe", {"MCP2peaks_mean", "npulses"}, 1),
    "point_detectors": ("pump_probe", {"xgm_factor", "bam_mean", "pumped_pulses"}, 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_template_records_recover_truth(name, simulated, tmp_path, run_template):
    scenario, names, nrows = CASES[name]
    res = simulated(scenario, trains=40)
    out = run_template(name, tmp_path, proposal=res.proposal, run=res.run)
    assert out[1] >= 1
    assert names <= {r["name"] for r in out.records}
    assert len(out.rows) == nrows, out.rows
    bad = [r for r in out.rows if r[-1] != "yes"]
    assert not bad, bad


@pytest.mark.parametrize("name", sorted(CASES))
def test_templates_have_a_parameters_cell(name):
    t = find_template(name)
    assert t.notebook().cells[1].metadata.get("tags") == ["parameters"]
    params = t.parameters()
    assert {"proposal", "run"} <= set(params) and "scenario" not in params
