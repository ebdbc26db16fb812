"""One DSSC module binned into an ``xarray.Dataset``.

The binners become bin indices per frame (``bins``), the frames are summed by
the shared frame binning (``detectors.frames``) and the sums become::

    data  (<train axis>, pulse, x, y) float32  mean of (raw - dark) [/ XGM] per bin
    hist  (<train axis>, pulse)       int64    number of frames in the bin
    xgm   (<train axis>, pulse)       float32  mean XGM of those frames (if loaded)

with a length-1 ``module`` dimension, so that the module files combine with
``xr.open_mfdataset(path + '/*.h5', parallel=True, join='inner')``.
"""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import xarray as xr

from ....errors import ToolBoxValueError
from ...frames import bin_frames
from . import raw
from .bins import check_binner, per_frame, pulse_bin_index, train_bin_index

__all__ = ["dark_for_module", "params_hash", "bin_module_dataset"]


def dark_for_module(dark_image, module, frames_per_train):
    """The dark of one module, checked against the module's frames.

    Parameters
    ----------
    dark_image : array_like, xarray.DataArray, xarray.Dataset or None
        (frames, 128, 512) or (128, 512), or a DataArray/Dataset with a
        ``module`` dimension (and trainId, averaged); None: no dark.
    module : int
        DSSC module.
    frames_per_train : int
        Frames per train of the run.

    Returns
    -------
    numpy.ndarray or None
        (frames, 128, 512) or (1, 128, 512) float32 ADU.
    """
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
                    f"{d.coords['module'].values.tolist()}. Process the dark for this module."
                )
            d = d.sel(module=module)
        for dim in ("trainId",) + tuple(
            x for x in d.dims if x not in ("pulse", "x", "y", "trainId")
        ):
            if dim in d.dims:
                d = d.mean(dim) if d.sizes[dim] > 1 else d.squeeze(dim, drop=True)
        order = [x for x in ("pulse", "x", "y") if x in d.dims]
        d = d.transpose(*order).values
    d = np.asarray(d, np.float32)
    if d.ndim == 2:
        d = d[None]
    if d.ndim != 3 or d.shape[1:] != raw.MODULE_SHAPE:
        raise ToolBoxValueError(
            f"the dark image has shape {d.shape}; expected (frames, 128, 512) or (128, 512) "
            f"for one DSSC module"
        )
    if d.shape[0] not in (1, frames_per_train):
        raise ToolBoxValueError(
            f"the dark has {d.shape[0]} frames per train but the run records "
            f"{frames_per_train} (DSSC module {module}); take a dark run with the same "
            "number of frames, or average the dark over frames"
        )
    return d


# -- one module -------------------------------------------------------------------
def params_hash(params: dict) -> str:
    """A short hash of binning parameters (stored in module files).

    Parameters
    ----------
    params : dict
        JSON-serialisable parameters (others through ``str``).

    Returns
    -------
    str
        16 hex digits of the SHA-1 of the sorted JSON.
    """
    return hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


def bin_module_dataset(
    run_dir,
    module,
    binners,
    dark_image=None,
    xgm=None,
    xgm_normalization=False,
    normevery=1,
    pulsemask=None,
    train_dim="trainId",
    chunksize=None,
    prefetch=True,
    progress=False,
    attrs=None,
    _interrupt_after=None,
):
    """Bin one module into an ``xarray.Dataset`` (see the module docstring).

    Parameters
    ----------
    run_dir : str
        Folder of the run's raw files.
    module : int
        DSSC module 0..15.
    binners : dict
        {'trainId': DataArray, 'pulse': DataArray, ['x', 'y']}; a missing
        trainId binner puts all trains in one bin, a missing pulse binner keeps
        every frame apart.
    dark_image : array_like, optional
        Dark subtracted per memory cell (``dark_for_module``), ADU.
    xgm : xarray.DataArray, optional
        (trainId, pulse) XGM pulse energy (µJ) with DSSC frame numbers as pulse
        coordinate (``get_xgm_formatted``); frames without XGM are not normalised.
    xgm_normalization : bool
        Divide each frame by its XGM pulse energy.
    normevery : int
        Normalise one frame out of ``normevery``.
    pulsemask : xarray.DataArray, optional
        Boolean (trainId, pulse) like ``xgm``; False drops a frame.
    train_dim : str
        Name of the train axis of the result (e.g. 'delay').
    chunksize : int, optional
        Trains per read.
    prefetch : bool
        Read the next chunk in a thread while the kernel runs.
    progress : bool
        Show a progress bar.
    attrs : dict, optional
        Attributes added to the dataset.

    Returns
    -------
    xarray.Dataset
        data (train_dim, pulse, module, x, y) float32, hist, [xgm], with the
        module number as a length-1 ``module`` dimension.
    """
    module = raw.check_module(module)
    for k, b in binners.items():
        check_binner(k, b)
    idx = raw.index_module(run_dir, module)
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
        norm[:: max(1, int(normevery))] = True
        good = np.isfinite(xgm_f) & (xgm_f > 0) & norm[None, :]
        bad = np.isfinite(xgm_f) & (xgm_f <= 0) & norm[None, :]
        if bad.any():
            warnings.warn(f"{int(bad.sum())} frames have XGM <= 0 and are dropped", stacklevel=2)
            fb = np.where(bad, -1, fb)
        weights = np.where(good, 1.0 / np.where(good, xgm_f, 1.0), 1.0).astype(np.float32)
    dark = dark_for_module(dark_image, module, fpt)
    res = bin_frames(
        idx,
        fb,
        weights,
        nt * npb,
        chunk_trains=chunksize,
        prefetch=prefetch,
        progress=progress,
        _interrupt_after=_interrupt_after,
    )
    means = res.means(dark).reshape(nt, npb, *raw.MODULE_SHAPE).astype(np.float32)
    hist = res.counts.reshape(nt, npb)
    ds = xr.Dataset(
        {"data": ((train_dim, "pulse", "x", "y"), means), "hist": ((train_dim, "pulse"), hist)},
        coords={
            train_dim: tlabels,
            "pulse": plabels,
            "x": np.arange(raw.MODULE_SHAPE[0]),
            "y": np.arange(raw.MODULE_SHAPE[1]),
        },
    )
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
    ds.attrs.update(
        {
            "frames_per_train": fpt,
            "trains": len(tids),
            "bytes_read": int(res.nbytes),
            "xgm_normalization": int(bool(xgm_normalization)),
            "dark_subtracted": int(dark is not None),
            # frames left out for values above the ADC range (corrupted data)
            "excluded_frames": int(res.excluded_frames),
            "out_of_range_values": int(res.out_of_range),
            "excluded": res.excluded_text(),
        }
    )
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
