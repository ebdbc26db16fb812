"""Processing DSSC modules: one module (ToolBox ``process_dssc_data``) and many
modules in parallel as dask tasks (local cluster or SLURM)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from ....errors import ToolBoxError, ToolBoxValueError
from ....load import open_run
from ....parallel import make_cluster
from . import raw
from .inputs import get_xgm_formatted
from .reduce import bin_module_dataset, dark_for_module, params_hash
from .store import (
    clean_stale_parts,
    complete_file,
    load_xarray,
    module_filename,
    write_module_file,
)

__all__ = [
    "process_dssc_data",
    "process_modules",
    "get_client",
    "guarded",
    "report_text",
    "WorkersLostError",
    "tune_worker_malloc",
]

# seconds without any dask worker (after one was seen) before the modules still to do are
# given up: SLURM worker jobs cancelled or ended and not replaced
LOST_WORKERS_TIMEOUT = float(os.environ.get("SCS_NB_LOST_WORKERS_TIMEOUT", 60))


class WorkersLostError(ToolBoxError):
    """Dask workers died (jobs cancelled, nodes lost) before all modules were binned;
    ``.modules`` are the ones not done. Complete module files are kept: a rerun
    bins only the missing modules."""

    def __init__(self, message, modules=()):
        super().__init__(message)
        self.modules = list(modules)


def process_dssc_data(
    proposal,
    run_nr,
    module,
    chunksize,
    info,
    dssc_binners,
    path="./",
    pulsemask=None,
    dark_image=None,
    xgm_mnemonic="SCS_SA3",
    xgm_normalization=False,
    normevery=1,
    *,
    xgm=None,
    dssc_coords_stride=1,
    overwrite=False,
    train_dim="trainId",
    attrs=None,
    progress=False,
    prefetch=True,
    _interrupt_after=None,
):
    """Collects and reduces DSSC data for a single module.

    Parameters
    ----------
    proposal : int
        proposal number
    run_nr : int
        run number
    module : int
        DSSC module to process
    chunksize : int
        number of trains to load simultaneously (capped so that the read
        buffer stays near 128 MB)
    info: dictionary
        dictionary containing keys 'dims', 'frames_per_train', 'total_frames',
        'trainIds', 'number_of_trains' (load_dssc_info); may be None.
    dssc_binners: dictionary
        a dictionary containing binner objects created by the ToolBox member
        function "create_dssc_bins()"
    path : str
        location in which the .h5 files, containing the binned data, should
        be stored (``run_<run>_module<module>.h5``); None: do not write.
    pulsemask : numpy.ndarray or xarray.DataArray
        array of booleans (trainId, pulse) to be used to mask dssc data
        according to xgm data.
    dark_image: xarray.DataArray
        an xarray dataarray with matching coordinates with the loaded data. If
        dark_image is not None it will be subtracted from each individual dssc
        frame. A callable returning it is called only if the module is binned
        (not when a complete file is reused).
    xgm_normalization: bool
        true if the data should be divided by the corresponding xgm value.
    xgm_mnemonic: str
        Mnemonic of the xgm data to be used for normalization.
    normevery: int
        One out of normevery dssc frames will be normalized.
    xgm: xarray.DataArray
        (keyword) preloaded XGM from get_xgm_formatted; else loaded here.
    prefetch: bool
        (keyword) read the next chunk in a thread while the kernel runs (two
        cores per module); False keeps a module on one core.
    overwrite: bool
        (keyword) replace an existing module file; otherwise a complete file
        made with the same parameters is reused and one made with other
        parameters is an error.

    Returns
    -------
    module_data: xarray.Dataset
        xarray datastructure containing data binned according to bins.
    """
    run_dir = raw.run_directory(proposal, run_nr)
    module = raw.check_module(module)  # (info is informative: the module's INDEX rules)
    if xgm is None and xgm_normalization:
        run = open_run(proposal, run_nr, include="*DA*")
        xgm = get_xgm_formatted(run, xgm_mnemonic, dssc_coords_stride)
    if pulsemask is not None and not hasattr(pulsemask, "dims"):
        raise ToolBoxValueError(
            "pulsemask must be an xarray.DataArray (trainId, pulse) as made "
            "by DSSCBinner.create_pulsemask"
        )
    params = {
        "proposal": str(proposal),
        "run": int(run_nr),
        "module": module,
        "binners": {
            k: (v.values.tolist(), v.coords[k].values.tolist()) for k, v in dssc_binners.items()
        },
        "dark": (
            None
            if dark_image is None
            else f"run {attrs['dark_run']}"
            if callable(dark_image) and attrs and "dark_run" in attrs
            else _dark_digest(dark_image, module)
            if not callable(dark_image)
            else "callable"
        ),
        "xgm_normalization": bool(xgm_normalization),
        "normevery": int(normevery),
        "xgm_mnemonic": xgm_mnemonic,
        "pulsemask": None if pulsemask is None else int(pulsemask.values.sum()),
        **(attrs or {}),
    }
    phash = params_hash(params)
    fname = None
    if path is not None:
        fname = os.path.join(str(path), module_filename(run_nr, module))
        if not overwrite and complete_file(fname, phash):
            return load_xarray(fname)
        clean_stale_parts(str(path), fname)
    if callable(dark_image):  # computed only when the module is (re)binned
        dark_image = dark_image()
    ds = bin_module_dataset(
        run_dir,
        module,
        dssc_binners,
        dark_image=dark_image,
        xgm=xgm,
        xgm_normalization=xgm_normalization,
        normevery=normevery,
        pulsemask=pulsemask,
        train_dim=train_dim,
        chunksize=chunksize,
        progress=progress,
        prefetch=prefetch,
        attrs={
            "proposal": str(proposal),
            "run": int(run_nr),
            "params_hash": phash,
            **{k: v for k, v in (attrs or {}).items() if isinstance(v, (str, int, float))},
        },
        _interrupt_after=_interrupt_after,
    )
    empty = [d for d, n in ds.sizes.items() if n == 0]
    if empty:
        raise ToolBoxValueError(
            f"DSSC module {module} of run {run_nr} binned to 0 bins along {empty} (no "
            f"finite {train_dim} value, or no frame in the pattern); nothing is written. "
            "Check the x axis (delay_origin, BAM, the scanned motor) and the pattern"
        )
    if fname is not None:
        write_module_file(ds, fname)
    return ds


def _dark_digest(dark, module):
    d = dark_for_module(dark, module, _frames_of(dark))
    # hash the array's own buffer: no 26 MB copy per module (tobytes) in every task
    return hashlib.sha1(np.ascontiguousarray(d).data).hexdigest()[:16]


_MALLOC_TUNED = False


def tune_worker_malloc():
    """Undo, in a dask worker, the cost of the nanny's ``MALLOC_TRIM_THRESHOLD_=65536``.

    distributed's nanny sets that variable in every worker it spawns (local and
    dask-jobqueue SLURM workers alike). Setting any glibc malloc variable turns off
    glibc's dynamic mmap threshold, so each of a module's large temporaries (the
    float64 accumulators, means, the output arrays: ~50 MB per module) is freshly
    mmapped and page-faulted every task: 12,900 minor page faults per 0.4 GB module
    against 350 in this process, the main part of what a dask task lost against the
    same binning in-process. Here the heap serves allocations up to 32 MB again
    (M_MMAP_THRESHOLD) and keeps up to 256 MB of freed memory (M_TRIM_THRESHOLD) for
    the next chunk and module. Only when that variable is set (a nanny's worker);
    once per process; a no-op off glibc.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return False
    _MALLOC_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(
            libc.mallopt(m_mmap_threshold, 32 * 2**20)
            and libc.mallopt(m_trim_threshold, 256 * 2**20)
        )
    except (OSError, AttributeError):
        return False


def process_to_file(**kwargs):
    """A dask task: process one module into its file.

    Parameters
    ----------
    **kwargs
        The arguments of ``process_dssc_data`` (``path`` is required).

    Returns
    -------
    str
        The module file, ``<path>/run_<run>_module<module>.h5``.
    """
    tune_worker_malloc()
    process_dssc_data(**kwargs)
    return os.path.join(str(kwargs["path"]), module_filename(kwargs["run_nr"], kwargs["module"]))


def _frames_of(dark):
    d = dark["data"] if isinstance(dark, xr.Dataset) else dark
    if isinstance(d, xr.DataArray):
        return d.sizes.get("pulse", 1)
    d = np.asarray(d)
    return d.shape[0] if d.ndim == 3 else 1


# -- per-module outcome --------------------------------------------------------------
def guarded(task, module, output=None, **kwargs):
    """Run ``task(module=module, **kwargs)`` and never raise (except an interruption).

    Parameters
    ----------
    task : callable
        The per-module task (returns the file written).
    module : int
        DSSC module.
    output : str, optional
        The task's output file: unchanged afterwards means it was reused ('skipped').
    **kwargs
        Passed to ``task``.

    Returns
    -------
    dict
        ``{'module', 'status': 'done' | 'skipped' | 'failed', 'file', 'reason'}``
        (and ``'error'``, the exception, when failed).
    """
    before = None
    if output is not None:
        try:
            before = os.stat(output).st_mtime_ns
        except OSError:
            pass
    try:
        result = task(module=module, **kwargs)
    except Exception as exc:
        return {
            "module": module,
            "status": "failed",
            "file": None,
            "reason": f"{type(exc).__name__}: {exc}",
            "error": exc,
        }
    status, reason = "done", ""
    if before is not None and output is not None:
        try:
            if os.stat(output).st_mtime_ns == before:
                status, reason = "skipped", "complete file with the same parameters reused"
        except OSError:
            pass
    return {"module": module, "status": status, "file": result, "reason": reason}


def report_text(outcomes) -> str:
    """The per-module outcomes as text.

    Parameters
    ----------
    outcomes : list of dict
        Results of ``guarded``.

    Returns
    -------
    str
        One line per module (``module  3  failed  <reason>``) and a summary line.
    """
    lines = [
        f"module {o['module']:2d}  {o['status']:<7s}  {o['reason'] or o['file'] or ''}"
        for o in outcomes
    ]
    n = {s: sum(o["status"] == s for o in outcomes) for s in ("done", "skipped", "failed")}
    lines.append(f"{n['done']} done, {n['skipped']} skipped, {n['failed']} failed")
    return "\n".join(lines)


# -- many modules ------------------------------------------------------------------
def get_client(n_workers=None, cluster=None, **cluster_kw):
    """A dask distributed Client, on ``cluster`` if given, else on a new cluster
    from ``scs_nb.parallel.make_cluster`` (local by default; SLURM when asked).

    Parameters
    ----------
    n_workers : int, optional
        Cores of a new cluster (default: the CPUs, at most 4).
    cluster : dask cluster, optional
        An existing cluster.
    **cluster_kw
        Passed to ``make_cluster``.

    Returns
    -------
    client : distributed.Client
        The client.
    owned : bool
        True when the caller started the cluster and must close it.
    """
    from distributed import Client  # heavy, optional: only for dask backends

    if cluster is not None:
        return Client(cluster), False
    n = max(1, int(n_workers or min(os.cpu_count() or 1, 4)))
    cluster_kw.setdefault("cores", n)
    cluster_kw.setdefault("dashboard_address", None)
    return Client(make_cluster(**cluster_kw)), True


def process_modules(
    task, modules, kwargs_of, backend="dask", n_jobs=None, cluster=None, client=None, **cluster_kw
):
    """Run ``task(**kwargs_of(module))`` for every module.

    One dask task per module (backend 'dask'; 'loky'/'multiprocessing' are the
    same here), threads ('threading') or one after the other ('sequential').
    Large arrays (darks) are scattered to the workers once.

    Parameters
    ----------
    task : callable
        The per-module task.
    modules : list of int
        DSSC modules.
    kwargs_of : callable
        ``kwargs_of(module)`` -> keyword arguments of the task.
    backend : str
        'dask', 'loky', 'multiprocessing', 'threading' or 'sequential'.
    n_jobs : int, optional
        Workers (threads for 'threading').
    cluster, client : optional
        Where the dask tasks run (default: a new local cluster).
    **cluster_kw
        Passed to ``get_client``.

    Returns
    -------
    list
        The results of the tasks, in module order.
    """
    modules = list(modules)
    if backend == "sequential" or (len(modules) == 1 and client is None and cluster is None):
        return [task(**kwargs_of(m)) for m in modules]
    if backend == "threading":
        with ThreadPoolExecutor(max(1, int(n_jobs or 2))) as pool:
            return list(pool.map(lambda m: task(**kwargs_of(m)), modules))
    if backend not in ("dask", "loky", "multiprocessing"):
        raise ToolBoxValueError(
            f"backend must be 'dask', 'sequential' or 'threading', got {backend!r}"
        )
    owned = False
    if client is None:
        client, owned = get_client(n_jobs, cluster, **cluster_kw)
    try:
        scattered = {}

        def ship(value):
            # large arrays (darks) travel once to the workers, not inside each task
            nbytes = getattr(value, "nbytes", 0)
            if nbytes > 2**20 and not callable(value):
                if id(value) not in scattered:
                    scattered[id(value)] = (value, client.scatter(value, broadcast=True))
                return scattered[id(value)][1]
            return value

        futures = [
            client.submit(task, pure=False, **{k: ship(v) for k, v in kwargs_of(m).items()})
            for m in modules
        ]
        return _gather(client, futures, modules)
    finally:
        if owned:
            cl = client.cluster
            client.close()
            if cl is not None:
                cl.close()


def _gather(client, futures, modules, poll=1.0):
    """Results of ``futures`` (one per module, in module order). A task whose workers
    died is retried by dask on the remaining or replacement workers; when none is left
    for LOST_WORKERS_TIMEOUT seconds, or dask gives a task up (KilledWorker), a
    WorkersLostError names the modules not done. Any other task error is raised as is."""
    from distributed import wait  # heavy, optional: only for dask backends
    from distributed.scheduler import KilledWorker

    where = {f.key: m for f, m in zip(futures, modules)}
    results = {}
    lost = []
    pending = set(futures)
    seen_worker, alone_since = False, None
    while pending:
        try:
            done, pending = wait(pending, timeout=poll, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        for f in done:
            # a result still held by a worker that has just died is recomputed by dask:
            # the future is pending again, and waiting for it here would never end
            # without workers; it goes back to the pending ones (the watchdog below)
            try:
                if f.status == "finished":
                    results[where[f.key]] = f.result(timeout=max(10 * poll, 10))
                    continue
                exc = f.exception(timeout=max(10 * poll, 10))
            except TimeoutError:
                pending.add(f)
                continue
            if isinstance(exc, KilledWorker):
                lost.append(where[f.key])
                continue
            for other in pending:
                other.cancel()
            f.result()  # raises the task's own error
        if not pending:
            break
        try:
            nworkers = len(client.nthreads())
        except Exception:
            nworkers = 0
        if nworkers:
            seen_worker, alone_since = True, None
        elif seen_worker:
            alone_since = alone_since or time.monotonic()
            if time.monotonic() - alone_since > LOST_WORKERS_TIMEOUT:
                lost += [where[f.key] for f in pending]
                for f in pending:
                    f.cancel()
                break
    if lost:
        lost = sorted(lost)
        done_ = sorted(results)
        raise WorkersLostError(
            f"the dask workers died (SLURM jobs cancelled or ended) before DSSC module(s) "
            f"{lost} were binned; module(s) {done_ or 'none'} are complete. Run the same "
            "binning again: complete module files are skipped and only the missing ones "
            "are binned (on a new cluster if this one has no workers left).",
            lost,
        )
    return [results[m] for m in modules]
