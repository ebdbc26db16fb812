"""Ctrl-C on `scs-nb batch` while notebooks run: the kernels are stopped, the runs in
flight recorded as interrupted (not done), the process exits 130 within seconds, and a
rerun redoes them."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from scs_nb import cli
from scs_nb.batch.batch import load_status, status_path

PROBE = Path(__file__).parent / "data" / "probe_template.ipynb"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed kernel may linger as a zombie until its parent reaps it
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_ctrl_c_stops_kernels_and_records_interrupted(tmp_path, capsys):
    out = tmp_path / "out"
    base = ["batch", str(PROBE), "--run-param", "shot", "--out", str(out), "--runs", "1-3"]
    cmd = [sys.executable, "-m", "scs_nb.cli"] + base + ["--jobs", "2", "-p", "sleep=600"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    markers = [out / f"r{r:04d}" / f"started_{r}.pid" for r in (1, 2)]
    t0 = time.monotonic()
    while not all(m.is_file() and m.read_text() for m in markers):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < 120, "the notebooks did not start"
        time.sleep(0.2)
    kernels = [int(m.read_text()) for m in markers]
    assert all(_alive(pid) for pid in kernels)
    t1 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    took = time.monotonic() - t1
    assert proc.returncode == 130, err
    assert took < 20, f"exit took {took:.1f} s"
    assert "interrupted" in err and "Traceback" not in err
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in kernels) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in kernels), "a kernel survived the interrupt"
    runs = load_status(status_path(out, "probe_template"))["runs"]
    assert {r: e["status"] for r, e in runs.items()} == {"1": "interrupted", "2": "interrupted"}
    for r in (1, 2):
        folder = out / f"r{r:04d}"
        assert not (folder / "probe_template.ipynb").exists()  # never recorded done
        state = json.loads((folder / "probe_template.state.json").read_text())
        assert state["status"] == "interrupted"
    assert not (out / "r0003").exists()  # not started
    # `scs-nb status` shows them; a rerun (without --overwrite) redoes them
    capsys.readouterr()
    cli.main(["status", str(out)])
    assert "interrupted" in capsys.readouterr().out
    assert cli.main(base[:-1] + ["1-2", "--retry-failed"]) == 0
    runs = load_status(status_path(out, "probe_template"))["runs"]
    assert {r: e["status"] for r, e in runs.items()} == {"1": "done", "2": "done"}
