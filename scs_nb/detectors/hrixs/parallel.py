"""How hRIXS centroiding runs in parallel: threads over images in memory,
worker processes (or a dask client) over chunks of trains read from a run.

The numba kernel releases the GIL, so threads suffice for images already in
memory; a run that may not fit in memory is read chunk by chunk in the
workers, and only the spectra come back.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from ...progress import bar as progress_bar
from ...progress import interactive

__all__ = ["progress", "n_workers", "thread_map", "chunk_results"]


def progress(it, n, desc):
    """A progress bar over ``it``, shown for 10 items or more where someone watches
    (``scs_nb.progress.interactive``: a terminal, a notebook or a report).

    Parameters
    ----------
    it : iterable
        The items.
    n : int
        Their number.
    desc : str
        The bar's label.

    Returns
    -------
    iterable
        ``it``, wrapped in ``tqdm``.
    """
    return progress_bar(it, total=n, desc=desc, disable=n < 10 or not interactive())


def n_workers(n_jobs, n_tasks):
    """The number of workers for ``n_tasks`` tasks.

    Parameters
    ----------
    n_jobs : int or None
        The number asked for; None: the CPU count, at most 8.
    n_tasks : int
        The number of tasks (no more workers than tasks).

    Returns
    -------
    int
        At least 1.
    """
    n = n_jobs or min(os.cpu_count() or 1, 8)
    return max(1, min(int(n), int(n_tasks)))


def thread_map(fn, n, n_jobs=None, desc=""):
    """Call ``fn(i)`` for ``i`` in ``range(n)`` in threads, with a progress bar.

    Parameters
    ----------
    fn : callable
        Called with each index; its results are discarded (it stores them).
    n : int
        The number of calls.
    n_jobs : int, optional
        Threads (see ``n_workers``).
    desc : str
        The progress bar's label.
    """
    with ThreadPoolExecutor(n_workers(n_jobs, n)) as pool:
        list(progress(pool.map(fn, range(n)), n, desc))


@contextlib.contextmanager
def chunk_results(worker, jobs, state, n_jobs=None, client=None):
    """Run ``worker(job, state)`` for every job; yield the results in job order.

    Parameters
    ----------
    worker : callable
        A module-level (picklable) function ``worker(job, state=state)``.
    jobs : list
        One item per chunk.
    state : object
        Shared by every job (sent once to each dask worker).
    n_jobs : int, optional
        Worker processes (see ``n_workers``); one runs the jobs in this
        process. Ignored with ``client``.
    client : distributed.Client, optional
        Run the jobs on this dask client instead of local processes.

    Yields
    ------
    iterator
        The results, in the order of ``jobs``. The process pool is shut down
        when the block ends.
    """
    if client is not None:
        shared = client.scatter(state, broadcast=True)
        futures = client.map(worker, jobs, state=shared, pure=False)
        yield (f.result() for f in futures)
        return
    if n_workers(n_jobs, len(jobs)) == 1:
        yield (worker(j, state) for j in jobs)
        return
    pool = ProcessPoolExecutor(n_workers(n_jobs, len(jobs)), mp_context=mp.get_context("fork"))
    try:
        yield pool.map(worker, jobs, [state] * len(jobs))
    finally:
        pool.shutdown()
