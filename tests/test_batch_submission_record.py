"""The SLURM submission record and job scripts under concurrency and damage: parallel
submissions keep every entry and every script; ``--over`` values that would share an
output folder are refused; a damaged ``submissions.json`` or batch state is kept aside
and said, never a TypeError/KeyError traceback."""

import json
import multiprocessing
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from scs_nb import cli
from scs_nb.batch import slurm
from scs_nb.batch.params import ParameterError
from scs_nb.batch.slurm import build_scripts, submit_scripts
from scs_nb.batch.submissions import load_records, record_submission

pytestmark = pytest.mark.usefixtures("tiny_runs")

TINY = Path(__file__).parent / "data" / "tiny_template.ipynb"


def _script(out, job_name="r0010-tiny_template", value=10):
    return SimpleNamespace(
        path=out / "x.sh",
        job_name=job_name,
        template="tiny_template",
        param="run",
        logs=out / "logs",
        base=out,
        tasks=[(value, out / f"r{value:04d}")],
        notebooks=[out / f"r{value:04d}" / f"tiny_template_r{value:04d}.ipynb"],
    )


def _record_many(folder, first, n):
    for i in range(n):
        record_submission(folder, _script(Path(folder).parent, value=first + i), str(first + i))


def test_parallel_recorders_keep_every_submission(tmp_path):
    folder = tmp_path / "slurm"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_record_many, args=(folder, k * 1000, 40)) for k in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    records = load_records(folder / "submissions.json")
    assert len(records) == 80
    assert sorted(int(r["job_id"]) for r in records) == sorted(
        [1000 + i for i in range(40)] + [2000 + i for i in range(40)]
    )


def _fake_sbatch(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    counter = tmp_path / "jobid"
    counter.write_text("100")
    sbatch = bindir / "sbatch"
    sbatch.write_text(
        f'#!/bin/sh\nn=$(cat {counter}); echo $((n+1)) > {counter}\n'
        'echo "Submitted batch job $n"\n'
    )
    sbatch.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")


def test_same_job_name_in_one_second_keeps_both_scripts(tmp_path, monkeypatch):
    _fake_sbatch(tmp_path, monkeypatch)
    # every submission in "the same second"
    monkeypatch.setattr(slurm.time, "strftime", lambda fmt, *a: "20250101-000000")
    out = tmp_path / "o"
    first = build_scripts(TINY, {"scale": 2.0}, over=("run", "10"), out=out)
    second = build_scripts(TINY, {"scale": 3.0}, over=("run", "10"), out=out)
    assert first[0].job_name == second[0].job_name
    submit_scripts(first, echo=lambda m: None)
    submit_scripts(second, echo=lambda m: None)
    assert first[0].path != second[0].path
    assert "scale=2.0" in first[0].path.read_text()
    assert "scale=3.0" in second[0].path.read_text()
    assert len(list((out / "slurm").glob("*.sh"))) == 2
    assert len(load_records(out / "slurm" / "submissions.json")) == 2


@pytest.mark.parametrize("values", ["nrj.,nrj", "X/,X", "a,a"])
def test_over_values_sharing_a_folder_refused(tmp_path, values):
    with pytest.raises(ParameterError, match="--over label"):
        build_scripts(TINY, {"run": 10}, over=("label", values), out=tmp_path)
    # distinct folder names pass
    scripts = build_scripts(TINY, {"run": 10}, over=("label", "nrj,nrj2"), out=tmp_path)
    outs = [o for _, o in scripts[0].tasks]
    assert len(set(outs)) == 2


def test_over_collision_message_from_cli(tmp_path, capsys):
    code = cli.main(
        ["submit", str(TINY), "--dry-run", "-p", "run=10", "--over", "label=X/,X"]
        + ["--out", str(tmp_path)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "give one output folder" in err and "Traceback" not in err


def _tasks_record(out):
    return {
        "job_id": "7",
        "job_name": "r0010-tiny_template",
        "template": "tiny_template",
        "param": "run",
        "logs": str(out / "logs"),
        "base": str(out),
        "script": "",
        "tasks": [
            {
                "index": 0,
                "value": 10,
                "out": str(out / "r0010"),
                "notebook": str(out / "r0010" / "tiny_template_r0010.ipynb"),
            }
        ],
    }


@pytest.mark.parametrize(
    "content",
    [
        {"not": "a list"},
        "a string",
        42,
        ["not a mapping"],
        [{"job_id": "8"}],  # no tasks, no logs
        [{"job_id": "8", "job_name": "x", "logs": "/l", "tasks": [{"index": "0"}]}],
        [{"job_id": "8", "job_name": "x", "logs": "/l", "tasks": "abc"}],
    ],
)
def test_damaged_record_kept_aside_status_and_retry(tmp_path, capsys, content, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "squeue").write_text("#!/bin/sh\n")  # SLURM knows no task any more
    (bindir / "squeue").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    out = tmp_path / "o"
    (out / "slurm").mkdir(parents=True)
    rec = out / "slurm" / "submissions.json"
    good = _tasks_record(out)
    body = [good, *content] if isinstance(content, list) else content
    rec.write_text(json.dumps(body))
    # status: no traceback; the damaged file is kept aside and said
    code = cli.main(["status", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "damaged" in err and "kept aside" in err
    aside = list((out / "slurm").glob("submissions.json.damaged-*"))
    assert len(aside) == 1 and json.loads(aside[0].read_text()) == body
    assert code in (0, 1, 2)
    # the readable entry stays in the record; a new submission is appended to it
    kept = load_records(rec)
    assert kept == ([good] if isinstance(content, list) else [])
    # --retry-failed reads the record without a traceback (task 10 has no output: failed)
    rec.write_text(json.dumps(body))
    code = cli.main(
        ["submit", str(TINY), "--retry-failed", "--dry-run", "--out", str(out), "-p", "scale=2"]
    )
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if isinstance(content, list):
        assert code == 0 and "TASK=(-p run=10" in captured.out
    assert len(list((out / "slurm").glob("submissions.json.damaged-*"))) == 2


def test_record_then_submit_keeps_damaged_record(tmp_path, capsys):
    folder = tmp_path / "slurm"
    folder.mkdir()
    (folder / "submissions.json").write_text(json.dumps({"mine": [1, 2, 3]}))
    record_submission(folder, _script(tmp_path), "9")
    assert "kept aside" in capsys.readouterr().err
    aside = list(folder.glob("submissions.json.damaged-*"))
    assert json.loads(aside[0].read_text()) == {"mine": [1, 2, 3]}
    assert [r["job_id"] for r in load_records(folder / "submissions.json")] == ["9"]


@pytest.mark.parametrize(
    "entry",
    [["done"], "done", {"message": "no status"}, {"status": "failed", "message": 5}],
)
def test_batch_state_of_wrong_shape(tmp_path, capsys, entry):
    out = tmp_path / "b"
    out.mkdir()
    spath = out / "tiny_template_batch.json"
    spath.write_text(json.dumps({"run_param": "run", "runs": {"3": entry}}))
    # status: a message, exit 2, no traceback
    assert cli.main(["status", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err and "run 3" in err and "Traceback" not in err
    # batch --retry-failed: kept aside, said, state rebuilt from the outputs (none here)
    code = cli.main(
        ["batch", str(TINY), "--runs", "3", "--retry-failed", "--out", str(out), "--jobs", "1"]
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err and "moved aside" in err
    assert code == 0
    assert len(list(out.glob("tiny_template_batch.json.damaged-*"))) == 1
