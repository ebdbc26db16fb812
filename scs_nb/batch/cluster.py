"""Dask clusters for heavy steps (DSSC binning, BOZ): local by default, SLURM for many nodes.

    from scs_nb.batch.cluster import make_cluster
    from dask.distributed import Client
    cluster = make_cluster()                       # all cores of this machine
    cluster = make_cluster('slurm', partition='exfel', walltime='02:00:00', jobs=4)
    client = Client(cluster)
"""
from __future__ import annotations

import os

from ..errors import ToolBoxValueError

__all__ = ["make_cluster", "default_workers"]


def default_workers() -> int:
    """CPU cores available to this process (never less than 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def make_cluster(kind="local", partition=None, reservation=None, walltime="01:00:00",
                 cores=None, memory=None, processes=None, jobs=None, print_script=False,
                 **kwargs):
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
        workers (local) or cores per job (slurm; default 16).
    memory: str
        memory limit per worker (local, default 'auto') or per job (slurm, default '64GB').
    processes: int
        SLURM: worker processes per job (default: ``cores``, one thread each).
    jobs: int
        SLURM: submit this many jobs right away (``cluster.scale(jobs=...)``); default
        none, scale later with ``cluster.scale(jobs=N)`` or ``cluster.adapt(...)``.
    print_script: bool
        SLURM: print the job script dask-jobqueue submits.
    kwargs:
        passed to the cluster class.
    """
    if kind not in ("local", "slurm"):
        raise ToolBoxValueError(f"kind must be 'local' or 'slurm', got {kind!r}")
    if cores is not None and (not isinstance(cores, int) or cores < 1):
        raise ToolBoxValueError(f"cores must be a positive integer, got {cores!r}")
    if kind == "local":
        from distributed import LocalCluster
        kwargs.setdefault("dashboard_address", ":0")
        return LocalCluster(n_workers=cores or default_workers(), threads_per_worker=1,
                            memory_limit=memory or "auto", **kwargs)

    from dask_jobqueue import SLURMCluster

    from .slurm import _check, validate_reservation
    partition = _check("partition", partition or "exfel")
    _check("time", walltime)
    extra = list(kwargs.pop("job_extra_directives", []))
    if reservation:
        extra.append(f"--reservation={validate_reservation(reservation)}")
    cores = cores or 16
    cluster = SLURMCluster(queue=partition, cores=cores, memory=memory or "64GB",
                           processes=processes or cores, walltime=walltime,
                           job_extra_directives=extra, **kwargs)
    if print_script:
        print(cluster.job_script())
    if jobs:
        cluster.scale(jobs=int(jobs))
    return cluster
