"""scs-nb watch --slurm on the one-node cluster: runs simulated while it watches become
SLURM jobs, each once; their results reach the run table."""

import threading
import time

import pytest

from scs_nb import sim
from scs_nb.beamtime.table import run_rows
from scs_nb.beamtime.watch import Watcher, read_watch_state

from .conftest import wait_jobs

pytestmark = [pytest.mark.slurm, pytest.mark.xdist_group("slurm")]
PROPOSAL = 900023


def test_watch_submits_each_new_run_once(slurm_cluster, data_root):
    sim.simulate("delay_scan", PROPOSAL, 1, data_root=data_root, trains=20, seed=1)
    w = Watcher(
        PROPOSAL,
        ["explore_run"],
        slurm={"partition": None, "mail_type": None},
        settle=0.5,
        interval=0.5,
        kernel="python3",
        echo=lambda line: None,
    )
    stop = threading.Event()
    th = threading.Thread(target=w.run, kwargs={"stop": stop})
    th.start()
    try:
        sim.simulate("delay_scan", PROPOSAL, 2, data_root=data_root, trains=20, seed=2)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            runs = read_watch_state(PROPOSAL)["runs"]
            jobs = [runs.get(str(r), {}).get("explore_run", {}).get("job") for r in (1, 2)]
            if all(jobs):
                break
            time.sleep(0.3)
        assert all(jobs), runs
        wait_jobs(*jobs, timeout=240)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            st = read_watch_state(PROPOSAL)["runs"]
            if all(st[str(r)]["explore_run"]["status"] == "done" for r in (1, 2)):
                break
            time.sleep(0.5)
    finally:
        stop.set()
        th.join()
    st = read_watch_state(PROPOSAL)["runs"]
    assert [st[str(r)]["explore_run"]["status"] for r in (1, 2)] == ["done", "done"], st
    assert jobs[0] != jobs[1]  # one job per run
    rows = {r["run"]: r for r in run_rows(PROPOSAL, with_damnit=False)}
    assert rows[2]["explore_run.pulses_kept"] == 20 * 20
