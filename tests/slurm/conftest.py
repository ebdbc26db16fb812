"""The real one-node SLURM cluster of tests/slurm/start-cluster.sh.

The ``slurm`` tests need it running (``tests/slurm/start-cluster.sh``; ``make test-slurm``
starts it). Without it they are skipped, unless SCS_NB_REQUIRE_SLURM=1 (CI), where a
missing cluster fails them.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

STATE_DIR = Path(os.environ.get("SCS_NB_SLURM_DIR", "/var/tmp/scs-nb-slurm"))
START = Path(__file__).with_name("start-cluster.sh")


def _conf():
    for c in (
        os.environ.get("SLURM_CONF"),
        "/etc/slurm/slurm.conf",
        str(STATE_DIR / "slurm.conf"),
    ):
        if c and Path(c).is_file():
            return c
    return None


def _answers(conf):
    if not shutil.which("sinfo") or not conf:
        return "sinfo is not installed" if not shutil.which("sinfo") else "no slurm.conf"
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-o", "%t"],
            capture_output=True,
            text=True,
            timeout=15,
            env=dict(os.environ, SLURM_CONF=conf),
        )
    except subprocess.TimeoutExpired:
        return "sinfo timed out"
    states = proc.stdout.split()
    if proc.returncode != 0 or not any(
        s.rstrip("*~#") in ("idle", "mix", "alloc", "resv") for s in states
    ):
        return f"no usable node ({proc.stderr.strip() or ' '.join(states) or 'none'})"
    return None


@pytest.fixture(scope="session")
def slurm_cluster():
    """SLURM_CONF of a running cluster (exported for sbatch, squeue, dask-jobqueue)."""
    conf = _conf()
    why = _answers(conf)
    if why:
        msg = (
            f"no SLURM cluster: {why}. Start one with `{START}` (root, installs "
            "slurm-wlm and munge with apt) or run `make test-slurm`"
        )
        if os.environ.get("SCS_NB_REQUIRE_SLURM") == "1":
            pytest.fail(msg + " (SCS_NB_REQUIRE_SLURM=1)")
        pytest.skip(msg)
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = conf
    yield conf
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old


def squeue_ids(*job_ids):
    """Array tasks / jobs of these ids still known to squeue as active."""
    proc = subprocess.run(
        ["squeue", "-h", "-r", "-j", ",".join(job_ids), "-o", "%i %T"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return [ln.split() for ln in proc.stdout.splitlines() if ln.strip()]


def wait_jobs(*job_ids, timeout=150):
    """Wait until SLURM has no active task of these jobs."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not squeue_ids(*job_ids):
            return time.monotonic() - t0
        time.sleep(0.5)
    raise AssertionError(f"jobs {job_ids} still queued after {timeout} s: {squeue_ids(*job_ids)}")


def jobs_named(name):
    proc = subprocess.run(
        ["squeue", "-h", "-n", name, "-o", "%i %T"], capture_output=True, text=True, timeout=30
    )
    return [ln for ln in proc.stdout.splitlines() if ln.strip()]


@pytest.fixture(autouse=True)
def _one_worker_at_a_time(request):
    """The `slurm` tests share one 2-core cluster and a reservation: under
    ``--dist loadgroup`` they must all run on one worker (the xdist_group mark
    must have taken effect; see the pytest pin in pyproject.toml)."""
    if os.environ.get("PYTEST_XDIST_WORKER") and request.config.getvalue("loadgroup"):
        assert request.node.nodeid.endswith("@slurm"), (
            f"{request.node.nodeid} lost its xdist_group: pytest-xdist does not group "
            "with this pytest (pytest-dev/pytest-xdist#1386); install pytest < 9.2"
        )
