"""The azimuthal how-to templates run headless (papermill, kernel python3) on
their small simulated scenarios, plot, and print recovered-vs-injected lines
that are within tolerance."""

import re
from pathlib import Path

import nbformat
import pytest

import scs_nb

TEMPLATES = Path(scs_nb.__file__).resolve().parent.parent / "templates"
NAMES = [
    "dssc_azimuthal_integration",
    "dssc_scattering_time_delay",
    "dssc_fine_delay",
    "dssc_create_geometry",
]


pytestmark = pytest.mark.usefixtures("private_cache")


def _pairs(text, what):
    """(recovered, injected) floats of lines '<what> recovered X ... vs injected Y'."""
    pat = what + r" recovered ([-+\d.]+)(?: \+- [\d.]+)?(?: [^\s]+)? vs injected ([-+\d.]+)"
    return [(float(a), float(b)) for a, b in re.findall(pat, text)]


def test_azimuthal_integration_template(data_root, tmp_path, run_template):
    text, images = run_template(NAMES[0], tmp_path, proposal=900002, run=501, dark_run=502)
    assert images >= 3
    rings = _pairs(text, "ring q")
    assert len(rings) == 2 and all(abs(a - b) < 0.0032 for a, b in rings), text


def test_time_delay_template(data_root, tmp_path, run_template):
    text, images = run_template(
        NAMES[1], tmp_path, proposal=900002, run=503, dark_run=504, path=str(tmp_path / "binned")
    )
    assert images >= 3
    assert "dask tasks" in text
    depth = _pairs(text, "drop depth")
    tau = _pairs(text, "tau")
    assert len(depth) == 2 and all(abs(a - b) < 0.05 for a, b in depth), text
    assert len(tau) == 2 and all(abs(a - b) < 0.25 * b for a, b in tau), text


def test_fine_delay_template(data_root, tmp_path, run_template):
    text, images = run_template(
        NAMES[2], tmp_path, proposal=900002, run=510, dark_run=509, runs=list(range(510, 517))
    )
    assert images >= 2
    ((got, inj),) = _pairs(text, "fine delay optimum")
    assert abs(got - inj) < 1.0, text


def test_create_geometry_template(data_root, tmp_path, run_template):
    text, images = run_template(NAMES[3], tmp_path, proposal=900002, run=520, dark_run=521)
    assert images >= 2
    px = [float(x) for x in re.findall(r"mm = ([\d.]+) px", text)]
    assert len(px) == 4 and max(px) <= 0.5, text
    assert "read back by extra_geom, same pixel positions: True" in text
    assert (tmp_path / "dssc_geometry_refined.h5").exists()


def test_parameters_cells():
    from scs_nb.batch.params import notebook_parameters

    for name in NAMES:
        nb = nbformat.read(str(TEMPLATES / f"{name}.ipynb"), as_version=4)
        assert nb.cells[1].metadata.get("tags") == ["parameters"]
        assert {"proposal", "run", "scenario"} <= set(notebook_parameters(nb))
