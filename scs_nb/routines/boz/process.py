"""BOZ processing: ROI intensities of the corrected frames, and their signal to noise."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ...errors import ToolBoxValueError
from ...facility import DSSC_MODULE_SHAPE
from . import kernels
from .reductions import compute, histograms
from .rois import crop, crop_stack


def _dataset(sums, sat, tid, npulse):
    ds = xr.Dataset(coords={"trainId": np.asarray(tid), "pulseId": np.arange(npulse)})
    for r, v in sums.items():
        ds[r] = (("trainId", "pulseId"), np.asarray(v).reshape(len(tid), npulse))
    for r, v in sat.items():
        ds[f"{r}_sat"] = (("trainId", "pulseId"), np.asarray(v).reshape(len(tid), npulse))
    return ds


def process_module(
    arr, tid, dark, rois, mask=None, sat_level=511, flat_field=None, F_INL=None, use_gpu=False
):
    """Process one module and extract roi intensity.

    Parameters
    ----------
    arr : numpy.ndarray or dask.array.Array
        (trainId, pulseId, 128, 512) raw data.
    tid : array_like
        The train ids.
    dark : array_like
        Pulse resolved dark image (pulseId, 128, 512) to remove (ADU, computed with
        the same F_INL).
    rois : dict
        ROIs by name (each is summed).
    mask : array_like, optional
        (128, 512) mask (True = good pixel).
    sat_level : int
        Saturation level (raw ADU).
    flat_field : array_like, optional
        (128, 512) flat field.
    F_INL : array_like, optional
        Non-linearity lookup table (512 values); default the identity.
    use_gpu : bool
        Ignored: the CPU path is used.

    Returns
    -------
    xarray.Dataset
        (trainId, pulseId) ROI sums (ADU) of the corrected frames,
        ``(F_INL[raw] - dark) * mask / flat_field``, and ``'<roi>_sat'`` (a pixel of
        the roi at or above ``sat_level``).
    """
    mask = np.ones(DSSC_MODULE_SHAPE) if mask is None else np.asarray(mask, float)
    ff = np.ones(DSSC_MODULE_SHAPE) if flat_field is None else np.asarray(flat_field, float)
    w = mask / ff
    F = np.arange(512.0) if F_INL is None else np.asarray(F_INL, float)
    names = tuple(r for r in rois if all(k in rois[r] for k in ("xl", "xh", "yl", "yh")))
    h = kernels.histograms(arr, rois, w, names=names)
    dark = np.asarray(compute(dark), float)
    npulse = arr.shape[1]
    sums, sat = {}, {}
    for r in names:
        dterm = (crop_stack(dark, rois[r]) * crop(w, rois[r])[None]).sum(axis=(1, 2))
        sums[r] = (h[r].astype(np.float64) @ F) - dterm[None]
        sat[r] = kernels.saturation(arr, rois[r], sat_level)
    return _dataset(sums, sat, tid, npulse)


def process(
    Fmodel, arr_dark, arr, tid, rois, mask, flat_field, sat_level=511, use_gpu=False, cache=None
):
    """Process dark and run data with corrections.

    Parameters
    ----------
    Fmodel : array_like
        Non-linearity lookup table (512 values, ADU).
    arr_dark, arr : numpy.ndarray or dask.array.Array
        (trainId, pulseId, 128, 512) raw dark and data.
    tid : array_like
        The train ids of ``arr``.
    rois : dict
        The ROIs ``'n'``, ``'0'``, ``'p'`` and ``'sat'``.
    mask : array_like
        (128, 512) mask (True = good pixel).
    flat_field : array_like
        (128, 512) flat field.
    sat_level : int
        Saturation level (raw ADU).
    use_gpu : bool
        Ignored: the CPU path (histogram reductions) is used.
    cache : ReductionCache, optional
        Where the histograms of the data are kept (default the shared one).

    Returns
    -------
    xarray.Dataset
        The roi extracted intensities (trainId x pulseId of ``'n'``, ``'0'``, ``'p'``,
        ADU) and the ``'<roi>_sat'`` flags.
    """
    h = histograms(arr_dark, arr, rois, mask, flat_field, sat_level, cache)
    return _dataset(h.sums(Fmodel, ok_only=False), h.sat, tid, arr.shape[1])


def snr(sig, ref, methods=None, verbose=False):
    """Compute mean, std and SNR from transmitted and I0 signals.

    Parameters
    ----------
    sig, ref : array_like
        Transmitted and reference (I0) signals per frame.
    methods : list of str, optional
        None (all) or some of ``'direct'`` (mean and std of sig/ref), ``'weighted'``
        (ref-weighted mean and std of sig/ref) and ``'diff'`` (std of the difference of
        successive ratios / sqrt 2, insensitive to slow drifts).
    verbose : bool
        Print the results.

    Returns
    -------
    dict
        ``{method: {'mu': mean, 's': std}}``.
    """
    sig = np.asarray(sig, float).ravel()
    ref = np.asarray(ref, float).ravel()
    if methods is None:
        methods = ["direct", "weighted", "diff"]
    unknown = set(methods) - {"direct", "weighted", "diff"}
    if unknown:
        raise ToolBoxValueError(
            f"snr: unknown methods {sorted(unknown)}; use 'direct', 'weighted', 'diff'"
        )
    ok = np.isfinite(sig) & np.isfinite(ref) & (ref != 0)
    sig, ref = sig[ok], ref[ok]
    r = sig / ref
    res = {}
    if "direct" in methods:
        res["direct"] = {"mu": float(np.mean(r)), "s": float(np.std(r))}
    if "weighted" in methods:
        mu = float(np.sum(sig) / np.sum(ref))
        res["weighted"] = {"mu": mu, "s": float(np.sqrt(kernels.weighted_var(sig, ref)))}
    if "diff" in methods:
        res["diff"] = {"mu": float(np.mean(r)), "s": float(np.std(np.diff(r)) / np.sqrt(2))}
    if verbose:
        for k, v in res.items():
            print(f"{k}: mu = {v['mu']:.5g}, s = {v['s']:.3g}, snr = {v['mu'] / v['s']:.4g}")
    return res
