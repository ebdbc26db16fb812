"""BOZ reductions of the raw data: averages, histograms, the bad pixel map, and the
cache that keeps the reductions between the criterion evaluations of the fits.

The cache is an explicit `ReductionCache` object: each `parameters` owns one
(``params.cache``), and the functions with the ToolBox's signatures (``process``,
``nl_crit``) take a ``cache=`` keyword and share `SHARED_CACHE` without it.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np

from ...errors import ToolBoxValueError
from ...facility import DSSC_MODULE_SHAPE
from . import kernels
from .rois import BEAMS, roi_key


# -- averages ----------------------------------------------------------------
class _Box:
    """Hides a dask array from dask.delayed, which would otherwise compute it whole
    before the call; func streams it chunk by chunk instead."""

    def __init__(self, a):
        self.a = a


def _unbox(func, box, args, kw):
    return func(box.a, *args, **kw)


def _lazy(func, arr, shape, dtype, *args, **kw):
    """func(arr, ...) as a dask array when arr is a dask array, else computed."""
    if hasattr(arr, "dask"):
        return da.from_delayed(dask.delayed(_unbox)(func, _Box(arr), args, kw), shape, dtype)
    return func(arr, *args, **kw)


def compute(x):
    """``x.compute()`` for a dask object, else ``x``.

    Parameters
    ----------
    x : object

    Returns
    -------
    object
    """
    return x.compute() if hasattr(x, "compute") else x


def _average(arr, dark, ret, mask, sat_roi, sat_level, F_INL):
    nt, npulse = arr.shape[:2]
    s1 = np.zeros((npulse,) + DSSC_MODULE_SHAPE)
    s2 = np.zeros_like(s1) if ret == "std" else np.zeros((1, 1, 1))
    cnt = np.zeros(npulse, np.int64)
    lut = np.arange(512.0) if F_INL is None else np.asarray(F_INL, np.float64)
    for _, block in kernels.iter_chunks(arr):
        kernels.accumulate(block, lut, sat_roi, sat_level, ret == "std", s1, s2, cnt)
    c = np.maximum(cnt, 1)[:, None, None]
    out = s1 / c
    if ret == "std":
        out = np.sqrt(np.clip(s2 / c - out**2, 0, None))
    elif dark is not None:
        out = out - np.asarray(dark)
    if mask is not None:
        out = out * np.asarray(mask)
    return out


def average_module(arr, dark=None, ret="mean", mask=None, sat_roi=None, sat_level=300, F_INL=None):
    """Compute the average or std over a module (over trains, per pulse).

    Frames with a pixel of ``sat_roi`` at or above ``sat_level`` are left out.

    Parameters
    ----------
    arr : numpy.ndarray or dask.array.Array
        (trainId, pulseId, 128, 512) raw 9-bit data.
    dark : array_like, optional
        (pulseId, 128, 512) dark image (ADU) subtracted from the mean.
    ret : {'mean', 'std'}
        What to compute.
    mask : array_like, optional
        (128, 512) mask multiplied in (True/1 = good pixel).
    sat_roi : dict, optional
        ROI whose saturation leaves a frame out; None: no frame is left out.
    sat_level : int
        Saturation level (raw ADU).
    F_INL : array_like, optional
        Lookup table (512 values) applied to the raw values first.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        (pulseId, 128, 512) image (ADU); a dask array when ``arr`` is one (call
        ``.compute()``).
    """
    if ret not in ("mean", "std"):
        raise ToolBoxValueError(f"ret must be 'mean' or 'std', got {ret!r}")
    return _lazy(
        _average, arr, tuple(arr.shape[1:]), np.float64, dark, ret, mask, sat_roi, sat_level, F_INL
    )


# -- dark, histograms, mask -----------------------------------------------------
def histogram_module(arr, mask=None):
    """Histogram (512 bins) of the 9-bit raw pixel values over a module.

    Parameters
    ----------
    arr : numpy.ndarray or dask.array.Array
        (trainId, pulseId, 128, 512) raw data.
    mask : array_like, optional
        (128, 512) pixel weights (True = good pixel).

    Returns
    -------
    numpy.ndarray
        (512,) counts of each raw value.
    """
    w = np.ones(DSSC_MODULE_SHAPE) if mask is None else np.asarray(mask, float)
    roi = {"yl": 0, "yh": DSSC_MODULE_SHAPE[0], "xl": 0, "xh": DSSC_MODULE_SHAPE[1]}
    h = kernels.histograms(arr, {"all": roi}, w, names=("all",))["all"]
    return h.sum(axis=(0, 1)).astype(np.float64)


def bad_pixel_map(params):
    """Compute the bad pixels map from the dark run.

    Pixels whose dark mean or dark noise lies more than 8 median absolute deviations
    from the module's median are bad.

    Parameters
    ----------
    params : parameters
        With the dark loaded (``params.arr_dark``).

    Returns
    -------
    numpy.ndarray
        (128, 512) bool, True = good pixel.
    """
    if params.arr_dark is None:
        raise ToolBoxValueError(
            "bad_pixel_map: load the dark first (params.dask_load_persistently())"
        )
    mean = np.asarray(compute(average_module(params.arr_dark))).mean(axis=0)
    std = np.asarray(compute(average_module(params.arr_dark, ret="std"))).mean(axis=0)
    good = np.ones(DSSC_MODULE_SHAPE, bool)
    for img in (mean, std):
        med = np.median(img)
        mad = np.median(np.abs(img - med)) * 1.4826
        good &= np.abs(img - med) <= 8 * max(mad, 1e-6)
    return good


# -- the cache -------------------------------------------------------------------
class ReductionCache:
    """The reductions of the BOZ fits, kept between criterion evaluations.

    An entry is found by the identity of the data arrays it was built from (``is``:
    the entry holds them, so another array cannot take their place) and by the value
    of the rest of its key (ROIs, content fingerprints of the mask and the flat
    field, saturation level). The arrays given to the fits are not modified in
    place.

    Parameters
    ----------
    size : int
        Entries kept; the oldest is dropped first.
    """

    def __init__(self, size=6):
        self.size = int(size)
        self._entries = []
        self._fingerprints = []

    def get(self, kind, arrays, key, make):
        """The entry of ``kind`` built from ``arrays`` with ``key``, made on a miss.

        Parameters
        ----------
        kind : str
            What the entry holds ('hist', 'moments', 'ff_average', ...).
        arrays : sequence
            The data arrays (compared by identity and shape).
        key : hashable
            The rest of the key (compared by value).
        make : callable
            ``make()`` builds the entry.

        Returns
        -------
        object
            The entry.
        """
        arrays = tuple(arrays)
        shapes = tuple(None if a is None else tuple(a.shape) for a in arrays)
        for k, arrs, shp, kk, value in self._entries:
            if (
                k == kind
                and shp == shapes
                and kk == key
                and all(a is b for a, b in zip(arrs, arrays))
            ):
                return value
        value = make()
        self._entries.append((kind, arrays, shapes, key, value))
        del self._entries[: -self.size]
        return value

    def fingerprint(self, a, dtype):
        """A content key of an image, hashed once per array object.

        Parameters
        ----------
        a : array_like or None
            The image (a mask, a flat field).
        dtype : numpy.dtype
            The type its content is compared as.

        Returns
        -------
        int or None
            None when ``a`` is None.
        """
        if a is None:
            return None
        dtype = np.dtype(dtype)
        for obj, dt, key in self._fingerprints:
            if obj is a and dt == dtype:
                return key
        key = hash(np.asarray(a, dtype).tobytes())
        if len(self._fingerprints) > 16:
            self._fingerprints.clear()
        self._fingerprints.append((a, dtype, key))
        return key

    def clear(self):
        """Drop every entry (and the arrays they hold).

        Returns
        -------
        None
        """
        self._entries.clear()
        self._fingerprints.clear()


#: the cache of the calls that get none (the ToolBox signatures ``process``, ``nl_crit``)
SHARED_CACHE = ReductionCache()


def cache_of(params=None, cache=None):
    """The cache to use: ``cache``, else ``params.cache``, else `SHARED_CACHE`.

    Parameters
    ----------
    params : parameters, optional
    cache : ReductionCache, optional

    Returns
    -------
    ReductionCache
    """
    if cache is not None:
        return cache
    own = getattr(params, "cache", None)
    return own if own is not None else SHARED_CACHE


class Histograms:
    """Dark-corrected, flat-field-weighted per-frame histograms of one run.

    Parameters
    ----------
    arr_dark, arr : numpy.ndarray or dask.array.Array
        (trainId, pulseId, 128, 512) raw dark and data.
    rois : dict
        The ROIs (``'n'``, ``'0'``, ``'p'``, ``'sat'``).
    mask : array_like or None
        (128, 512) mask (True = good pixel).
    flat_field : array_like or None
        (128, 512) flat field (the corrected frame is divided by it).
    sat_level : int
        Saturation level (raw ADU).

    Attributes
    ----------
    hc : dict
        Per beam, (trains, pulses, 512) float32 histograms minus the dark's.
    sat : dict
        Per ROI, (trains, pulses) saturation flags.
    ok : numpy.ndarray
        (trains, pulses) bool, the frames without saturation in ``'sat'``.
    flat : dict
        Per beam, the ``ok`` frames of ``hc`` as (frames, 512).
    """

    def __init__(self, arr_dark, arr, rois, mask, flat_field, sat_level):
        mask = np.ones(DSSC_MODULE_SHAPE) if mask is None else np.asarray(mask, float)
        ff = np.ones(DSSC_MODULE_SHAPE) if flat_field is None else np.asarray(flat_field, float)
        w = mask / ff
        hd = kernels.histograms(arr_dark, rois, w)
        h = kernels.histograms(arr, rois, w)
        self.hc = {r: (h[r] - hd[r].mean(axis=0)[None]).astype(np.float32) for r in BEAMS}
        self.sat = {
            r: kernels.saturation(arr, rois[r], sat_level) for r in rois if r in BEAMS + ("sat",)
        }
        ok = ~self.sat["sat"] if "sat" in self.sat else np.ones(arr.shape[:2], bool)
        self.ok = ok
        self.flat = {r: self.hc[r].reshape(-1, kernels.NBINS)[ok.ravel()] for r in BEAMS}

    def sums(self, F, ok_only=True):
        """The ROI sums of the frames corrected by the lookup table ``F``.

        Parameters
        ----------
        F : array_like
            (512,) lookup table (ADU).
        ok_only : bool
            Only the frames without saturation (flat), else every frame.

        Returns
        -------
        dict
            Per beam, the ROI sums (ADU).
        """
        if ok_only:
            return {r: kernels.matvec(self.flat[r], F) for r in BEAMS}
        return {r: kernels.matvec(self.hc[r].reshape(-1, kernels.NBINS), F) for r in BEAMS}


def histograms(arr_dark, arr, rois, mask, flat_field, sat_level, cache=None):
    """The `Histograms` of a run, built once per cache.

    Parameters
    ----------
    arr_dark, arr, rois, mask, flat_field, sat_level
        As `Histograms`.
    cache : ReductionCache, optional
        Default `SHARED_CACHE`.

    Returns
    -------
    Histograms
    """
    cache = cache_of(cache=cache)
    key = (
        roi_key(rois),
        cache.fingerprint(mask, bool),
        cache.fingerprint(flat_field, np.float64),
        int(sat_level),
    )
    return cache.get(
        "hist",
        (arr_dark, arr),
        key,
        lambda: Histograms(arr_dark, arr, rois, mask, flat_field, sat_level),
    )
