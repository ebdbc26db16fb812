"""Processing DSSC modules: one module (ToolBox ``process_dssc_data``) and many
modules in parallel as dask tasks (local cluster or SLURM)."""
from __future__ import annotations

import os

from ...errors import ToolBoxValueError
from . import core, engine

__all__ = ["process_dssc_data", "process_modules", "get_client", "guarded", "report_text"]


def process_dssc_data(proposal, run_nr, module, chunksize, info, dssc_binners, path="./",
                      pulsemask=None, dark_image=None, xgm_mnemonic="SCS_SA3",
                      xgm_normalization=False, normevery=1, *, xgm=None,
                      dssc_coords_stride=1, overwrite=False, train_dim="trainId",
                      attrs=None, progress=False, prefetch=True, _interrupt_after=None):
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
    from .misc import get_xgm_formatted
    run_dir = engine.run_directory(proposal, run_nr)
    module = engine.check_module(module)   # (info is informative: the module's INDEX rules)
    if xgm is None and xgm_normalization:
        from ...load import open_run
        run = open_run(proposal, run_nr, include="*DA*")
        xgm = get_xgm_formatted(run, xgm_mnemonic, dssc_coords_stride)
    if pulsemask is not None and not hasattr(pulsemask, "dims"):
        raise ToolBoxValueError("pulsemask must be an xarray.DataArray (trainId, pulse) as made "
                                "by DSSCBinner.create_pulsemask")
    params = {"proposal": str(proposal), "run": int(run_nr), "module": module,
              "binners": {k: (v.values.tolist(), v.coords[k].values.tolist())
                          for k, v in dssc_binners.items()},
              "dark": (None if dark_image is None else
                       f"run {attrs['dark_run']}" if callable(dark_image) and attrs
                       and "dark_run" in attrs else
                       _dark_digest(dark_image, module) if not callable(dark_image)
                       else "callable"),
              "xgm_normalization": bool(xgm_normalization), "normevery": int(normevery),
              "xgm_mnemonic": xgm_mnemonic, "pulsemask": None if pulsemask is None else
              int(pulsemask.values.sum()), **(attrs or {})}
    phash = core.params_hash(params)
    fname = None
    if path is not None:
        fname = os.path.join(str(path), core.module_filename(run_nr, module))
        if not overwrite and core.complete_file(fname, phash):
            from .data import load_xarray
            return load_xarray(fname)
        core.clean_stale_parts(str(path), fname)
    if callable(dark_image):            # computed only when the module is (re)binned
        dark_image = dark_image()
    ds = core.bin_module_dataset(
        run_dir, module, dssc_binners, dark_image=dark_image, xgm=xgm,
        xgm_normalization=xgm_normalization, normevery=normevery, pulsemask=pulsemask,
        train_dim=train_dim, chunksize=chunksize, progress=progress, prefetch=prefetch,
        attrs={"proposal": str(proposal), "run": int(run_nr), "params_hash": phash,
               **{k: v for k, v in (attrs or {}).items()
                  if isinstance(v, (str, int, float))}},
        _interrupt_after=_interrupt_after)
    if fname is not None:
        core.write_atomic(ds, fname)
    return ds


def _dark_digest(dark, module):
    import hashlib
    d = core.dark_for_module(dark, module, _frames_of(dark))
    return hashlib.sha1(d.tobytes()).hexdigest()[:16]


def process_to_file(**kwargs):
    """A dask task: process one module into its file; returns the file name."""
    process_dssc_data(**kwargs)
    return os.path.join(str(kwargs["path"]),
                        core.module_filename(kwargs["run_nr"], kwargs["module"]))


def _frames_of(dark):
    import numpy as np
    import xarray as xr
    d = dark["data"] if isinstance(dark, xr.Dataset) else dark
    if isinstance(d, xr.DataArray):
        return d.sizes.get("pulse", 1)
    d = np.asarray(d)
    return d.shape[0] if d.ndim == 3 else 1


# -- per-module outcome --------------------------------------------------------------
def guarded(task, module, output=None, **kwargs):
    """Run ``task(module=module, **kwargs)`` and never raise (except an interruption):
    ``{'module', 'status': 'done' | 'skipped' | 'failed', 'file', 'reason'}``.
    'skipped' means the complete output file ``output`` was reused unchanged."""
    before = None
    if output is not None:
        try:
            before = os.stat(output).st_mtime_ns
        except OSError:
            pass
    try:
        result = task(module=module, **kwargs)
    except Exception as exc:  # noqa: BLE001 - reported per module, raised by the caller
        return {"module": module, "status": "failed", "file": None,
                "reason": f"{type(exc).__name__}: {exc}", "error": exc}
    status, reason = "done", ""
    if before is not None and output is not None:
        try:
            if os.stat(output).st_mtime_ns == before:
                status, reason = "skipped", "complete file with the same parameters reused"
        except OSError:
            pass
    return {"module": module, "status": status, "file": result, "reason": reason}


def report_text(outcomes) -> str:
    """One line per module: ``module  3  failed  <reason>``; and a summary line."""
    lines = [f"module {o['module']:2d}  {o['status']:<7s}  {o['reason'] or o['file'] or ''}"
             for o in outcomes]
    n = {s: sum(o["status"] == s for o in outcomes) for s in ("done", "skipped", "failed")}
    lines.append(f"{n['done']} done, {n['skipped']} skipped, {n['failed']} failed")
    return "\n".join(lines)


# -- many modules ------------------------------------------------------------------
def get_client(n_workers=None, cluster=None, **cluster_kw):
    """A dask distributed Client: on ``cluster`` if given, else on a new cluster
    from ``scs_nb.batch.cluster.make_cluster`` (local by default; SLURM when
    asked). Returns (client, owned) where owned tells the
    caller to close the cluster it started."""
    from distributed import Client
    if cluster is not None:
        return Client(cluster), False
    from ...batch.cluster import make_cluster
    n = max(1, int(n_workers or min(os.cpu_count() or 1, 4)))
    cluster_kw.setdefault("cores", n)
    cluster_kw.setdefault("dashboard_address", None)
    return Client(make_cluster(**cluster_kw)), True


def process_modules(task, modules, kwargs_of, backend="dask", n_jobs=None, cluster=None,
                    client=None, **cluster_kw):
    """Run ``task(**kwargs_of(module))`` for every module: one dask task per
    module (backend 'dask'; 'loky'/'multiprocessing' are the same here), in
    threads ('threading') or one after the other ('sequential').
    Returns the results in module order."""
    modules = list(modules)
    if backend == "sequential" or (len(modules) == 1 and client is None and cluster is None):
        return [task(**kwargs_of(m)) for m in modules]
    if backend == "threading":
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max(1, int(n_jobs or 2))) as pool:
            return list(pool.map(lambda m: task(**kwargs_of(m)), modules))
    if backend not in ("dask", "loky", "multiprocessing"):
        raise ToolBoxValueError(f"backend must be 'dask', 'sequential' or 'threading', "
                                f"got {backend!r}")
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
        futures = [client.submit(task, pure=False,
                                 **{k: ship(v) for k, v in kwargs_of(m).items()})
                   for m in modules]
        return client.gather(futures)
    finally:
        if owned:
            cl = client.cluster
            client.close()
            if cl is not None:
                cl.close()
