"""BOZ corrections: loading, ROIs, flat field, non-linearity, processing.

Conventions (as the ToolBox): a module image is (128, 512) = (y, x); an ROI is
a dict ``{'xl', 'xh', 'yl', 'yh'}`` sliced ``img[yl:yh, xl:xh]``; the beams are
``'n'`` (-1st order), ``'0'`` and ``'p'`` (+1st order), ``'sat'`` spans all
three. The flat field divides the dark-subtracted frame; it is 1 in ``'0'`` and
the plane ``z = -(a x + b y + d) / c`` in ``'n'`` and ``'p'`` (mirror image
``x -> -x`` unless ``force_mirror`` is False), x/y the pixel position (mm) from
the ROI centre. The mask is True for good pixels.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from ...errors import ToolBoxValueError
from ...facility import DSSC_MODULE_SHAPE, DSSC_NMODULES, DSSC_PIXEL_SIZE_M
from ...facility.sources import dssc_module_source
from . import fast

PIX_MM = (DSSC_PIXEL_SIZE_M[0] * 1e3, DSSC_PIXEL_SIZE_M[1] * 1e3)
BEAMS = ("n", "0", "p")


# -- loading -----------------------------------------------------------------
def load_dssc_module(proposalNB, runNB, moduleNB=15, subset=slice(None),
                     drop_intra_darks=True, persist=False, data_size_Gb=None):
    """Load single module dssc data as dask array.

    Returns arr (dask array (trainId, pulseId, x, y) of raw 9-bit values) and
    tid (train ids).
    """
    from ... import reader
    from ...load import open_run
    m = int(moduleNB)
    if not 0 <= m < DSSC_NMODULES:
        raise ToolBoxValueError(f"moduleNB must be 0..{DSSC_NMODULES - 1}, got {moduleNB}")
    run = open_run(proposalNB, runNB)
    src = dssc_module_source(m)
    if src not in run.instrument_sources:
        have = sorted(s for s in run.instrument_sources if "DSSC" in s)
        raise ToolBoxValueError(f"run {runNB} of proposal {proposalNB} has no DSSC module {m} "
                                f"({src}); DSSC sources: {have or 'none'}. Pass moduleNB=")
    kd = reader.resolve(run, {"dssc": {"source": src, "key": "image.data"}})
    counts = kd.data_counts(labelled=False)
    has = counts > 0
    frames = np.unique(counts[has])
    if frames.size != 1:
        raise ToolBoxValueError(f"DSSC module {m}: the frames per train vary ({frames.tolist()});"
                                " select trains with one pulse pattern (subset=)")
    nf = int(frames[0])
    tid = np.asarray(kd.train_ids)[has]
    arr = kd.dask_array(labelled=False)
    arr = arr.reshape((tid.size, nf) + DSSC_MODULE_SHAPE)
    idx = np.arange(tid.size)[subset]
    arr, tid = arr[idx], tid[idx]
    if drop_intra_darks:
        arr = arr[:, 0::2]
    if data_size_Gb is not None:
        per_train = np.prod(arr.shape[1:]) * arr.dtype.itemsize
        ntr = max(1, int(float(data_size_Gb) * 1e9 // per_train))
        arr, tid = arr[:ntr], tid[:ntr]
    if persist:
        arr = arr.persist()
    return arr, tid


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
        import dask
        import dask.array as da
        return da.from_delayed(dask.delayed(_unbox)(func, _Box(arr), args, kw), shape, dtype)
    return func(arr, *args, **kw)


def _average(arr, dark, ret, mask, sat_roi, sat_level, F_INL):
    nt, npulse = arr.shape[:2]
    s1 = np.zeros((npulse,) + DSSC_MODULE_SHAPE)
    s2 = np.zeros_like(s1) if ret == "std" else np.zeros((1, 1, 1))
    cnt = np.zeros(npulse, np.int64)
    lut = np.arange(512.0) if F_INL is None else np.asarray(F_INL, np.float64)
    for _, block in fast.iter_chunks(arr):
        fast.accumulate(block, lut, sat_roi, sat_level, ret == "std", s1, s2, cnt)
    c = np.maximum(cnt, 1)[:, None, None]
    out = s1 / c
    if ret == "std":
        out = np.sqrt(np.clip(s2 / c - out ** 2, 0, None))
    elif dark is not None:
        out = out - np.asarray(dark)
    if mask is not None:
        out = out * np.asarray(mask)
    return out


def average_module(arr, dark=None, ret="mean", mask=None, sat_roi=None, sat_level=300,
                   F_INL=None):
    """Compute the average or std over a module (over trains, per pulse).

    Frames with a pixel of sat_roi at or above sat_level are left out. Returns a
    (pulseId, x, y) image (a dask array when arr is one: call .compute()).
    """
    if ret not in ("mean", "std"):
        raise ToolBoxValueError(f"ret must be 'mean' or 'std', got {ret!r}")
    return _lazy(_average, arr, tuple(arr.shape[1:]), np.float64, dark, ret, mask, sat_roi,
                 sat_level, F_INL)


# -- dark, histograms, mask -----------------------------------------------------
def histogram_module(arr, mask=None):
    """Histogram (512 bins) of the 9-bit raw pixel values over a module."""
    w = np.ones(DSSC_MODULE_SHAPE) if mask is None else np.asarray(mask, float)
    roi = {"yl": 0, "yh": DSSC_MODULE_SHAPE[0], "xl": 0, "xh": DSSC_MODULE_SHAPE[1]}
    h = fast.histograms(arr, {"all": roi}, w, names=("all",))["all"]
    return h.sum(axis=(0, 1)).astype(np.float64)


def bad_pixel_map(params):
    """Compute the bad pixels map (True = good pixel) from the dark run: pixels
    whose dark mean or dark noise lies more than 8 median absolute deviations
    from the module's median."""
    if params.arr_dark is None:
        raise ToolBoxValueError("bad_pixel_map: load the dark first "
                                "(params.dask_load_persistently())")
    mean = np.asarray(_compute(average_module(params.arr_dark))).mean(axis=0)
    std = np.asarray(_compute(average_module(params.arr_dark, ret="std"))).mean(axis=0)
    good = np.ones(DSSC_MODULE_SHAPE, bool)
    for img in (mean, std):
        med = np.median(img)
        mad = np.median(np.abs(img - med)) * 1.4826
        good &= np.abs(img - med) <= 8 * max(mad, 1e-6)
    return good


def _compute(x):
    return x.compute() if hasattr(x, "compute") else x


# -- ROIs --------------------------------------------------------------------
def _segments(profile, threshold):
    above = np.concatenate([[False], profile > threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(int)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _crossing(profile, i, j, threshold):
    """Sub-pixel position between pixels i and j where profile crosses threshold."""
    n = profile.size
    if i < 0 or j >= n:
        return float(np.clip(i, 0, n - 1) if i < 0 else j)
    a, b = profile[i], profile[j]
    return float(i + (threshold - a) / (b - a)) if b != a else float(i)


def find_rois(data_mean, threshold, extended=False):
    """Find rois from 3 beams configuration.

    data_mean: dark corrected average image (128, 512); threshold: level of the
    column/row mean (ADU) that bounds the beams; extended: also define one ROI
    per ASIC (64 x 64 pixels, 'A<row><col>').
    Returns a dict of rois 'n', '0', 'p' (same size, centred on each beam's
    centroid) and 'sat' (spanning the three).
    """
    img = np.asarray(data_mean, float)
    if img.ndim == 3:
        img = img.mean(axis=0)
    px = img.mean(axis=0)
    py = img.mean(axis=1)
    segs = sorted(_segments(px, threshold), key=lambda s: -px[s[0]:s[1]].sum())[:3]
    if len(segs) < 3:
        raise ToolBoxValueError(
            f"find_rois: found {len(segs)} beam(s) above threshold {threshold} (column means "
            f"range {px.min():.3g}..{px.max():.3g} ADU); pass a lower threshold (rois_th)")
    segs = sorted(segs)
    ysegs = _segments(py, threshold)
    if not ysegs:
        raise ToolBoxValueError(f"find_rois: no rows above threshold {threshold}")
    yl, yh = max(ysegs, key=lambda s: py[s[0]:s[1]].sum())
    w = max(b - a for a, b in segs)
    rois = {}
    for name, (a, b) in zip(BEAMS, segs):
        c = 0.5 * (_crossing(px, a - 1, a, threshold) + _crossing(px, b - 1, b, threshold))
        xl = int(np.clip(int(np.floor(c - (w - 1) / 2 + 0.5)), 0, img.shape[1] - w))
        rois[name] = {"xl": xl, "xh": xl + w, "yl": int(yl), "yh": int(yh)}
    rois["sat"] = {"xl": rois["n"]["xl"], "xh": rois["p"]["xh"], "yl": int(yl), "yh": int(yh)}
    if extended:
        for r in range(2):
            for c in range(8):
                rois[f"A{r}{c}"] = {"xl": 64 * c, "xh": 64 * (c + 1), "yl": 64 * r,
                                    "yh": 64 * (r + 1)}
    return rois


def find_rois_from_params(params):
    """Find rois from 3 beams configuration, on the dark corrected mean of
    params.arr with threshold params.rois_th."""
    if params.arr is None or params.arr_dark is None:
        raise ToolBoxValueError("find_rois_from_params: load the data first "
                                "(params.dask_load_persistently())")
    if params.rois_th is None:
        raise ToolBoxValueError("find_rois_from_params: set params.rois_th (threshold) first")
    dark = _compute(average_module(params.arr_dark))
    mean = _compute(average_module(params.arr, dark=dark, mask=params.get_mask()))
    return find_rois(np.asarray(mean).mean(axis=0), params.rois_th)


def get_roi_pixel_pos(roi, params):
    """Compute fake or real pixel position of an roi from roi center.

    Returns X, Y: 1-d arrays (row-major over the ROI) of pixel positions in mm
    (0.236 mm x 0.204 mm pitch; with params.use_hex, odd rows shifted by half a
    pixel as the hexagonal DSSC pixels are).
    """
    yy, xx = np.mgrid[roi["yl"]:roi["yh"], roi["xl"]:roi["xh"]].astype(float)
    cy = 0.5 * (roi["yl"] + roi["yh"] - 1)
    cx = 0.5 * (roi["xl"] + roi["xh"] - 1)
    X = (xx - cx) * PIX_MM[0]
    if getattr(params, "use_hex", False):
        X = X + 0.5 * PIX_MM[0] * (yy.astype(int) % 2)
    Y = (yy - cy) * PIX_MM[1]
    return X.ravel(), Y.ravel()


# -- flat field ----------------------------------------------------------------
def _planes(ff_params, force_mirror=True):
    p = np.asarray(ff_params, float).ravel()
    if p.size == 4:
        return p, p, True
    if p.size == 8:
        return p[:4], p[4:], False
    raise ToolBoxValueError(f"a plane flat field has 4 (mirror) or 8 parameters, got {p.size}")


def _plane_z(plane, X, Y):
    a, b, c, d = plane
    if c == 0:
        raise ToolBoxValueError(f"flat-field plane {list(plane)}: c = 0 defines no z")
    return -(a * X + b * Y + d) / c


def compute_flat_field_correction(rois, params, plot=False):
    """The flat field (128, 512): 1 outside 'n'/'p', the plane in 'n' and the
    (mirrored) plane in 'p', kept positive (>= 1e-2)."""
    if params.get_flat_field() is None:
        raise ToolBoxValueError("no flat field set: params.set_flat_field(...) or "
                                "plane_fitting(params) first")
    if params.ff_type == "polyline":
        ff = _polyline_flat_field(rois, params)
    else:
        pn, pp, mirror = _planes(params.get_flat_field())
        mirror = mirror and getattr(params, "force_mirror", True)
        ff = np.ones(DSSC_MODULE_SHAPE)
        for name, plane, mir in (("n", pn, False), ("p", pp, mirror)):
            r = rois[name]
            X, Y = get_roi_pixel_pos(r, params)
            z = _plane_z(plane, -X if mir else X, Y)
            ff[r["yl"]:r["yh"], r["xl"]:r["xh"]] = z.reshape(r["yh"] - r["yl"], r["xh"] - r["xl"])
        ff = np.clip(ff, 1e-2, None)
    if plot:
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 2.5))
        im = ax.imshow(ff, vmin=np.percentile(ff, 1), vmax=np.percentile(ff, 99))
        fig.colorbar(im, ax=ax, label="flat field")
        ax.set(xlabel="x (pixel)", ylabel="y (pixel)", title="flat-field correction")
    return ff


def _polyline_flat_field(rois, params):
    """S K-edge 2D flat field: per-column polylines of the 'n'/'p' ratio, given as
    params.flat_field = {'n': [[x...], [z...]], 'p': [[x...], [z...]]} (x in mm
    from the ROI centre)."""
    ff = np.ones(DSSC_MODULE_SHAPE)
    for name in ("n", "p"):
        xs, zs = params.flat_field[name]
        r = rois[name]
        X, _ = get_roi_pixel_pos(r, params)
        z = np.interp(X, xs, zs)
        ff[r["yl"]:r["yh"], r["xl"]:r["xh"]] = z.reshape(r["yh"] - r["yl"], r["xh"] - r["xl"])
    return np.clip(ff, 1e-2, None)


def _crop(img, roi):
    return np.asarray(img)[roi["yl"]:roi["yh"], roi["xl"]:roi["xh"]]


def plane_fitting_domain(avg, rois, prod_th, ratio_th):
    """Extract beams roi, compute their ratio and the domain.

    Returns n (img ratio 'n'/'0'), n_m (mask where the product 'n'*'0' and the
    ratio lie inside prod_th and ratio_th), p, p_m.
    """
    a0 = _crop(avg, rois["0"])
    out = []
    for name in ("n", "p"):
        a = _crop(avg, rois[name])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = a / a0
        prod = a * a0
        m = (prod > prod_th[0]) & (prod < prod_th[1]) & (ratio > ratio_th[0]) \
            & (ratio < ratio_th[1]) & np.isfinite(ratio)
        out += [ratio, m]
    return tuple(out)


def _ff_average(params):
    """Average dark-corrected image of the non-saturated frames (cached on params)."""
    key = (id(params.arr), id(params.arr_dark), str(params.rois), str(params.sat_level),
           len(params.get_mask_idx()))
    cache = params.__dict__.setdefault("_cache", {})
    if cache.get("ff_avg_key") != key:
        dark = _compute(average_module(params.arr_dark))
        sat = params.sat_level if params.sat_level is not None else 511
        avg = _compute(average_module(params.arr, dark=dark, mask=params.get_mask(),
                                      sat_roi=params.rois["sat"], sat_level=sat))
        cache["ff_avg_key"], cache["ff_avg"] = key, np.asarray(avg).mean(axis=0)
    return cache["ff_avg"]


def plane_fitting(params):
    """Fit the plane flat-field normalization (least squares of the 'n'/'0' and
    mirrored 'p'/'0' pixel ratios over the domain of params.ff_prod_th/ff_ratio_th).

    Returns the minimization result: res.x = [a, b, c, d] of a*x + b*y + c*z + d = 0
    (8 values when params.force_mirror is False).
    """
    from scipy.optimize import OptimizeResult
    if params.rois is None:
        raise ToolBoxValueError("plane_fitting: set params.rois first (find_rois)")
    if params.ff_prod_th is None or params.ff_ratio_th is None:
        raise ToolBoxValueError("plane_fitting: set the domain thresholds first with "
                                "params.set_flat_field(guess, prod_th=(lo, hi), ratio_th=(lo, hi))")
    avg = _ff_average(params)
    n, n_m, p, p_m = plane_fitting_domain(avg, params.rois, params.ff_prod_th,
                                          params.ff_ratio_th)
    Xn, Yn = get_roi_pixel_pos(params.rois["n"], params)
    Xp, Yp = get_roi_pixel_pos(params.rois["p"], params)
    rows = []
    for X, Y, r, m in ((Xn, Yn, n, n_m), (-Xp, Yp, p, p_m)):
        mm = m.ravel()
        rows.append((X[mm], Y[mm], r.ravel()[mm]))

    def lsq(parts):
        A = np.concatenate([np.stack([np.ones_like(X), X, Y], 1) for X, Y, _ in parts])
        z = np.concatenate([r for _, _, r in parts])
        if z.size < 3:
            raise ToolBoxValueError(f"plane_fitting: only {z.size} pixels in the domain; widen "
                                    "ff_prod_th / ff_ratio_th")
        sol, res, *_ = np.linalg.lstsq(A, z, rcond=None)
        return [sol[1], sol[2], -1.0, sol[0]], float(np.mean((A @ sol - z) ** 2))

    if params.force_mirror:
        x, fun = lsq(rows)
    else:
        rows[1] = (-rows[1][0], rows[1][1], rows[1][2])
        xn, fn = lsq(rows[:1])
        xp, fp = lsq(rows[1:])
        x, fun = xn + xp, fn + fp
    return OptimizeResult(x=np.array(x), fun=fun, success=True, nit=1,
                          message="linear least squares")


# -- cached reductions -------------------------------------------------------------
_CACHE: list = []


def _cache_get(key, make):
    for k, v in _CACHE:
        if k == key:
            return v
    v = make()
    _CACHE.append((key, v))
    del _CACHE[:-6]
    return v


def _roi_key(rois):
    return tuple(sorted((k, tuple(sorted(v.items()))) for k, v in rois.items()
                        if k in BEAMS + ("sat",)))


def _arr_key(arr):
    return (id(arr), tuple(arr.shape))


class _Hist:
    """Dark-corrected, flat-field-weighted per-frame histograms of one run."""

    def __init__(self, arr_dark, arr, rois, mask, flat_field, sat_level):
        mask = np.ones(DSSC_MODULE_SHAPE) if mask is None else np.asarray(mask, float)
        ff = np.ones(DSSC_MODULE_SHAPE) if flat_field is None else np.asarray(flat_field, float)
        w = mask / ff
        self.keep_alive = (arr_dark, arr)
        hd = fast.histograms(arr_dark, rois, w)
        h = fast.histograms(arr, rois, w)
        self.hc = {r: (h[r] - hd[r].mean(axis=0)[None]).astype(np.float32) for r in BEAMS}
        self.sat = {r: fast.saturation(arr, rois[r], sat_level) for r in rois
                    if r in BEAMS + ("sat",)}
        ok = ~self.sat["sat"] if "sat" in self.sat else np.ones(arr.shape[:2], bool)
        self.ok = ok
        self.flat = {r: self.hc[r].reshape(-1, fast.NBINS)[ok.ravel()] for r in BEAMS}

    def sums(self, F, ok_only=True):
        if ok_only:
            return {r: fast.matvec(self.flat[r], F) for r in BEAMS}
        return {r: fast.matvec(self.hc[r].reshape(-1, fast.NBINS), F) for r in BEAMS}


_FP: dict = {}


def _fingerprint(a, dtype):
    """A content key of an image, computed once per array object (arrays passed to
    the fits are not modified in place)."""
    if a is None:
        return None
    hit = _FP.get(id(a))
    if hit is not None and hit[0] is a:
        return hit[1]
    key = hash(np.asarray(a, dtype).tobytes())
    if len(_FP) > 16:
        _FP.clear()
    _FP[id(a)] = (a, key)
    return key


def _hist(arr_dark, arr, rois, mask, flat_field, sat_level):
    ffk = _fingerprint(flat_field, np.float64)
    mk = _fingerprint(mask, bool)
    key = ("hist", _arr_key(arr_dark), _arr_key(arr), _roi_key(rois), mk, ffk, int(sat_level))
    return _cache_get(key, lambda: _Hist(arr_dark, arr, rois, mask, flat_field, sat_level))


# -- processing ---------------------------------------------------------------
def _dataset(sums, sat, tid, npulse):
    ds = xr.Dataset(coords={"trainId": np.asarray(tid), "pulseId": np.arange(npulse)})
    for r, v in sums.items():
        ds[r] = (("trainId", "pulseId"), np.asarray(v).reshape(len(tid), npulse))
    for r, v in sat.items():
        ds[f"{r}_sat"] = (("trainId", "pulseId"), np.asarray(v).reshape(len(tid), npulse))
    return ds


def process_module(arr, tid, dark, rois, mask=None, sat_level=511, flat_field=None,
                   F_INL=None, use_gpu=False):
    """Process one module and extract roi intensity.

    dark: pulse resolved dark image (pulseId, x, y) to remove (computed with the
    same F_INL). Returns a dataset (trainId, pulseId) of the roi sums of the
    corrected frames, F_INL[raw] - dark, masked, divided by the flat field, and
    '<roi>_sat' (a pixel of the roi at or above sat_level).
    """
    mask = np.ones(DSSC_MODULE_SHAPE) if mask is None else np.asarray(mask, float)
    ff = np.ones(DSSC_MODULE_SHAPE) if flat_field is None else np.asarray(flat_field, float)
    w = mask / ff
    F = np.arange(512.0) if F_INL is None else np.asarray(F_INL, float)
    names = tuple(r for r in rois if all(k in rois[r] for k in ("xl", "xh", "yl", "yh")))
    h = fast.histograms(arr, rois, w, names=names)
    dark = np.asarray(_compute(dark), float)
    npulse = arr.shape[1]
    sums, sat = {}, {}
    for r in names:
        dterm = (_crop_stack(dark, rois[r]) * _crop(w, rois[r])[None]).sum(axis=(1, 2))
        sums[r] = (h[r].astype(np.float64) @ F) - dterm[None]
        sat[r] = fast.saturation(arr, rois[r], sat_level)
    return _dataset(sums, sat, tid, npulse)


def _crop_stack(imgs, roi):
    return imgs[:, roi["yl"]:roi["yh"], roi["xl"]:roi["xh"]]


def process(Fmodel, arr_dark, arr, tid, rois, mask, flat_field, sat_level=511, use_gpu=False):
    """Process dark and run data with corrections (lookup table Fmodel, mask,
    flat field). Returns the roi extracted intensities (dataset trainId x pulseId
    of 'n', '0', 'p' and the '<roi>_sat' flags)."""
    h = _hist(arr_dark, arr, rois, mask, flat_field, sat_level)
    return _dataset(h.sums(Fmodel, ok_only=False), h.sat, tid, arr.shape[1])


# -- snr ----------------------------------------------------------------------
def snr(sig, ref, methods=None, verbose=False):
    """Compute mean, std and SNR from transmitted and I0 signals.

    methods: None (all) or a list of 'direct' (mean and std of sig/ref),
    'weighted' (ref-weighted mean and std of sig/ref) and 'diff' (std of the
    difference of successive ratios / sqrt 2, insensitive to slow drifts).
    Returns {method: {'mu': mean, 's': std}}.
    """
    sig = np.asarray(sig, float).ravel()
    ref = np.asarray(ref, float).ravel()
    if methods is None:
        methods = ["direct", "weighted", "diff"]
    unknown = set(methods) - {"direct", "weighted", "diff"}
    if unknown:
        raise ToolBoxValueError(f"snr: unknown methods {sorted(unknown)}; use 'direct', "
                                "'weighted', 'diff'")
    ok = np.isfinite(sig) & np.isfinite(ref) & (ref != 0)
    sig, ref = sig[ok], ref[ok]
    r = sig / ref
    res = {}
    if "direct" in methods:
        res["direct"] = {"mu": float(np.mean(r)), "s": float(np.std(r))}
    if "weighted" in methods:
        mu = float(np.sum(sig) / np.sum(ref))
        res["weighted"] = {"mu": mu, "s": float(np.sqrt(fast.weighted_var(sig, ref)))}
    if "diff" in methods:
        res["diff"] = {"mu": float(np.mean(r)), "s": float(np.std(np.diff(r)) / np.sqrt(2))}
    if verbose:
        for k, v in res.items():
            print(f"{k}: mu = {v['mu']:.5g}, s = {v['s']:.3g}, snr = {v['mu'] / v['s']:.4g}")
    return res
