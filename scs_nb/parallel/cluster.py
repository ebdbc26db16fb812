"""Dask clusters for heavy steps (DSSC binning, BOZ): local by default, SLURM for many nodes.

Every cluster made here is closed to the network: its scheduler and workers talk TLS with
temporary credentials made for this cluster alone (``distributed.security.Security.temporary``
/ dask-jobqueue's ``security=True``), so a process without them cannot connect, let alone run
code in the user's process; the dashboard listens on the loopback address only (or not at
all). A ``Client(cluster)`` takes the credentials from the cluster.

from scs_nb.parallel.cluster import make_cluster
from dask.distributed import Client
cluster = make_cluster()                       # all cores of this machine
cluster = make_cluster('slurm', partition='exfel', walltime='02:00:00', jobs=4)
client = Client(cluster)
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import tempfile

from ..errors import ToolBoxValueError
from .slurm_options import cluster_kwargs, option_names, validate_reservation

__all__ = ["make_cluster", "default_workers", "node_limits", "credentials_dir"]

# a dashboard shows what runs and from where; only this machine's users may see it
LOOPBACK_DASHBOARD = "127.0.0.1:0"


def credentials_dir():
    """The folder where SLURM workers find their cluster's temporary TLS credentials.

    Workers run on other nodes, so the key and certificate dask-jobqueue writes for them must
    be on a file system those nodes share: ``$SCS_NB_DASK_CREDENTIALS`` if set, else
    ``~/.scs_nb/dask-credentials``. The folder is made (and kept) readable by its owner only;
    the files in it (mode 0600) are removed when the cluster is closed.

    Returns
    -------
    str
        The folder's absolute path.
    """
    path = os.environ.get("SCS_NB_DASK_CREDENTIALS") or os.path.join(
        os.path.expanduser("~"), ".scs_nb", "dask-credentials"
    )
    path = os.path.abspath(path)
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _dashboard(address):
    """The dashboard address: loopback (default), or None (off); others are refused."""
    if address is None:
        return None
    text = str(address)
    host = text.rsplit(":", 1)[0] if ":" in text else text
    if host in ("127.0.0.1", "localhost", "[::1]", "::1"):
        return text
    raise ToolBoxValueError(
        f"dashboard_address={address!r} would serve the dask dashboard beyond this machine; "
        f"pass one on the loopback address ('127.0.0.1:8787', '127.0.0.1:0' for any port) "
        f"or None (no dashboard), and reach it through an SSH tunnel or Jupyter's proxy"
    )


def _security(value):
    """True (temporary credentials) or a ``distributed.security.Security``; never none."""
    if value is True:
        return True
    from distributed.security import Security  # heavy: only when a cluster is made

    if isinstance(value, Security) and value.require_encryption:
        return value
    raise ToolBoxValueError(
        f"security={value!r} would let any process that reaches the scheduler run code in "
        f"this one; pass security=True (temporary credentials, the default) or a "
        f"distributed.security.Security with require_encryption=True"
    )


def node_limits(partition):
    """The size of the smallest node of a SLURM partition, from ``sinfo``.

    Parameters
    ----------
    partition : str
        The SLURM partition.

    Returns
    -------
    tuple of int or None
        ``(cpus, memory_mb)`` (memory in MB), or None when SLURM cannot be asked.
    """
    exe = shutil.which("sinfo")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "-h", "-p", partition, "-o", "%c %m"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    sizes = []
    for line in proc.stdout.split("\n"):
        parts = line.replace("+", "").split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            sizes.append((int(parts[0]), int(parts[1])))
    if proc.returncode != 0 or not sizes:
        return None
    return min(c for c, _ in sizes), min(m for _, m in sizes)


def default_workers() -> int:
    """The CPU cores available to this process.

    Returns
    -------
    int
        Cores in this process's affinity mask (never less than 1).
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def make_cluster(
    kind="local",
    partition=None,
    reservation=None,
    walltime="01:00:00",
    cores=None,
    memory=None,
    processes=None,
    jobs=None,
    print_script=False,
    **kwargs,
):
    """A dask cluster.

    Parameters
    ----------
    kind: 'local' | 'slurm'
        'local': ``distributed.LocalCluster`` with ``cores`` single-threaded workers
        (default: all available cores). 'slurm': ``dask_jobqueue.SLURMCluster``, one
        SLURM job per ``jobs`` with ``cores`` cores and ``memory`` each.
    partition: str
        SLURM partition (default 'exfel'); ignored for 'local'.
    reservation: str
        SLURM reservation ``upex_00NNNN`` (for a beamtime's reserved nodes).
    walltime: str
        SLURM time limit per job, 'HH:MM:SS'.
    cores: int
        workers (local) or cores per job (slurm; default 16, at most what the
        partition's smallest node has).
    memory: str
        memory limit per worker (local, default 'auto') or per job (slurm, default
        '64GB', at most the partition's smallest node).
    processes: int or bool
        SLURM: worker processes per job (default: ``cores``, one thread each). Local:
        False runs the workers as threads of this process (default: processes).
    jobs: int
        SLURM: submit this many jobs right away (``cluster.scale(jobs=...)``); default
        none, scale later with ``cluster.scale(jobs=N)`` or ``cluster.adapt(...)``.
    print_script: bool
        SLURM: print the job script dask-jobqueue submits.
    dashboard_address: str or None
        (keyword) where the dask dashboard listens: on the loopback address only
        (default ``'127.0.0.1:0'``, any free port; ``cluster.dashboard_link`` says which),
        or None for none. Other hosts are refused.
    security: True or distributed.security.Security
        (keyword) TLS for every connection; default True: temporary credentials made for
        this cluster (for SLURM, written for the workers into ``credentials_dir()``).
        Clusters without encryption are refused.
    host: str
        (keyword) SLURM: address the scheduler listens on (default
        ``$SCS_NB_DASK_HOST``, else dask's choice); a loopback address (the one-node
        test cluster) binds the workers there too.
    kwargs:
        SLURM: any option of ``scs_nb.parallel.slurm_options.SLURM_OPTIONS`` by its
        name (``constraint='V100'``, ``mail_user=...``, ``nodes=...``, ``job_name=...``;
        ``time``/``mem`` are ``walltime``/``memory`` here), validated as in
        ``scs-nb submit``; the rest is passed to the cluster class.

    Returns
    -------
    distributed.LocalCluster or dask_jobqueue.SLURMCluster

    Raises
    ------
    ToolBoxValueError
        An unknown kind, bad cores, a dashboard beyond the loopback address, no encryption,
        or an invalid SLURM option.
    """
    if kind not in ("local", "slurm"):
        raise ToolBoxValueError(f"kind must be 'local' or 'slurm', got {kind!r}")
    if cores is not None and (not isinstance(cores, int) or cores < 1):
        raise ToolBoxValueError(f"cores must be a positive integer, got {cores!r}")
    dashboard = _dashboard(kwargs.pop("dashboard_address", LOOPBACK_DASHBOARD))
    security = _security(kwargs.pop("security", True))
    if kind == "local":
        from distributed import LocalCluster  # heavy: only when a cluster is made

        if kwargs.get("host") and not str(kwargs["host"]).startswith(("127.", "localhost")):
            # a local cluster's workers are on this machine: nothing else needs to reach it
            raise ToolBoxValueError(
                f"host={kwargs['host']!r}: a local cluster listens on the loopback address; "
                f"use kind='slurm' for workers on other nodes"
            )
        if processes is not None:
            kwargs["processes"] = bool(processes)
        return LocalCluster(
            dashboard_address=dashboard,
            security=security,
            n_workers=cores or default_workers(),
            threads_per_worker=1,
            memory_limit=memory or "auto",
            **kwargs,
        )

    from dask_jobqueue import SLURMCluster  # heavy: only for SLURM clusters

    # the SLURM options have one definition (slurm_options); dask's own names for
    # two of them (walltime, memory) stay this function's public parameters
    slurm = {name: kwargs.pop(name) for name in option_names() if name in kwargs}
    for name, dask_name in (("time", "walltime"), ("mem", "memory")):
        if name in slurm:
            raise ToolBoxValueError(f"pass {dask_name}= (dask's name), not {name}=")
    slurm.update(
        partition=partition or "exfel",
        time=walltime,
        mem=memory,
        reservation=validate_reservation(reservation) if reservation else None,
    )
    job = cluster_kwargs(slurm)  # validated before anything runs
    job["job_extra_directives"] = (
        list(kwargs.pop("job_extra_directives", [])) + job["job_extra_directives"]
    )
    limits = node_limits(job["queue"])
    if cores is None:
        cores = min(16, limits[0]) if limits else 16
    if memory is None:
        job["memory"] = f"{min(64000, limits[1])}MB" if limits else "64GB"
    opts = dict(kwargs.pop("scheduler_options", None) or {})
    opts["dashboard_address"] = _dashboard(opts.get("dashboard_address", dashboard))
    if "security" in opts:
        opts["security"] = _security(opts["security"])
    kwargs["scheduler_options"] = opts
    kwargs.setdefault("shared_temp_directory", credentials_dir())
    host = kwargs.pop("host", None) or os.environ.get("SCS_NB_DASK_HOST") or None
    if host:
        # the scheduler (in this process) listens there; on a loopback address the
        # workers can only be on this machine, so they listen there too
        opts.setdefault("host", host)
        if host.startswith("127.") or host == "localhost":
            wargs = list(kwargs.pop("worker_extra_args", None) or [])
            if "--host" not in wargs:
                wargs += ["--host", host]
            kwargs["worker_extra_args"] = wargs
    kwargs.setdefault(
        "log_directory",
        os.path.join(tempfile.gettempdir(), f"scs_nb-dask-jobs-{getpass.getuser()}"),
    )
    cluster = SLURMCluster(
        cores=cores, processes=processes or cores, security=security, **job, **kwargs
    )
    if print_script:
        print(cluster.job_script())
    if jobs:
        cluster.scale(jobs=int(jobs))
    return cluster
