"""scs-nb watch on runs the simulator writes while it watches; the run table; restarts."""

import json
import threading
import time

import pytest

from scs_nb import cli, sim
from scs_nb.beamtime.table import run_rows
from scs_nb.beamtime.watch import Watcher, read_watch_state, run_folder_complete

PROPOSAL = 900021
pytestmark = pytest.mark.timeout(300)


def _wait(cond, timeout=120):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_settled_folder(tmp_path):
    run = tmp_path / "r0001"
    run.mkdir()
    assert run_folder_complete(run, None, 0.0) == (False, None)  # no file yet
    (run / "RAW-R0001-DA01-S00000.h5").write_bytes(b"x")
    ok, snap = run_folder_complete(run, None, 0.0)
    assert not ok  # seen once: not yet known to be unchanged
    assert run_folder_complete(run, snap, 0.0)[0]
    assert not run_folder_complete(run, snap, 3600.0)[0]  # written just now
    (run / "RAW-R0001-DA02-S00000.h5.part").write_bytes(b"y")
    assert run_folder_complete(run, snap, 0.0) == (False, None)  # a file being written


def test_watch_new_runs_once_each_restart_and_failures(data_root, tmp_path):
    sim.simulate("delay_scan", PROPOSAL, 1, data_root=data_root, trains=30, seed=1)
    lines = []
    w = Watcher(
        PROPOSAL,
        ["explore_run"],
        jobs=2,
        settle=0.5,
        interval=0.3,
        kernel="python3",
        echo=lines.append,
    )
    stop = threading.Event()
    th = threading.Thread(target=w.run, kwargs={"stop": stop})
    th.start()
    try:
        t_written = time.monotonic()
        sim.simulate("delay_scan", PROPOSAL, 2, data_root=data_root, trains=40, seed=2)
        sim.simulate("viking_sample", PROPOSAL, 3, data_root=data_root, trains=5)
        done = lambda: all(  # noqa: E731
            read_watch_state(PROPOSAL)["runs"].get(str(r), {}).get("explore_run", {}).get("status")
            in ("done", "failed")
            for r in (1, 2, 3)
        )
        _wait(done)
        latency = time.monotonic() - t_written
    finally:
        stop.set()
        th.join()
    state = read_watch_state(PROPOSAL)["runs"]
    assert [state[str(r)]["explore_run"]["status"] for r in (1, 2, 3)] == [
        "done",
        "done",
        "failed",
    ]  # the Viking run has no MCP to bin: shown failed
    assert "MCP2apd" in state["3"]["explore_run"]["message"]
    assert latency < 120
    rows = {r["run"]: r for r in run_rows(PROPOSAL, with_damnit=False)}
    # no threshold: every pulse kept (20 SASE3 pulses per train)
    assert rows[1]["explore_run.pulses_kept"] == 30 * 20
    assert rows[2]["explore_run.pulses_kept"] == 40 * 20
    assert rows[2]["explore_run.report"].endswith("explore_run_r0002.html")
    assert rows[3]["explore_run.status"] == "failed"
    started = [ln for ln in lines if ln.endswith("running")]
    assert len(started) == 3  # each run once

    # a restart (--once, as from cron) processes nothing again and retries no failure
    nb = data_root.glob(f"*/*/p{PROPOSAL:06d}/usr/processed_runs/explore_run/r0002/*.ipynb")
    mtimes = {p: p.stat().st_mtime_ns for p in nb}
    assert (
        cli.main(
            [
                "watch",
                "--proposal",
                str(PROPOSAL),
                "-t",
                "explore_run",
                "--once",
                "--settle",
                "0.2",
                "--kernel",
                "python3",
            ]
        )
        == 1
    )  # a failure is shown
    assert all(p.stat().st_mtime_ns == m for p, m in mtimes.items())
    state2 = read_watch_state(PROPOSAL)["runs"]
    assert state2["3"]["explore_run"]["status"] == "failed"
    assert state2["1"]["explore_run"]["updated"] == state["1"]["explore_run"]["updated"]

    # after a restart, an execution marked running is what its outputs say (run 3 failed)
    # or, without outputs (interrupted), pending again; failures retried only on request
    w2 = Watcher(PROPOSAL, ["explore_run"], kernel="python3", echo=lines.append)
    w2._set(3, "explore_run", status="running")
    w2._set(7, "explore_run", status="running")
    w2._recover()
    assert w2.entry(3, "explore_run")["status"] == "failed"
    assert w2.entry(7, "explore_run")["status"] == "pending"
    assert w2.retry_failed() == 1 and w2.entry(3, "explore_run")["status"] == "pending"

    # the table, without Jupyter
    html, csv = tmp_path / "t.html", tmp_path / "t.csv"
    assert cli.main(["table", str(PROPOSAL), "--html", str(html), "--csv", str(csv)]) == 0
    text = html.read_text()
    assert "explore_run_r0002.html" in text and "failed" in text
    assert csv.read_text().splitlines()[0].startswith("run,")
    json.loads((w.path).read_text())  # the state file is plain JSON
