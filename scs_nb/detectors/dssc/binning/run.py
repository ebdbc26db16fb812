"""DSSC module binning, the main path (the ToolBox's "Dask DSSC module binning").

Bin all (or a group of) DSSC modules of a run against photon energy
(``xaxis='nrj'``), the BAM-corrected pump-probe delay in ps (``'delay'``) or any
slow mnemonic, with a repeated pulse pattern such as ``['pumped', 'unpumped']``;
dark-subtracted (a dark run) and optionally XGM-normalised; XGM binned alike.
One file per module, ``run_<run>_module<m>.h5``, combined with::

    xr.open_mfdataset(path + '/*.h5', parallel=True, join='inner')

Each module is one dask task (a local cluster by default, SLURM through
``scs_nb.parallel.cluster``); a complete module file is skipped on rerun unless
``overwrite=True``.

Example::

    import scs_nb as tb
    files = tb.bin_dssc(900001, 2, modules=[0, 1, 2, 3], dark_run=1, xaxis='delay',
                        bin_width=0.1, pattern=['pumped', 'unpumped'], path='binned')
    data = tb.open_binned_dssc('binned')
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import xarray as xr

from ....atomic import check_writable_dir
from ....errors import ToolBoxError, ToolBoxFileError, ToolBoxPathError, ToolBoxValueError
from ....facility import C_MM_PER_PS
from ....facility.paths import processed_dir
from ....load import get_array, open_run
from ....progress import resolve as resolve_progress
from ....reader.damage import check_readable
from ...frames import bin_frames
from . import raw
from .bins import create_dssc_bins, pattern_binner
from .inputs import get_xgm_formatted
from .process import guarded, process_modules, process_to_file, report_text
from .store import module_filename

__all__ = [
    "bin_dssc",
    "dssc_xaxis",
    "dssc_dark",
    "module_group",
    "bin_labels",
    "open_binned_dssc",
    "default_output_path",
    "DSSCModulesError",
    "ModuleFiles",
]


def module_group(group, per_group=4):
    """The modules of a module group (4 groups of 4 modules, as the SLURM jobs
    of the ToolBox).

    Parameters
    ----------
    group : int
        Group number 0..(16 / per_group - 1).
    per_group : int
        Modules per group.

    Returns
    -------
    list of int
        Modules ``per_group * group`` .. ``per_group * (group + 1) - 1``.
    """
    g = int(group)
    n = 16 // per_group
    if not 0 <= g < n:
        raise ToolBoxValueError(
            f"module group must be 0..{n - 1} ({per_group} modules each), got {group}"
        )
    return list(range(per_group * g, per_group * (g + 1)))


def default_output_path(proposal, run):
    """The default output folder of a binned run, as the ToolBox SLURM script.

    Parameters
    ----------
    proposal : int
        Proposal number (None with ``run`` a folder).
    run : int
        Run number.

    Returns
    -------
    str
        ``<proposal>/usr/processed_runs/r<run>`` (4-digit run).
    """
    run_dir = raw.run_directory(proposal, run)
    prop_dir = os.path.dirname(os.path.dirname(os.path.abspath(run_dir)))
    return str(processed_dir(prop_dir, run))


def _train_mean_nonzero(arr):
    v = np.asarray(arr.values, float)
    v = np.where(v == 0, np.nan, v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(v, axis=1) if v.ndim == 2 else v


def dssc_xaxis(run, xaxis="delay", bam="BAM1932M", delay_origin=0.0, invert=True, reflections=1):
    """The per-train coordinate to bin against, as a DataArray along trainId.

    Parameters
    ----------
    run : extra_data.DataCollection
        The run (its DA files).
    xaxis : str
        'delay': delay line (PP800_DelayLine, mm) -> ps (positionToDelay) minus
        the train-averaged BAM arrival time; 'nrj': mono photon energy (eV); any
        other name: that slow mnemonic.
    bam : str or None
        BAM mnemonic of the delay correction (fs, train-averaged); None: none.
    delay_origin : float
        Delay line position of time zero (mm).
    invert : bool
        Invert the sign of the delay.
    reflections : int
        Passes of the laser over the delay line.

    Returns
    -------
    xarray.DataArray
        Along trainId, named after ``xaxis`` ('delay' in ps).
    """
    return xaxis_from(
        lambda name: get_array(run, name), xaxis, bam, delay_origin, invert, reflections
    )


def xaxis_from(get, xaxis="delay", bam="BAM1932M", delay_origin=0.0, invert=True, reflections=1):
    """``dssc_xaxis`` from arrays got by name (a run's, or a live stream's trains).

    Parameters
    ----------
    get : callable
        ``get(mnemonic)`` -> the DataArray over trainId as ``get_array`` reads it.
    xaxis, bam, delay_origin, invert, reflections
        As ``dssc_xaxis``.

    Returns
    -------
    xarray.DataArray
        Along trainId, named after ``xaxis`` ('delay' in ps).
    """
    if xaxis == "delay":
        pos = get("PP800_DelayLine")
        delay = (pos - delay_origin) * 2 * reflections / C_MM_PER_PS
        if invert:
            delay = -delay
        if bam:
            try:
                b = get(bam)
            except Exception as exc:
                raise ToolBoxValueError(
                    f"cannot load BAM {bam!r} to correct the delay ({exc});"
                    " pass bam=None for no correction"
                ) from None
            bam_ps = xr.DataArray(
                _train_mean_nonzero(b) * 1e-3, dims="trainId", coords={"trainId": b.trainId}
            )
            delay, bam_ps = xr.align(delay, bam_ps, join="inner")
            delay = delay - bam_ps.fillna(0)
        return delay.rename("delay").assign_attrs(units="ps")
    try:
        arr = get(xaxis)
    except Exception as exc:
        raise ToolBoxValueError(
            f"cannot load xaxis {xaxis!r}: {exc}. Use 'delay', 'nrj' or a "
            "mnemonic of a slow channel"
        ) from None
    if arr.ndim != 1:
        raise ToolBoxValueError(
            f"xaxis {xaxis!r} has dims {arr.dims}; a slow (one value per train) channel is needed"
        )
    return arr.rename(xaxis)


def bin_labels(values, bin_width):
    """The bin label of each value: the nearest multiple of ``bin_width``.

    Labels are rounded to the digits the bin width needs (no ``0.30000000000000004``)
    and ``-0.0`` becomes ``0.0``, so they are clean coordinates and group equal bins.

    Parameters
    ----------
    values : array-like
        Scan values (delay in ps, photon energy in eV, ...).
    bin_width : float
        Bin width, same unit (> 0).

    Returns
    -------
    numpy.ndarray
        Float labels, one per value.

    Raises
    ------
    ToolBoxValueError
        ``bin_width`` is not > 0.
    """
    if bin_width is None or bin_width <= 0:
        raise ToolBoxValueError(f"bin_width must be > 0, got {bin_width}")
    b = np.round(np.asarray(values, float) / bin_width) * bin_width
    ndig = max(0, int(np.ceil(-np.log10(bin_width))) + 3)
    return np.round(b, ndig) + 0.0  # no -0.0 label


def dssc_dark(proposal, dark_run, module, chunksize=None, progress=False):
    """Mean dark of one module per memory cell.

    Parameters
    ----------
    proposal : int
        Proposal number.
    dark_run : int
        The dark run.
    module : int
        DSSC module 0..15.
    chunksize : int, optional
        Trains per read.
    progress : bool
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        (frames, 128, 512) float32 mean ADU per memory cell.
    """
    run_dir = raw.run_directory(proposal, dark_run)
    idx = raw.index_module(run_dir, module)
    fpt = idx.frames_per_train
    fb = np.tile(np.arange(fpt), (len(idx.train_ids), 1))
    res = bin_frames(idx, fb, None, fpt, chunk_trains=chunksize, progress=progress)
    return res.means().reshape(fpt, *raw.MODULE_SHAPE).astype(np.float32)


def _module_task(proposal, run_nr, module, dark_run, **kwargs):
    """One dask task: the binning of one module to its file, with the dark of
    the module (computed only if the module is binned)."""
    load_dark = None
    if dark_run is not None:

        def load_dark():
            d = dssc_dark(proposal, dark_run, module, chunksize=kwargs.get("chunksize"))
            fpt = raw.index_module(raw.run_directory(proposal, run_nr), module).frames_per_train
            if d.shape[0] != fpt:
                raise ToolBoxValueError(
                    f"dark run {dark_run} records {d.shape[0]} frames per train but run "
                    f"{run_nr} records {fpt} (DSSC module {module}); take a dark with the same "
                    "DSSC settings"
                )
            return d

    return process_to_file(
        proposal=proposal, run_nr=run_nr, module=module, dark_image=load_dark, **kwargs
    )


def bin_dssc(
    proposal,
    run,
    modules=None,
    xaxis="delay",
    bin_width=0.1,
    pattern=("pumped", "unpumped"),
    dark_run=None,
    path=None,
    xgm_normalization=True,
    xgm_name="SCS_SA3",
    dssc_coords_stride=1,
    normevery=1,
    bam="BAM1932M",
    delay_origin=0.0,
    chunksize=None,
    overwrite=False,
    backend="dask",
    n_workers=None,
    cluster=None,
    client=None,
    progress=None,
):
    """Bin DSSC modules of a run; returns the list of module files.

    Parameters
    ----------
    proposal, run: int
    modules: list of int
        default: all modules of the run. ``module_group(g)`` gives a group.
    xaxis: str
        'delay' (ps, BAM corrected), 'nrj' (eV) or a slow mnemonic.
    bin_width: float
        width of the xaxis bins (values rounded to multiples of it).
    pattern: list of str
        pulse pattern repeated over the DSSC frames of a train, e.g.
        ['pumped', 'unpumped'] or ['pumped', 'intra_dark', 'unpumped',
        'intra_dark']; frames labelled '' are dropped.
    dark_run: int
        dark run subtracted per memory cell; None: no dark subtraction.
    path: str
        output folder (default ``<proposal>/usr/processed_runs/r<run>``).
    xgm_normalization: bool
        divide each X-ray frame by its XGM pulse energy (µJ).
    dssc_coords_stride: int
        XGM pulse j is DSSC frame j*stride (2 with intra-darks).
    backend: 'dask' (one task per module), 'sequential' (this process).
    n_workers, cluster, client: where the dask tasks run (default: a local
        cluster from ``scs_nb.parallel.make_cluster``).
    overwrite: bool
        redo complete module files.
    progress: bool or None
        progress bars (modules done; chunks of a module binned in this process); True
        also prints a per-module report. None (default): bars when someone watches,
        i.e. stderr is a terminal or this runs in a Jupyter kernel
        (``scs_nb.progress.interactive``); quiet in SLURM jobs and scripts with
        redirected output.
    """
    report = bool(progress)  # the per-module report only when asked for
    progress = resolve_progress(progress)
    run_dir = raw.run_directory(proposal, run)
    present = raw.present_modules(run_dir)
    if not present:
        raise ToolBoxValueError(
            f"run {run} of proposal {proposal} has no DSSC files (RAW-R####-DSSC##-S#####.h5) "
            f"in {run_dir}; bin_dssc needs a run recorded with the DSSC"
        )
    if modules is not None and (
        isinstance(modules, (str, bytes, dict)) or not hasattr(modules, "__iter__")
    ):
        raise ToolBoxValueError(
            f"modules must be a list of DSSC module numbers 0..15, e.g. "
            f"modules=[{modules!r}] or module_group(0); got {modules!r}"
        )
    modules = present if modules is None else [raw.check_module(m) for m in modules]
    if not modules:
        raise ToolBoxValueError(
            f"modules is empty; pass modules from {present} (or None for all of them)"
        )
    missing = [m for m in modules if m not in present]
    if missing:
        raise ToolBoxPathError(
            f"DSSC modules {missing} have no files in {run_dir} (run {run}); modules present: "
            f"{present or 'none'}. Pass modules=... from those."
        )
    if dark_run is not None:
        dark_dir = raw.run_directory(proposal, dark_run)
        dmiss = [m for m in modules if not raw.module_files(dark_dir, m)]
        if dmiss:
            raise ToolBoxPathError(f"dark run {dark_run} has no files for DSSC modules {dmiss}")
    path = path or default_output_path(proposal, run)
    check_writable_dir(path, "DSSC output folder", "path=")
    os.makedirs(path, exist_ok=True)
    # the scan variable and the XGM come from the DA files: an unreadable one is named
    # here rather than blamed on the mnemonic that it holds
    check_readable(run_dir, "*-DA*.h5", f"run {run} file")
    data = open_run(proposal, run, include="*DA*")
    fpt, first_error = None, None
    for m in modules:  # the frames per train, from the first intact module
        try:
            fpt = raw.index_module(run_dir, m).frames_per_train
            break
        except ToolBoxError as exc:
            first_error = first_error or exc
    if fpt is None:
        raise first_error
    x = dssc_xaxis(data, xaxis, bam=bam, delay_origin=delay_origin)
    xb = bin_labels(x.values, bin_width)
    binners = {
        "trainId": create_dssc_bins("trainId", x.trainId.values, xb),
        "pulse": pattern_binner(pattern, fpt),
    }
    xgm = None
    try:
        xgm = get_xgm_formatted(data, xgm_name, dssc_coords_stride)
    except Exception as exc:
        if xgm_normalization:
            raise ToolBoxValueError(
                f"XGM {xgm_name!r} needed for xgm_normalization: {exc}"
            ) from None
        warnings.warn(f"no XGM {xgm_name!r} ({exc}); the binned data has no xgm", stacklevel=2)
    attrs = {
        "xaxis": xaxis,
        "bin_width": float(bin_width),
        "pattern": ",".join(pattern),
        "dark_run": -1 if dark_run is None else int(dark_run),
        "bam": bam or "",
        "xgm_name": xgm_name,
        "dssc_coords_stride": int(dssc_coords_stride),
    }

    def kwargs_of(m):
        return dict(
            task=_module_task,
            module=m,
            output=os.path.join(str(path), module_filename(run, m)),
            proposal=proposal,
            run_nr=run,
            dark_run=dark_run,
            chunksize=chunksize,
            info=None,
            dssc_binners=binners,
            path=path,
            xgm_mnemonic=xgm_name,
            xgm_normalization=xgm_normalization,
            normevery=normevery,
            xgm=xgm,
            overwrite=overwrite,
            train_dim=xaxis,
            attrs=attrs,
            # chunk bars only in this process: a dask worker's would go to its own stderr
            progress=progress and backend == "sequential",
        )

    # every module that can be processed is; the others are reported, then raised
    outcomes = process_modules(
        guarded,
        modules,
        kwargs_of,
        backend=backend,
        n_jobs=n_workers,
        cluster=cluster,
        client=client,
        progress=progress,
    )
    files = ModuleFiles(o["file"] for o in outcomes if o["file"])
    files.report = outcomes
    failed = [o for o in outcomes if o["status"] == "failed"]
    if failed and len(failed) == len(outcomes) and isinstance(failed[0].get("error"), Exception):
        raise failed[0]["error"]  # nothing could be binned: the (first) cause
    if failed:
        raise DSSCModulesError(
            f"bin_dssc run {run}: {len(failed)} of {len(outcomes)} DSSC module(s) failed; the "
            f"others are written to {path}:\n{report_text(outcomes)}",
            outcomes,
            files,
        )
    if report:
        print(report_text(outcomes))
    return files


class ModuleFiles(list):
    """The module files written (a list), with ``report``: one dict per module
    (module, status done/skipped/failed, file, reason)."""

    report: list = []


class DSSCModulesError(ToolBoxFileError):
    """Some DSSC modules could not be binned; ``report`` says why per module and
    ``files`` lists the module files that were written."""

    def __init__(self, message, report=(), files=()):
        super().__init__(message)
        self.report = list(report)
        self.files = list(files)


def open_binned_dssc(path, parallel=True):
    """Combine the module files of a folder:
    ``xr.open_mfdataset(path + '/*.h5', parallel=True, join='inner')``.

    Parameters
    ----------
    path : str
        Folder of ``run_<run>_module<m>.h5`` files (``bin_dssc``).
    parallel : bool
        Open the files in parallel (dask).

    Returns
    -------
    xarray.Dataset
        data (<xaxis>, pulse, module, x, y), hist, xgm; lazy (dask).
    """
    if not os.path.isdir(path):
        raise ToolBoxPathError(f"{path} is not a folder of binned DSSC module files")
    if not any(f.endswith(".h5") for f in os.listdir(path)):
        raise ToolBoxPathError(f"{path} has no binned module files (*.h5)")
    return xr.open_mfdataset(
        os.path.join(str(path), "*.h5"), parallel=parallel, join="inner", engine="h5netcdf"
    )
