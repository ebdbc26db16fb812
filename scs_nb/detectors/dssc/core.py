"""From binners to binned per-module datasets and their files.

A *binner* is what ``create_dssc_bins`` returns: a DataArray along ``trainId``
(or ``pulse``, ``x``, ``y``) whose values are the bin labels. Here they become
integer bin indices per frame for the engine, and the engine's sums become an
``xarray.Dataset`` per module:

    data  (<train axis>, pulse, x, y) float32  mean of (raw - dark) [/ XGM] per bin
    hist  (<train axis>, pulse)       int64    number of frames in the bin
    xgm   (<train axis>, pulse)       float32  mean XGM of those frames (if loaded)

with a length-1 ``module`` dimension, so that the module files combine with
``xr.open_mfdataset(path + '/*.h5', parallel=True, join='inner')``.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings

import numpy as np
import xarray as xr

from ...atomic import replacing
from ...errors import ToolBoxFileError, ToolBoxTypeError, ToolBoxValueError
from . import engine

BINNER_NAMES = ("trainId", "pulse", "x", "y")


def module_filename(run, module) -> str:
    return f"run_{int(run)}_module{int(module)}.h5"


# -- binners -> indices --------------------------------------------------------
def _labels(values):
    """Unique bin labels: sorted numbers (NaN dropped), or strings in the order
    they first appear."""
    v = np.asarray(values)
    if v.dtype.kind in "fiu":
        u = np.unique(v[~np.isnan(v.astype(float))]) if v.dtype.kind == "f" else np.unique(v)
        return u
    seen = []
    for x in v.tolist():
        if x is None or x == "" or (isinstance(x, float) and np.isnan(x)):
            continue
        if x not in seen:
            seen.append(x)
    return np.array(seen, dtype=object if not seen else None)


def _index_of(values, labels):
    v = np.asarray(values)
    out = np.full(v.shape, -1, np.int64)
    lookup = {lab: i for i, lab in enumerate(np.asarray(labels).tolist())}
    for j, x in enumerate(v.tolist()):
        out[j] = lookup.get(x, -1)
    return out


def check_binner(name, binner):
    if name not in BINNER_NAMES:
        raise ToolBoxValueError(f"binner name {name!r} is not one of {BINNER_NAMES}; "
                                "bin along trainId (a scan), pulse (a pattern), x or y")
    if not isinstance(binner, xr.DataArray):
        raise ToolBoxTypeError(f"binner {name!r} must be an xarray.DataArray made by "
                               f"create_dssc_bins, got {type(binner).__name__}")
    if binner.dims != (name,):
        raise ToolBoxValueError(f"binner {name!r} must have the single dimension {name!r}, "
                                f"has {binner.dims}; use create_dssc_bins({name!r}, ...)")
    return binner


def train_bin_index(binner, train_ids, module=None):
    """Bin index (ntrains,) of each train id and the bin labels."""
    b_tids = binner.coords["trainId"].values.astype(np.uint64)
    common = np.intersect1d(b_tids, train_ids)
    where = f" of DSSC module {module}" if module is not None else ""
    if len(common) == 0:
        raise ToolBoxValueError(
            f"the trainId binner covers train ids {b_tids.min() if len(b_tids) else '-'}.."
            f"{b_tids.max() if len(b_tids) else '-'} ({len(b_tids)} trains) but the run"
            f"{where} has trains {train_ids.min()}..{train_ids.max()}: none in common. "
            "Build the binner from this run's train ids (run.train_ids).")
    labels = _labels(binner.values)
    idx_of_b = _index_of(binner.values, labels)
    order = np.argsort(b_tids)
    pos = np.searchsorted(b_tids[order], train_ids)
    pos = np.clip(pos, 0, len(b_tids) - 1)
    hit = b_tids[order][pos] == train_ids
    out = np.where(hit, idx_of_b[order][pos], -1)
    missing = int((~hit).sum())
    if missing:
        warnings.warn(f"{missing} of {len(train_ids)} trains{where} are not in the trainId "
                      "binner and are not binned", stacklevel=3)
    return out, labels


def pulse_bin_index(binner, frames_per_train, module=None):
    """Bin index (frames_per_train,) of each DSSC frame (memory cell) and labels."""
    n = binner.sizes["pulse"]
    if n != frames_per_train:
        where = f"DSSC module {module}" if module is not None else "the run"
        raise ToolBoxValueError(
            f"the pulse binner has {n} entries but {where} records {frames_per_train} frames "
            f"per train; create it with create_dssc_bins('pulse', np.arange({frames_per_train})"
            ", labels) with labels repeated to that length")
    coords = binner.coords["pulse"].values if "pulse" in binner.coords else np.arange(n)
    labels = _labels(binner.values)
    idx = np.full(frames_per_train, -1, np.int64)
    vals = _index_of(binner.values, labels)
    coords = np.asarray(coords, np.int64)
    if coords.min() < 0 or coords.max() >= frames_per_train:
        raise ToolBoxValueError(f"pulse binner coordinates run {coords.min()}..{coords.max()} "
                                f"but frames are 0..{frames_per_train - 1}")
    idx[coords] = vals
    return idx, labels


def pattern_binner(pattern, frames_per_train):
    """A pulse binner repeating ``pattern`` (e.g. ['pumped', 'unpumped'])."""
    from .misc import create_dssc_bins
    pattern = list(pattern)
    if not pattern:
        raise ToolBoxValueError("the pulse pattern is empty; e.g. ['pumped', 'unpumped']")
    labels = [pattern[k % len(pattern)] for k in range(frames_per_train)]
    return create_dssc_bins("pulse", np.arange(frames_per_train), labels)


def per_frame(arr, train_ids, frames_per_train, fill=np.nan, name="xgm"):
    """A (trainId, pulse) DataArray -> (ntrains, frames) float array aligned to
    ``train_ids``; the pulse coordinate holds DSSC frame numbers."""
    out = np.full((len(train_ids), frames_per_train), fill, np.float64)
    if arr is None:
        return out
    a = arr.sel(trainId=arr.trainId.isin(train_ids.astype(arr.trainId.dtype)))
    frames = np.asarray(a.coords["pulse"].values, np.int64)
    ok = (frames >= 0) & (frames < frames_per_train)
    if not ok.all():
        a = a.isel(pulse=np.nonzero(ok)[0])
        frames = frames[ok]
    rows = np.searchsorted(train_ids, a.trainId.values.astype(np.uint64))
    out[np.ix_(rows, frames)] = a.transpose("trainId", "pulse").values
    return out


# -- dark -------------------------------------------------------------------------
def dark_for_module(dark_image, module, frames_per_train):
    """(frames, 128, 512) or (1, 128, 512) float32 dark of one module, checked."""
    if dark_image is None:
        return None
    d = dark_image
    if isinstance(d, xr.Dataset):
        d = d["data"]
    if isinstance(d, xr.DataArray):
        if "module" in d.dims:
            if module not in d.coords.get("module", xr.DataArray([])).values.tolist():
                raise ToolBoxValueError(
                    f"the dark has no module {module}; it has modules "
                    f"{d.coords['module'].values.tolist()}. Process the dark for this module.")
            d = d.sel(module=module)
        for dim in ("trainId",) + tuple(x for x in d.dims
                                         if x not in ("pulse", "x", "y", "trainId")):
            if dim in d.dims:
                d = d.mean(dim) if d.sizes[dim] > 1 else d.squeeze(dim, drop=True)
        order = [x for x in ("pulse", "x", "y") if x in d.dims]
        d = d.transpose(*order).values
    d = np.asarray(d, np.float32)
    if d.ndim == 2:
        d = d[None]
    if d.ndim != 3 or d.shape[1:] != engine.MODULE_SHAPE:
        raise ToolBoxValueError(
            f"the dark image has shape {d.shape}; expected (frames, 128, 512) or (128, 512) "
            f"for one DSSC module")
    if d.shape[0] not in (1, frames_per_train):
        raise ToolBoxValueError(
            f"the dark has {d.shape[0]} frames per train but the run records "
            f"{frames_per_train} (DSSC module {module}); take a dark run with the same "
            "number of frames, or average the dark over frames")
    return d


# -- one module -------------------------------------------------------------------
def params_hash(params: dict) -> str:
    return hashlib.sha1(json.dumps(params, sort_keys=True, default=str)
                        .encode()).hexdigest()[:16]


def bin_module_dataset(run_dir, module, binners, dark_image=None, xgm=None,
                       xgm_normalization=False, normevery=1, pulsemask=None,
                       train_dim="trainId", chunksize=None, prefetch=True, progress=False,
                       attrs=None, _interrupt_after=None):
    """Bin one module into an ``xarray.Dataset`` (see module docstring).

    binners: {'trainId': DataArray, 'pulse': DataArray, ['x', 'y']}; a missing
        trainId binner puts all trains in one bin, a missing pulse binner keeps
        every frame apart.
    xgm: DataArray (trainId, pulse) with DSSC frame numbers as pulse coordinate
        (get_xgm_formatted); frames without XGM are not normalised.
    pulsemask: boolean DataArray (trainId, pulse) like xgm; False drops a frame.
    """
    module = engine.check_module(module)
    for k, b in binners.items():
        check_binner(k, b)
    idx = engine.index_module(run_dir, module)
    fpt = idx.frames_per_train
    tids = idx.train_ids
    if "trainId" in binners:
        tb, tlabels = train_bin_index(binners["trainId"], tids, module)
    else:
        tb, tlabels = np.zeros(len(tids), np.int64), np.array([0])
    if "pulse" in binners:
        pb, plabels = pulse_bin_index(binners["pulse"], fpt, module)
    else:
        pb, plabels = np.arange(fpt), np.arange(fpt)
    nt, npb = len(tlabels), len(plabels)
    fb = np.where((tb[:, None] >= 0) & (pb[None, :] >= 0), tb[:, None] * npb + pb[None, :], -1)
    xgm_f = per_frame(xgm, tids, fpt) if xgm is not None else None
    if pulsemask is not None:
        keep = per_frame(pulsemask.astype(float), tids, fpt, fill=1.0) > 0.5
        fb = np.where(keep, fb, -1)
    weights = np.ones((len(tids), fpt), np.float32)
    if xgm_normalization:
        if xgm_f is None:
            raise ToolBoxValueError("xgm_normalization=True needs XGM data (load_xgm())")
        norm = np.zeros(fpt, bool)
        norm[::max(1, int(normevery))] = True
        good = np.isfinite(xgm_f) & (xgm_f > 0) & norm[None, :]
        bad = np.isfinite(xgm_f) & (xgm_f <= 0) & norm[None, :]
        if bad.any():
            warnings.warn(f"{int(bad.sum())} frames have XGM <= 0 and are dropped",
                          stacklevel=2)
            fb = np.where(bad, -1, fb)
        weights = np.where(good, 1.0 / np.where(good, xgm_f, 1.0), 1.0).astype(np.float32)
    dark = dark_for_module(dark_image, module, fpt)
    res = engine.bin_module(idx, fb, weights, nt * npb, chunk_trains=chunksize,
                            prefetch=prefetch, progress=progress,
                            _interrupt_after=_interrupt_after)
    means = res.means(dark).reshape(nt, npb, *engine.MODULE_SHAPE).astype(np.float32)
    hist = res.counts.reshape(nt, npb)
    ds = xr.Dataset(
        {"data": ((train_dim, "pulse", "x", "y"), means),
         "hist": ((train_dim, "pulse"), hist)},
        coords={train_dim: tlabels, "pulse": plabels,
                "x": np.arange(engine.MODULE_SHAPE[0]), "y": np.arange(engine.MODULE_SHAPE[1])})
    if xgm_f is not None:
        ok = (fb >= 0) & np.isfinite(xgm_f)
        s = np.bincount(fb[ok], xgm_f[ok], minlength=nt * npb)
        c = np.bincount(fb[ok], minlength=nt * npb)
        with np.errstate(invalid="ignore", divide="ignore"):
            ds["xgm"] = ((train_dim, "pulse"), (s / c).reshape(nt, npb).astype(np.float32))
    for name in ("x", "y"):
        if name in binners:
            ds = _bin_pixels(ds, name, binners[name])
    ds = ds.expand_dims(module=[module])
    ds["data"] = ds["data"].transpose(train_dim, "pulse", "module", "x", "y")
    ds.attrs.update({"frames_per_train": fpt,
                     "trains": len(tids), "bytes_read": int(res.nbytes),
                     "xgm_normalization": int(bool(xgm_normalization)),
                     "dark_subtracted": int(dark is not None),
                     # frames left out for values above the ADC range (corrupted data)
                     "excluded_frames": int(res.excluded_frames),
                     "out_of_range_values": int(res.out_of_range),
                     "excluded": res.excluded_text()})
    ds.attrs.update(attrs or {})
    return ds


def _bin_pixels(ds, name, binner):
    """Bin along x or y after the frames are reduced (pixels of a bin are
    averaged: every pixel of a (train, pulse) bin has the same frame count)."""
    lab = binner.rename(name)
    data = ds["data"].groupby(lab.rename(f"{name}_bin")).mean(name)
    data = data.rename({f"{name}_bin": name})
    out = ds.drop_vars(["data", name]).assign(data=data)
    return out


# -- files -------------------------------------------------------------------------
def _local_write_lock(ds):
    """Inside a dask worker, xarray guards every HDF5 write with a distributed
    ``Lock`` (a scheduler round trip per variable: 16 per module file, 0.03-0.06 s
    of each task). A module file is written by one task, from numpy arrays, to a
    temporary name of its own: a process-local lock is enough. xarray picks the
    lock from dask's scheduler; for a dataset without dask arrays that is set to
    the synchronous one while writing (nothing is computed with it)."""
    import contextlib
    if any(v.chunks for v in ds.variables.values()):
        return contextlib.nullcontext()
    try:
        import dask
    except ImportError:
        return contextlib.nullcontext()
    return dask.config.set(scheduler="synchronous")


def write_atomic(ds: xr.Dataset, fname: str, group=None):
    """Write a dataset with h5netcdf (into ``group``, default the root) to a
    temporary name in the same folder (not matching *.h5), then rename: never a
    half-written module file."""
    with replacing(fname) as tmp, _local_write_lock(ds):
        ds.to_netcdf(tmp, group=group, engine="h5netcdf", mode="w")
    return fname


def complete_file(fname, phash):
    """True if ``fname`` is a finished module file made with the same
    parameters; raise if it was made with others."""
    if not os.path.exists(fname):
        return False
    import h5py
    try:
        with h5py.File(fname, "r") as f:
            old = f.attrs.get("params_hash")
    except OSError:
        return False        # unreadable leftover: redo it
    old = old.decode() if isinstance(old, bytes) else old
    if old == phash:
        return True
    raise ToolBoxFileError(
        f"{fname} exists and was binned with other parameters (hash {old} != {phash}); "
        "pass overwrite=True to replace it, or choose another output folder")


def clean_stale_parts(folder, fname):
    base = "." + os.path.basename(fname) + "."
    if not os.path.isdir(folder):
        return
    for f in os.listdir(folder):
        if f.startswith(base) and f.endswith(".part"):
            # a leftover of a killed worker (one writer per module file)
            try:
                os.remove(os.path.join(folder, f))
            except OSError:
                pass
