"""`scs-nb batch`: one output per run, status table and file, retry of failures, skips."""

import json
from pathlib import Path

import pytest

from scs_nb import cli

pytestmark = pytest.mark.usefixtures("tiny_runs")

TINY = Path(__file__).parent / "data" / "tiny_template.ipynb"


def test_batch_with_failure_and_retry(data_root, tmp_path, capsys):
    out = tmp_path / "batch"
    common = ["batch", str(TINY), "--out", str(out), "-p", "trains=10"]
    code = cli.main(common + ["--runs", "9051-9053", "-p", "fail_on=9052", "--jobs", "2"])
    assert code == 1
    captured = capsys.readouterr()
    table = captured.out
    assert "2 done, 1 failed, 0 skipped" in table
    assert "--retry-failed" in captured.err
    status = json.loads((out / "tiny_template_batch.json").read_text())
    assert {r: e["status"] for r, e in status["runs"].items()} == {
        "9051": "done",
        "9052": "failed",
        "9053": "done",
    }
    assert "run 9052 fails on purpose" in status["runs"]["9052"]["message"]
    for run in (9051, 9053):
        assert (out / f"r{run:04d}" / f"tiny_template_r{run:04d}.ipynb").is_file()

    # retry only the failure (now without the parameter that made it fail)
    assert cli.main(common + ["--retry-failed"]) == 0
    table = capsys.readouterr().out
    assert "1 done, 0 failed, 0 skipped" in table
    assert (out / "r9052" / "tiny_template_r9052.ipynb").is_file()
    assert not (out / "r9052" / "tiny_template_r9052.failed.ipynb").exists()
    status = json.loads((out / "tiny_template_batch.json").read_text())
    assert all(e["status"] == "done" for e in status["runs"].values())

    # complete outputs are skipped unless --overwrite; those made with other parameters
    # (fail_on) are an error naming the difference, so no output is silently stale
    assert cli.main(common + ["--runs", "9051-9053"]) == 2
    err = capsys.readouterr().err
    assert "run 9051: fail_on: [9052] -> []" in err and "9052:" not in err
    assert cli.main(common + ["--runs", "9051-9053", "-p", "fail_on=9052"]) == 2
    assert cli.main(common + ["--runs", "9052"]) == 0
    assert "0 done, 0 failed, 1 skipped" in capsys.readouterr().out
    assert cli.main(common + ["--retry-failed"]) == 0
    assert "no failed runs" in capsys.readouterr().out


def test_batch_validates_every_run_first(data_root, tmp_path, capsys):
    code = cli.main(
        ["batch", str(TINY), "--out", str(tmp_path), "--runs", "1-3", "-p", "trains=many"]
    )
    assert code == 2 and "'trains'" in capsys.readouterr().err
    assert (
        cli.main(["batch", str(TINY), "--out", str(tmp_path), "--runs", "1-3", "-p", "run=4"]) == 2
    )
    assert "--runs" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
