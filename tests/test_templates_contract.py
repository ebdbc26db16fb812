"""The template contract: runs checked before a kernel starts, simulation only into
the simulator's own proposals, reports that say what they are, recorded results
compared with the ground truth (scs_nb.sim.checks.check_records)."""

import json
import shutil

import pytest

from scs_nb import sim
from scs_nb.batch import runner
from scs_nb.batch.templates import list_templates
from scs_nb.errors import ToolBoxPathError
from scs_nb.results import read_results
from scs_nb.sim.checks import check_records
from scs_nb.sim.inputs import simulation_plan


def test_no_template_simulates_or_reads_truth():
    for t in list_templates():
        nb = t.notebook()
        code = "".join(c.source for c in nb.cells if c.cell_type == "code")
        for bad in ("tb.sim", "scs_nb.sim", "ensure_run", "ground_truth", "scenario"):
            assert bad not in code, (t.name, bad)
        plan = simulation_plan(nb)
        assert "run" in plan or "runs" in plan, t.name


def test_missing_run_refused_before_kernel(simulated, tmp_path):
    res = simulated("knife_edge", trains=40)
    out = tmp_path / "out"
    with pytest.raises(ToolBoxPathError) as e:
        runner.run_template("knife_edge", {"proposal": res.proposal, "run": 1999}, out=out)
    msg = str(e.value)
    assert "run=1999" in msg and "runs that exist" in msg and str(res.run) in msg
    assert not out.exists()


def test_missing_dark_run_refused(simulated, tmp_path):
    res = simulated("fastccd", trains=12)
    with pytest.raises(ToolBoxPathError, match="dark_run=1998"):
        runner.prepare(
            "fastccd_binning",
            {"proposal": res.proposal, "run": res.run, "dark_run": 1998},
            out=tmp_path / "o",
        )
    assert not (tmp_path / "o").exists()


def test_simulate_refused_into_foreign_proposal(simulated, data_root):
    res = simulated("basic", trains=5)
    real = data_root / "SCS" / "202622" / "p900077" / "raw" / "r0060"
    shutil.copytree(res.run_dir, real)  # a "real" proposal: runs without the marker/truth
    with pytest.raises(ToolBoxPathError, match="did not write"):
        sim.simulate("basic", 900077, 66, data_root=data_root, trains=5)
    assert sorted(p.name for p in real.parent.iterdir()) == ["r0060"]


def test_report_header_title_banner_and_records(simulated, data_root, tmp_path):
    res = simulated("knife_edge", trains=80)
    r = runner.run_template(
        "knife_edge", {"proposal": res.proposal, "run": res.run}, out=tmp_path, progress=False
    )
    assert r.ok, r.message
    html = r.html.read_text()
    assert f"<title>knife_edge — p{res.proposal} r{res.run}</title>" in html
    assert "SIMULATED DATA" in html and "(default)" in html and "data root" in html
    records = read_results(tmp_path)
    names = {x["name"] for x in records}
    assert {"w0", "x0"} <= names
    w0 = next(x for x in records if x["name"] == "w0")
    assert w0["unit"] == "um" and w0["run"] == res.run and w0["template"] == "knife_edge"
    assert w0["parameters"]["run"] == res.run and w0["version"]
    meta = json.loads(r.notebook.read_text())["metadata"]["scs_nb"]["results"]
    assert {x["name"] for x in meta} == names
    rows = check_records(records, data_root)
    assert len(rows) == 2 and all(row[-1] == "yes" for row in rows), rows
