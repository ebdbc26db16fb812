"""The how-to templates (knife-edge, reflectivity, XAS/XMCD, PES, FastCCD)
run headless (papermill, kernel python3) on their scenarios and print the
recovered-vs-injected lines."""

import re
from pathlib import Path

import nbformat
import pytest

import scs_nb

TEMPLATES = Path(scs_nb.__file__).resolve().parent.parent / "templates"
CASES = {
    "knife_edge": (
        "knife_edge",
        {},
        r"w0: recovered ([\d.]+) ± ([\d.]+) µm, injected ([\d.]+) µm",
    ),
    "reflectivity": (
        "reflectivity",
        {},
        r"t0: recovered ([-\d.]+) ± ([\d.]+) ps, injected ([-\d.]+) ps",
    ),
    "xas_xmcd": (
        "xas_xmcd",
        {},
        r"XMCD amplitude: recovered ([-\d.]+) ± ([\d.]+) at [\d.]+ eV, "
        r"injected ([-\d.]+)",
    ),
    "pes_basic": ("pes", {}, None),
    "fastccd_binning": ("fastccd", {}, None),
}


def _outputs(path):
    nb = nbformat.read(str(path), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    images = sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    )
    return text, images


@pytest.mark.parametrize("name", sorted(CASES))
def test_template_headless(name, simulated, tmp_path):
    import papermill

    scenario, kw, pattern = CASES[name]
    res = simulated(scenario, **kw)
    out = tmp_path / f"{name}.ipynb"
    params = {"proposal": res.proposal, "run": res.run, "scenario": ""}
    if name == "fastccd_binning":
        params.update(dark_run=simulated("fccd_dark").run, dark_scenario="")
    if name == "pes_basic":  # where the simulated digitizer's spectra start (its truth)
        params.update(start=res.truth["pes"]["start"], origin=res.truth["pes"]["origin"])
    papermill.execute_notebook(
        str(TEMPLATES / f"{name}.ipynb"),
        str(out),
        parameters=params,
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    text, images = _outputs(out)
    assert images >= 2
    if name == "fastccd_binning":
        m = re.search(
            r"ring position: recovered ([\d.]+) 1/nm, injected ([\d.]+) 1/nm "
            r"\(radial bin ([\d.]+)",
            text,
        )
        got, inj, dq = (float(v) for v in m.groups())
        assert abs(got - inj) < dq
        dev = float(re.search(r"largest deviation from injected ([\d.]+)", text).group(1))
        assert dev < 0.02
        return
    if name == "pes_basic":
        dev = float(re.search(r"largest deviation ([\d.]+) samples", text).group(1))
        assert dev < 1.0
        return
    m = re.search(pattern, text)
    assert m, text[-2000:]
    got, err, inj = (float(v) for v in m.groups())
    assert abs(got - inj) < 4 * err + 1e-9, m.group(0)


def test_templates_have_a_parameters_cell():
    from scs_nb.batch.params import notebook_parameters

    for name in CASES:
        nb = nbformat.read(str(TEMPLATES / f"{name}.ipynb"), as_version=4)
        assert nb.cells[1].metadata.get("tags") == ["parameters"]
        params = notebook_parameters(nb)
        assert {"proposal", "run", "scenario"} <= set(params)
        assert params["scenario"].default == CASES[name][0]
