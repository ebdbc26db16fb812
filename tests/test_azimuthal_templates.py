"""The azimuthal how-to templates run headless on runs simulated as their metadata says
(``scs_nb.sim.inputs``, the sizes of ``scs-nb run T --simulate``); their recorded results
agree with the ground truth (``scs_nb.sim.checks.check_records``, tolerances from the
recorded fit errors)."""

import pytest

from scs_nb.batch.templates import find_template
from scs_nb.sim.inputs import simulate_inputs

PROPOSAL = 900002
pytestmark = pytest.mark.usefixtures("private_cache")


def _run(run_template, data_root, tmp_path, name, **params):
    params = dict(proposal=PROPOSAL, **params)
    simulate_inputs(name, params, data_root=data_root, progress=lambda *a: None)
    out = run_template(name, tmp_path, **params)
    assert out.rows, "no comparison with the ground truth"
    bad = [r for r in out.rows if r[-1] != "yes"]
    assert not bad, bad
    return out


def test_azimuthal_integration_template(data_root, tmp_path, run_template):
    out = _run(
        run_template, data_root, tmp_path, "dssc_azimuthal_integration", run=501, dark_run=502
    )
    assert out[1] >= 3
    assert len(out.rows) == 2  # both rings found and compared


def test_time_delay_template(data_root, tmp_path, run_template):
    out = _run(
        run_template,
        data_root,
        tmp_path,
        "dssc_scattering_time_delay",
        run=503,
        dark_run=504,
        path=str(tmp_path / "binned"),
    )
    assert out[1] >= 3
    assert len(out.rows) == 4  # drop depth and recovery time of both rings


def test_fine_delay_template(data_root, tmp_path, run_template):
    out = _run(
        run_template,
        data_root,
        tmp_path,
        "dssc_fine_delay",
        run=510,
        dark_run=509,
        runs=list(range(510, 517)),
    )
    assert out[1] >= 2 and len(out.rows) == 1


def test_create_geometry_template(data_root, tmp_path, run_template):
    out = _run(run_template, data_root, tmp_path, "dssc_create_geometry", run=520, dark_run=521)
    assert out[1] >= 2 and len(out.rows) == 1
    assert "read back by extra_geom, same pixel positions: True" in out[0]
    assert (tmp_path / "dssc_geometry_refined.h5").exists()


@pytest.mark.parametrize(
    "name",
    [
        "dssc_azimuthal_integration",
        "dssc_scattering_time_delay",
        "dssc_fine_delay",
        "dssc_create_geometry",
    ],
)
def test_parameters_cell(name):
    t = find_template(name)
    assert t.notebook().cells[1].metadata.get("tags") == ["parameters"]
    assert {"proposal", "run", "dark_run"} <= set(t.parameters())
    assert "scenario" not in t.parameters()
