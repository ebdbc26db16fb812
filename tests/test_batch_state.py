"""The state of a batch (`<out>/<template>_batch.json` and each output's state file):
concurrent batches on one folder keep each other's runs (locked read-modify-write), a
damaged status file is moved aside and rebuilt from the outputs, a rerun with other
parameters is an error showing the difference, leftovers of killed runs are removed,
bad output locations are one-line errors, and outputs are readable by the group."""

import multiprocessing
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from scs_nb import atomic, cli
from scs_nb.batch.batch import _merge_write, failed_runs, load_status, status_path

pytestmark = pytest.mark.usefixtures("tiny_runs")

TINY = Path(__file__).parent / "data" / "tiny_template.ipynb"


def _writer(spath, first, n):
    plan = SimpleNamespace(
        template=SimpleNamespace(name="tiny_template", path=TINY),
        kernel="python3",
        run_param="run",
    )
    for run in range(first, first + n):
        _merge_write(Path(spath), plan, run, {"status": "done", "notebook": f"nb{run}"})


def test_status_updates_are_locked_read_modify_write(tmp_path):
    spath = status_path(tmp_path, "tiny_template")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(spath), 100 * i, 15)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    runs = load_status(spath)["runs"]
    assert sorted(map(int, runs)) == sorted(100 * i + k for i in range(4) for k in range(15))


def test_two_batches_on_one_folder(data_root, tmp_path):
    out = tmp_path / "out"
    # a leftover of a killed run (a process that no longer exists): removed by the next
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / "r9101").mkdir(parents=True)
    left = out / "r9101" / f".tiny_template_r9101.pid{dead.pid}@{atomic._HOST}.x.part.ipynb"
    left.write_text("{}")
    os.utime(left, (time.time() - 3600,) * 2)
    env = dict(os.environ, EXTRA_DATA_DATA_ROOT=str(data_root))
    cmd = [
        sys.executable,
        "-m",
        "scs_nb.cli",
        "batch",
        str(TINY),
        "--out",
        str(out),
        "-p",
        "trains=5",
        "--runs",
    ]
    procs = [
        subprocess.Popen(
            cmd + [r], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for r in ("9101", "9102")
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    runs = load_status(status_path(out, "tiny_template"))["runs"]
    assert {r: e["status"] for r, e in runs.items()} == {"9101": "done", "9102": "done"}
    assert not left.exists()
    assert not [p for p in out.rglob("*.part*")]


def test_damaged_status_rebuilt_and_changed_parameters(data_root, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["batch", str(TINY), "--out", str(out), "-p", "trains=5", "-p", "fail_on=[9112]"]
    assert cli.main(base + ["--runs", "9111-9112"]) == 1
    spath = status_path(out, "tiny_template")
    spath.write_text('{"runs": {"9111": {"status": "do')  # a torn write
    capsys.readouterr()
    # --retry-failed still knows the failure; the damaged file is kept aside
    assert failed_runs(str(TINY), out) == [9112]
    err = capsys.readouterr().err
    assert "cannot be read" in err and "moved aside" in err and "rebuilt" in err
    assert len(list(out.glob("tiny_template_batch.json.damaged-*"))) == 1
    assert load_status(spath)["runs"]["9112"]["status"] == "failed"
    # a rerun with other parameters: an error showing the difference, nothing runs
    nb = out / "r9111" / "tiny_template_r9111.ipynb"
    mtime = nb.stat().st_mtime_ns
    assert cli.main(base + ["--runs", "9111", "-p", "scale=2"]) == 2
    err = capsys.readouterr().err
    assert "run 9111: scale: 1.0 -> 2.0" in err and "--overwrite" in err
    assert nb.stat().st_mtime_ns == mtime
    # the same parameters: skipped as complete
    assert cli.main(base + ["--runs", "9111"]) == 0
    assert "complete output with the same parameters" in capsys.readouterr().out
    # scs-nb run into the same folder names the difference too
    assert (
        cli.main(
            [
                "run",
                str(TINY),
                "--out",
                str(out / "r9111"),
                "-p",
                "run=9111",
                "-p",
                "trains=5",
                "-p",
                "scale=3",
            ]
        )
        == 2
    )
    assert "scale: 1.0 -> 3.0" in capsys.readouterr().err
    # outputs readable by the proposal's group (umask 022 -> 0644)
    mode = 0o666 & ~atomic.umask()
    for f in (nb, spath, out / "r9111" / "tiny_template_r9111.state.json"):
        assert stat.S_IMODE(f.stat().st_mode) == mode


def test_bad_output_locations(tmp_path, capsys, monkeypatch):
    f = tmp_path / "afile"
    f.write_text("")
    assert cli.main(["batch", str(TINY), "--runs", "1", "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and "--out" in err and "Traceback" not in err
    assert cli.main(["run", str(TINY), "-p", "run=1", "--out", str(f / "sub")]) == 2
    assert "is a file" in capsys.readouterr().err
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: judge by the mode bits
        monkeypatch.setattr(atomic, "_writable", lambda p: bool(os.stat(p).st_mode & 0o200))
    assert cli.main(["run", str(TINY), "-p", "run=1", "--out", str(ro / "x")]) == 2
    err = capsys.readouterr().err
    assert "not writable" in err and str(ro) in err and "--out" in err
