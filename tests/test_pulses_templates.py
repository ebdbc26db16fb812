"""The pulse how-to templates run headless (papermill, kernel python3) on
their scenarios and print the recovered-vs-injected checks."""

from pathlib import Path

import nbformat
import pytest

import scs_nb

TEMPLATES = Path(scs_nb.__file__).resolve().parent.parent / "templates"
CASES = {
    "load_run_data": ("pump_probe", "SCS_SA3 equals the injected pulse energies: True"),
    "bunch_pattern": ("pattern_change", "pulse ids per train equal the injected ones: True"),
    "digitizer_peaks": ("pump_probe", "rms relative error vs injected peaks"),
    "point_detectors": ("pump_probe", "XGM calibration factor F = 1.0000"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_template_headless(name, simulated, tmp_path):
    import papermill

    scenario, expected = CASES[name]
    res = simulated(scenario, trains=40)
    out = tmp_path / f"{name}.ipynb"
    papermill.execute_notebook(
        str(TEMPLATES / f"{name}.ipynb"),
        str(out),
        parameters={"proposal": res.proposal, "run": res.run, "scenario": ""},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    nb = nbformat.read(str(out), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    images = sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    )
    assert expected in text
    assert images >= 1
    if name == "digitizer_peaks":
        err = float(text.split("rms relative error vs injected peaks ")[1].split("%")[0])
        assert err < 1.0


def test_templates_have_a_parameters_cell():
    from scs_nb.batch.params import notebook_parameters

    for name in CASES:
        nb = nbformat.read(str(TEMPLATES / f"{name}.ipynb"), as_version=4)
        assert nb.cells[1].metadata.get("tags") == ["parameters"]
        params = notebook_parameters(nb)
        assert {"proposal", "run", "scenario"} <= set(params)
