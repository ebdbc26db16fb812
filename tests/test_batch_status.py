"""`scs-nb status OUT` without a cluster: task states from a stand-in squeue and the
outputs on disk; a batch folder's table; exit code 1 while any task failed."""

import json
import os

from scs_nb import cli


def _record(out, job="7"):
    tasks = []
    for i, run in enumerate((10, 11, 12, 13)):
        d = out / f"r{run:04d}"
        tasks.append(
            {
                "index": i,
                "value": run,
                "out": str(d),
                "notebook": str(d / f"tiny_r{run:04d}.ipynb"),
            }
        )
    (out / "slurm").mkdir(parents=True)
    (out / "slurm" / "submissions.json").write_text(
        json.dumps(
            [
                {
                    "job_id": job,
                    "job_name": "r0010-0013-tiny",
                    "template": "tiny",
                    "param": "run",
                    "logs": str(out / "logs"),
                    "base": str(out),
                    "script": "",
                    "tasks": tasks,
                }
            ]
        )
    )


def test_states_from_squeue_and_outputs(tmp_path, capsys, monkeypatch):
    out = tmp_path / "o"
    _record(out)
    (out / "r0010").mkdir()
    (out / "r0010" / "tiny_r0010.ipynb").write_text("{}")
    (out / "r0010" / "tiny_r0010.html").write_text("")
    (out / "r0011").mkdir()
    (out / "r0011" / "tiny_r0011.failed.ipynb").write_text("{}")
    (out / "r0011" / "tiny_r0011.failed.html").write_text("")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    squeue = bindir / "squeue"
    squeue.write_text('#!/bin/sh\necho "7_12 RUNNING"\n')  # run 13 (task 3): gone
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    assert cli.main(["status", str(out)]) == 1
    table = capsys.readouterr().out
    lines = {ln.split()[0]: ln.split()[2] for ln in table.splitlines()[1:5]}
    assert lines == {
        "run=10": "done",
        "run=11": "failed",
        "run=12": "failed",
        "run=13": "failed",
    }, table
    assert f"run=11: {out}/r0011/tiny_r0011.failed.html" in table
    assert f"{out}/logs/7_3-r0010-0013-tiny.out" in table  # the task that died
    # the same tasks queued: pending / running
    squeue.write_text('#!/bin/sh\necho "7_2 RUNNING"\necho "7_3 PENDING"\n')
    assert cli.main(["status", str(out)]) == 1  # run 11 still failed
    table = capsys.readouterr().out
    assert "run=12  7_2  running" in table and "run=13  7_3  pending" in table


def test_batch_folder(tmp_path, capsys):
    out = tmp_path / "b"
    out.mkdir()
    (out / "x.failed.html").write_text("")
    (out / "tiny_batch.json").write_text(
        json.dumps(
            {
                "run_param": "run",
                "runs": {
                    "1": {"status": "done", "notebook": str(out / "x.ipynb")},
                    "2": {
                        "status": "failed",
                        "message": "cell 3 failed",
                        "notebook": str(out / "x.failed.ipynb"),
                    },
                },
            }
        )
    )
    assert cli.main(["status", str(out)]) == 1
    assert f"failed 2: {out}/x.failed.html" in capsys.readouterr().out
    assert cli.main(["status", str(tmp_path)]) == 2  # nothing recorded there
    assert "no SLURM submission" in capsys.readouterr().err
