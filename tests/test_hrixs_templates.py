"""The hRIXS and Viking templates run headless on their simulated runs; their recorded
results agree with the ground truth (``scs_nb.sim.checks.check_records``): the curvature
and energy calibration within a few fit errors, the pumped/unpumped window ratio within a
few of its errors, the Viking energy calibration and photoelectrons per count."""

import pytest

from scs_nb.batch.templates import find_template


def _ok(out, names, nrows):
    assert names <= {r["name"] for r in out.records}
    assert len(out.rows) == nrows, out.rows
    bad = [r for r in out.rows if r[-1] != "yes"]
    assert not bad, bad


def test_hrixs_template(simulated, tmp_path, run_template):
    # the same runs as the analysis tests (simulated once per session)
    res = simulated("hrixs_delay", trains=12)
    out = run_template(
        "hrixs",
        tmp_path,
        proposal=res.proposal,
        run=res.run,
        dark_run=simulated("hrixs_dark").run,
        curvature_run=simulated("hrixs_curvature").run,
        energy_run=simulated("hrixs_energy_scan").run,
    )
    assert out[1] >= 5
    names = {"CURVE_A", "CURVE_B", "ENERGY_SLOPE", "ENERGY_INTERCEPT", "feature_ratio"}
    _ok(out, names, 5)


def test_viking_template(simulated, tmp_path, run_template):
    res = simulated("viking_sample")
    mono = [simulated("viking_mono", nrj=e).run for e in (520.0, 530.0, 540.0, 550.0, 560.0)]
    out = run_template(
        "viking",
        tmp_path,
        proposal=res.proposal,
        run=res.run,
        reference_run=simulated("viking_reference").run,
        dark_run=simulated("viking_dark").run,
        calibration_runs=mono,
    )
    assert out[1] >= 3
    _ok(out, {"ENERGY_CALIB", "photoelectrons_per_count", "absorption_max"}, 4)


@pytest.mark.parametrize("name", ["hrixs", "viking"])
def test_parameters_cell(name):
    t = find_template(name)
    assert t.notebook().cells[1].metadata.get("tags") == ["parameters"]
    params = t.parameters()
    assert {"proposal", "run", "dark_run"} <= set(params) and "scenario" not in params
