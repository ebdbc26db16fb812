"""The hRIXS and Viking templates run headless (papermill, kernel python3) on
their simulated runs and print recovered-vs-injected lines within tolerance."""

import re
from pathlib import Path

import nbformat
import pytest

import scs_nb

TEMPLATES = Path(scs_nb.__file__).resolve().parent.parent / "templates"


def test_hrixs_template(simulated, tmp_path, run_template):
    # the same runs as the analysis tests (simulated once per session)
    res = simulated("hrixs_delay", trains=12)
    text, images = run_template(
        "hrixs",
        tmp_path,
        proposal=res.proposal,
        run=res.run,
        dark_run=simulated("hrixs_dark").run,
        curvature_run=simulated("hrixs_curvature").run,
        energy_run=simulated("hrixs_energy_scan").run,
    )
    assert images >= 5
    for name in ("CURVE_A", "CURVE_B", "ENERGY_SLOPE", "ENERGY_INTERCEPT"):
        sig = float(re.search(rf"{name} recovered .*\(([-+0-9.]+) sigma\)", text).group(1))
        assert abs(sig) <= 3, text
    m = re.search(
        r"pumped / unpumped: recovered ([0-9.]+) \+- ([0-9.]+), injected ([0-9.]+)", text
    )
    ratio, err, inj = map(float, m.groups())
    assert abs(ratio - inj) <= 3 * err


def test_viking_template(simulated, tmp_path, run_template):
    res = simulated("viking_sample")
    mono = [simulated("viking_mono", nrj=e).run for e in (520.0, 530.0, 540.0, 550.0, 560.0)]
    text, images = run_template(
        "viking",
        tmp_path,
        proposal=res.proposal,
        run=res.run,
        reference_run=simulated("viking_reference").run,
        dark_run=simulated("viking_dark").run,
        calibration_runs=mono,
    )
    assert images >= 3
    assert "gain x4, high capacity 0, 0.97 photoelectrons per count" in text
    assert "gain x1, high capacity 1, 17.9 photoelectrons per count" in text
    for d, e in re.findall(
        r"recovered - injected = ([-+0-9.]+) meV \(fit error ([0-9.]+) meV", text
    ):
        assert abs(float(d)) <= 3 * float(e) + 1.0
    # XAS on 32 px bins (see test_viking_analysis.test_sample_xas_within_noise)
    within = float(re.search(r"within 3 sigma: ([0-9.]+) %", text).group(1))
    zmax = float(re.search(r"max \|z\| = ([0-9.]+)", text).group(1))
    assert zmax < 4 and within >= 90, text


@pytest.mark.parametrize("name", ["hrixs", "viking"])
def test_parameters_cell(name):
    from scs_nb.batch.params import notebook_parameters

    nb = nbformat.read(str(TEMPLATES / f"{name}.ipynb"), as_version=4)
    assert nb.cells[1].metadata.get("tags") == ["parameters"]
    params = notebook_parameters(nb)
    assert {"proposal", "run", "scenario"} <= set(params)
    assert params["scenario"].default == {"hrixs": "hrixs_delay", "viking": "viking_sample"}[name]
