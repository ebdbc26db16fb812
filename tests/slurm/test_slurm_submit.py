"""`scs-nb submit` / `scs-nb status` / `--retry-failed` / reservations on a real SLURM.

Every test submits real job arrays with sbatch to the one-node cluster of
tests/slurm/start-cluster.sh and waits for them; what is checked is what a user sees:
the notebooks and HTML reports of each task, the per-task logs, the job names, the
status table and its exit code, and which tasks a retry resubmits.
"""

import getpass
import json
import re
import subprocess
from pathlib import Path

import pytest

from scs_nb import cli, sim

from .conftest import wait_jobs

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.xdist_group("slurm"),
    pytest.mark.usefixtures("tiny_runs"),
]

TINY = Path(__file__).parent.parent / "data" / "tiny_template.ipynb"


def submit(capsys, *args):
    rc = cli.main(["submit", *args])
    out = capsys.readouterr().out
    assert rc == 0, out
    return re.findall(r"as job (\d+)", out)


def status(capsys, out):
    rc = cli.main(["status", str(out)])
    return rc, capsys.readouterr().out


def rows(table):
    """{task: state} from the status table."""
    found = {}
    for line in table.splitlines()[1:]:
        if " task(s): " in line:
            break
        parts = line.split()
        if len(parts) >= 3 and "=" in parts[0]:
            found[parts[0]] = parts[2]
    return found


def test_array_over_runs_status_and_retry(slurm_cluster, data_root, tmp_path, capsys):
    out = tmp_path / "tiny"
    (job,) = submit(
        capsys,
        str(TINY),
        "--runs",
        "10-12",
        "-p",
        "fail_on=[11]",
        "--kernel",
        "python3",
        "--out",
        str(out),
        "--mail-type",
        "NONE",
    )
    # straight after sbatch the tasks are queued: pending or running, not failed
    rc, table = status(capsys, out)
    assert rc == 0, table
    assert set(rows(table)) == {"run=10", "run=11", "run=12"}
    assert set(rows(table).values()) <= {"pending", "running", "done"}, table

    wait_jobs(job)
    rc, table = status(capsys, out)
    assert rc == 1, table  # one task failed
    assert rows(table) == {"run=10": "done", "run=11": "failed", "run=12": "done"}, table
    failed_report = out / "r0011" / "tiny_template_r0011.failed.html"
    assert f"run=11: {failed_report}" in table
    for run in (10, 12):
        d = out / f"r{run:04d}"
        assert (d / f"tiny_template_r{run:04d}.ipynb").is_file()
        assert (d / f"tiny_template_r{run:04d}.html").is_file()
        result = json.loads((d / "result.json").read_text())
        assert result["run"] == run and result["ntrains"] == 20  # the simulated run
    # logs where the README says: OUT/logs/%A_%a-%x.out, the job name starts with the run
    logs = sorted(p.name for p in (out / "logs").iterdir())
    assert logs == [f"{job}_{i}-r0010-0012-tiny_template.out" for i in range(3)]
    assert "run 11 fails on purpose" in (out / "logs" / logs[1]).read_text()
    name = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True)
    assert "JobName=r0010-0012-tiny_template" in name.stdout

    # the retry resubmits only run 11 (here with the failure switched off)
    (job2,) = submit(
        capsys,
        str(TINY),
        "--retry-failed",
        "-p",
        "fail_on=[]",
        "--kernel",
        "python3",
        "--out",
        str(out),
        "--mail-type",
        "NONE",
    )
    record = json.loads((out / "slurm" / "submissions.json").read_text())
    assert [t["value"] for t in record[-1]["tasks"]] == [11]
    assert record[-1]["job_name"] == "r0011-tiny_template"
    wait_jobs(job2)
    rc, table = status(capsys, out)
    assert rc == 0, table
    assert rows(table) == {"run=10": "done", "run=11": "done", "run=12": "done"}
    assert not (out / "r0011" / "tiny_template_r0011.failed.ipynb").exists()
    # nothing left to retry
    rc = cli.main(
        ["submit", str(TINY), "--retry-failed", "--kernel", "python3", "--out", str(out)]
    )
    assert rc == 0 and "no failed task" in capsys.readouterr().out


def test_killed_task_shows_failed_with_its_log(slurm_cluster, data_root, tmp_path, capsys):
    """A task that dies (scancel) leaves no notebook: failed, pointing at its log."""
    out = tmp_path / "killed"
    (job,) = submit(
        capsys,
        str(TINY),
        "--runs",
        "20",
        "--kernel",
        "python3",
        "--out",
        str(out),
        "--mail-type",
        "NONE",
    )
    subprocess.run(["scancel", job], check=True)
    wait_jobs(job)
    rc, table = status(capsys, out)
    assert rc == 1 and rows(table) == {"run=20": "failed"}, table
    assert f"{out}/logs/{job}_0-r0020-tiny_template.out" in table


@pytest.fixture
def reservation(slurm_cluster):
    """upex_002719 on one core of the node (the other stays free for other jobs)."""
    # a reservation left by an interrupted run is removed with its jobs first
    subprocess.run(["scancel", "--reservation=upex_002719"], capture_output=True)
    subprocess.run(["scontrol", "delete", "ReservationName=upex_002719"], capture_output=True)
    # IGNORE_JOBS: created even while jobs of other tests hold the cores
    proc = subprocess.run(
        [
            "scontrol",
            "create",
            "reservation",
            "ReservationName=upex_002719",
            "StartTime=now",
            "Duration=30",
            f"Users={getpass.getuser()}",
            "Nodes=ALL",
            "CoreCnt=1",
            "Flags=IGNORE_JOBS",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    yield "upex_002719"
    subprocess.run(["scontrol", "delete", "ReservationName=upex_002719"], capture_output=True)


@pytest.mark.parametrize("how", ["upex_002719", "auto"])
def test_reservation(reservation, data_root, tmp_path, capsys, how):
    out = tmp_path / how
    # the reservation `auto` is named after the proposal: a run of proposal 2719 to process
    sim.ensure_run(2719, 30, "basic", data_root=data_root, trains=20)
    (job,) = submit(
        capsys,
        str(TINY),
        "--runs",
        "30",
        "-p",
        "proposal=2719",
        "--reservation",
        how,
        "--kernel",
        "python3",
        "--out",
        str(out),
        "--mail-type",
        "NONE",
    )
    show = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True)
    assert "Reservation=upex_002719" in show.stdout
    wait_jobs(job)
    rc, table = status(capsys, out)
    assert rc == 0 and rows(table) == {"run=30": "done"}, table
    assert (out / "r0030" / "tiny_template_r0030.html").is_file()
