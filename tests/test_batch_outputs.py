"""The outputs of `scs-nb run`/`batch`, as an unlucky user meets them: a failed
--overwrite rerun does not make the old notebook pass for the new one, another template
file of the same name is not skipped, other programs' hidden `.*.part` entries survive,
a full disk leaves no file under a final name and keeps the executed notebook, and two
runs into one output cannot silently replace each other."""

import errno
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from scs_nb import atomic, cli
from scs_nb.batch import outputs, runner
from scs_nb.batch.batch import load_status, status_path

PROBE = Path(__file__).parent / "data" / "probe_template.ipynb"


def _batch(out, *args, template=PROBE):
    argv = ["batch", str(template), "--run-param", "shot", "--runs", "1", "--out", str(out)]
    return cli.main(argv + list(args))


def _signal(nb_path):
    return nbformat.read(str(nb_path), as_version=4).metadata.scs_nb["parameters"]["signal"]


def test_failed_overwrite_does_not_pass_the_old_notebook_off(tmp_path, capsys):
    out = tmp_path / "out"
    nb = out / "r0001" / "probe_template.ipynb"
    assert _batch(out, "-p", "signal=old") == 0
    # --overwrite with a value that makes a cell fail: the old notebook stays, the run fails
    assert _batch(out, "--overwrite", "-p", "signal=NOPE") == 1
    assert _signal(nb) == "old"
    assert load_status(status_path(out, "probe_template"))["runs"]["1"]["status"] == "failed"
    assert runner.read_state(nb)["parameters"]["signal"] == "old"
    capsys.readouterr()
    # the same parameters again, without --overwrite: not "skipped", the difference is named
    assert _batch(out, "-p", "signal=NOPE") == 2
    captured = capsys.readouterr()
    assert "skipped" not in captured.out
    assert "signal: 'old' -> 'NOPE'" in captured.err
    # the old parameters are still recognised as the complete output
    assert _batch(out, "-p", "signal=old") == 0
    assert "complete output with the same parameters" in capsys.readouterr().out


def test_another_template_file_of_the_same_name(tmp_path, capsys):
    out = tmp_path / "out"
    assert _batch(out) == 0
    other = tmp_path / "other" / "probe_template.ipynb"
    other.parent.mkdir()
    text = PROBE.read_text().replace('print(\\"signal\\"', 'print(\\"SIGNAL\\"')
    assert text != PROBE.read_text()
    other.write_text(text)
    capsys.readouterr()
    assert _batch(out, template=other) == 2
    err = capsys.readouterr().err
    assert "template:" in err and "other content" in err and str(other) in err
    # the same content at another path is the same template: skipped
    same = tmp_path / "copy" / "probe_template.ipynb"
    same.parent.mkdir()
    shutil.copy(PROBE, same)
    assert _batch(out, template=same) == 0
    assert "complete output with the same parameters" in capsys.readouterr().out
    # `scs-nb run` names the other template too
    assert (
        cli.main(["run", str(other), "-p", "shot=1", "--out", str(out / "r0001"), "--no-progress"])
        == 2
    )
    assert "other content" in capsys.readouterr().err


def test_foreign_part_entries_survive(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    old = time.time() - 3600
    thesis = out / ".thesis-draft.part"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("years of work")
    video = out / ".video.mkv.part"
    video.write_text("half a download")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ours = [
        out / f".probe_template.pid{dead.pid}@{atomic._HOST}.abcd1234.part.ipynb",
        out / f".probe_template.html.pid{dead.pid}@{atomic._HOST}.abcd1234.part",
    ]
    for p in ours:
        p.write_text("{}")
    for p in [thesis, thesis / "chapter1.tex", video, *ours]:
        os.utime(p, (old, old))
    argv = ["run", str(PROBE), "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert (thesis / "chapter1.tex").read_text() == "years of work"
    assert video.read_text() == "half a download"
    assert not any(p.exists() for p in ours)  # scs_nb's own leftovers of a dead process
    assert cli.main(argv + ["--overwrite"]) == 0  # also in the batch's cleaning
    assert _batch(tmp_path / "b", "--jobs", "1") == 0
    assert thesis.is_dir() and video.is_file()


def _no_space(when):
    """A writer that fails like a full disk for the files ``when(final name)`` picks."""
    real = outputs._write_text

    def write(tmp, text):
        if when(Path(tmp).name):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(tmp, text)

    return write


def test_disk_full_while_writing_outputs(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    argv = ["run", str(PROBE), "-p", "signal=full", "--out", str(out), "--no-progress"]
    nb, html = out / "probe_template.ipynb", out / "probe_template.html"
    # the HTML fits, the notebook does not (the old order left an orphan HTML)
    monkeypatch.setattr(
        outputs, "_write_text", _no_space(lambda name: name.startswith(".probe_template.ipynb"))
    )
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "no space left" in err and str(nb) in err and "Traceback" not in err
    assert not nb.exists() and not html.exists()  # nothing under a final name
    failed = out / "probe_template.failed.ipynb"
    assert "signal full shot 1" in failed.read_text()  # the executed notebook is kept
    assert str(failed) in err
    assert not [p for p in out.iterdir() if p.name.endswith(".part") or ".part." in p.name]
    state = json.loads((out / "probe_template.state.json").read_text())
    assert state["status"] == "failed" and "no space left" in state["message"]
    # nothing can be written at all: the executed notebook is still kept (a rename)
    failed.unlink()
    monkeypatch.setattr(outputs, "_write_text", _no_space(lambda name: True))
    assert cli.main(argv) == 1
    assert "no space left" in capsys.readouterr().err
    assert "signal full shot 1" in failed.read_text()
    assert not nb.exists() and not html.exists()
    # space again: the identical rerun does not refuse, and the .failed copy goes
    monkeypatch.undo()
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert nb.is_file() and html.is_file() and not failed.exists()


def test_disk_full_in_a_batch_is_a_failed_run(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(outputs, "_write_text", _no_space(lambda name: name.endswith(".part")))
    assert _batch(out) == 1
    entry = load_status(status_path(out, "probe_template"))["runs"]["1"]
    assert entry["status"] == "failed" and "no space left" in entry["message"]
    monkeypatch.undo()
    assert _batch(out, "--retry-failed") == 0
    assert (out / "r0001" / "probe_template.ipynb").is_file()


def test_output_being_written_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    # another execution holds the output (the lock it takes while its kernel runs)
    fd = os.open(out / ".probe_template.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        argv = ["run", str(PROBE), "--out", str(out), "--no-progress", "--overwrite"]
        assert cli.main(argv) == 2
        assert "being written by another execution" in capsys.readouterr().err
        assert not (out / "started_1.pid").exists()  # no kernel started
    finally:
        os.close(fd)


def test_two_runs_into_one_output(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scs_nb.cli", "run", str(PROBE), "--out", str(out)]
    cmd += ["--no-progress", "-p", "sleep=3"]
    procs = [
        subprocess.Popen(
            cmd + ["-p", f"signal={s}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for s in ("first", "second")
    ]
    results = [(p.wait(180), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    winner = ("first", "second")[[c for c, _ in results].index(0)]
    loser_err = next(err for code, err in results if code == 2)
    assert "another execution" in loser_err or "already exists" in loser_err, loser_err
    assert _signal(out / "probe_template.ipynb") == winner
    assert json.loads((out / "probe_template.state.json").read_text())["status"] == "done"
