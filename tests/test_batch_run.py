"""A template run headless end to end: notebook + HTML report, failing cells, batches."""

import json
from pathlib import Path

import nbformat
import pytest

from scs_nb import cli

pytestmark = pytest.mark.usefixtures("tiny_runs")

TINY = Path(__file__).parent / "data" / "tiny_template.ipynb"


def test_run_writes_notebook_and_report(data_root, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli.main(
        ["run", str(TINY), "-p", "run=9041", "-p", "scale=2", "-p", "trains=12", "--no-progress"]
    )
    assert code == 0, capsys.readouterr().err
    out = tmp_path / "processed_runs" / "tiny_template" / "r9041"  # the default folder
    nb_path, html_path = out / "tiny_template_r9041.ipynb", out / "tiny_template_r9041.html"
    assert nb_path.is_file() and html_path.is_file()
    assert not list(out.glob(".*part*"))  # no temporary left over
    nb = nbformat.read(str(nb_path), as_version=4)
    assert nb.metadata.kernelspec["name"] == "python3"
    assert nb.metadata.scs_nb["parameters"]["run"] == 9041
    # the analysis ran in the output folder, on the simulated run (12 trains, scaled)
    result = json.loads((out / "result.json").read_text())
    assert result == {
        "label": "tiny",
        "run": 9041,
        "ntrains": 24.0,
        "scs_nb_file": result["scs_nb_file"],
    }
    html = html_path.read_text()
    assert "&#39;ntrains&#39;: 24.0" in html or "'ntrains': 24.0" in html
    assert "import json" not in html and "ensure_run" not in html  # --no-input style
    # outputs are never silently overwritten
    assert cli.main(["run", str(TINY), "-p", "run=9041", "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_failing_cell_is_reported(data_root, tmp_path, capsys):
    code = cli.main(
        [
            "run",
            str(TINY),
            "-p",
            "run=9042",
            "-p",
            "fail_on=[9042]",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "cell 3 of tiny_template" in err and "RuntimeError: run 9042 fails on purpose" in err
    assert (tmp_path / "tiny_template_r9042.failed.ipynb").is_file()
    assert (tmp_path / "tiny_template_r9042.failed.html").is_file()
    assert not (tmp_path / "tiny_template_r9042.ipynb").exists()
