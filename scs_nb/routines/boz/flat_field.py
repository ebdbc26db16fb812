"""BOZ flat field: the plane fit on the average beam ratios, its refinement on the
shot-to-shot spread (per-frame moments, see ``kernels``), and its normalization.

The flat field divides the dark-subtracted frame; it is 1 in ``'0'`` and the plane
``z = -(a x + b y + d) / c`` in ``'n'`` and ``'p'`` (mirror image ``x -> -x`` unless
``force_mirror`` is False), x/y the pixel position (mm) from the ROI centre. The
mask is True for good pixels.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult, minimize

from ...errors import ToolBoxValueError
from ...facility import DSSC_MODULE_SHAPE
from ...progress import bar as progress_bar
from ...progress import interactive
from . import kernels
from .process import process
from .reductions import average_module, cache_of, compute
from .rois import crop, get_roi_pixel_pos, roi_key


# -- the flat field of a definition -------------------------------------------------
def split_planes(ff_params):
    """The 'n' and 'p' planes of a plane flat-field definition.

    Parameters
    ----------
    ff_params : array_like
        4 values ``[a, b, c, d]`` of ``a x + b y + c z + d = 0`` (mirrored for 'p') or 8
        (the last 4 for 'p').

    Returns
    -------
    pn, pp : numpy.ndarray
        The planes of 'n' and 'p'.
    mirror : bool
        True for 4 values ('p' is the mirror image of 'n').
    """
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
    """The flat field of the parameters' definition.

    Parameters
    ----------
    rois : dict
        The ROIs ``'n'``, ``'0'``, ``'p'``.
    params : parameters
        ``params.get_flat_field()``, ``params.ff_type``, ``params.force_mirror``,
        ``params.use_hex``.
    plot : bool
        Plot the flat field.

    Returns
    -------
    numpy.ndarray
        (128, 512): 1 outside 'n'/'p', the plane in 'n' and the (mirrored) plane in 'p',
        kept positive (>= 1e-2).
    """
    if params.get_flat_field() is None:
        raise ToolBoxValueError(
            "no flat field set: params.set_flat_field(...) or plane_fitting(params) first"
        )
    if params.ff_type == "polyline":
        ff = _polyline_flat_field(rois, params)
    else:
        pn, pp, mirror = split_planes(params.get_flat_field())
        mirror = mirror and getattr(params, "force_mirror", True)
        ff = np.ones(DSSC_MODULE_SHAPE)
        for name, plane, mir in (("n", pn, False), ("p", pp, mirror)):
            r = rois[name]
            X, Y = get_roi_pixel_pos(r, params)
            z = _plane_z(plane, -X if mir else X, Y)
            ff[r["yl"] : r["yh"], r["xl"] : r["xh"]] = z.reshape(
                r["yh"] - r["yl"], r["xh"] - r["xl"]
            )
        ff = np.clip(ff, 1e-2, None)
    if plot:
        import matplotlib.pyplot as plt  # heavy: only for plots

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
        ff[r["yl"] : r["yh"], r["xl"] : r["xh"]] = z.reshape(r["yh"] - r["yl"], r["xh"] - r["xl"])
    return np.clip(ff, 1e-2, None)


# -- the plane fit ---------------------------------------------------------------
def plane_fitting_domain(avg, rois, prod_th, ratio_th):
    """Extract beams roi, compute their ratio and the domain.

    Parameters
    ----------
    avg : array_like
        (128, 512) dark corrected average image (ADU).
    rois : dict
        The ROIs ``'n'``, ``'0'``, ``'p'``.
    prod_th : tuple of float
        (low, high) bounds of the product 'n' * '0' (ADU^2).
    ratio_th : tuple of float
        (low, high) bounds of the ratio 'n'/'0'.

    Returns
    -------
    n, n_m, p, p_m : numpy.ndarray
        The ratio images 'n'/'0' and 'p'/'0' and their domains (where the product and the
        ratio lie inside prod_th and ratio_th).
    """
    a0 = crop(avg, rois["0"])
    out = []
    for name in ("n", "p"):
        a = crop(avg, rois[name])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = a / a0
        prod = a * a0
        m = (
            (prod > prod_th[0])
            & (prod < prod_th[1])
            & (ratio > ratio_th[0])
            & (ratio < ratio_th[1])
            & np.isfinite(ratio)
        )
        out += [ratio, m]
    return tuple(out)


def _ff_average(params):
    """Average dark-corrected image of the non-saturated frames (kept in the cache of
    params)."""
    cache = cache_of(params)
    mask = params.get_mask()
    sat = params.sat_level if params.sat_level is not None else 511
    key = (roi_key(params.rois), str(sat), cache.fingerprint(mask, bool))

    def make():
        dark = compute(average_module(params.arr_dark))
        avg = compute(
            average_module(
                params.arr, dark=dark, mask=mask, sat_roi=params.rois["sat"], sat_level=sat
            )
        )
        return np.asarray(avg).mean(axis=0)

    return cache.get("ff_average", (params.arr, params.arr_dark), key, make)


def plane_fitting(params):
    """Fit the plane flat-field normalization.

    Least squares of the 'n'/'0' and mirrored 'p'/'0' pixel ratios of the average image
    over the domain of ``params.ff_prod_th`` / ``params.ff_ratio_th``.

    Parameters
    ----------
    params : parameters
        With the data loaded, ``rois``, ``ff_prod_th``, ``ff_ratio_th``, ``sat_level``
        and ``force_mirror`` set.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``res.x = [a, b, c, d]`` of ``a*x + b*y + c*z + d = 0`` (x, y in mm; 8 values when
        ``params.force_mirror`` is False).
    """
    if params.rois is None:
        raise ToolBoxValueError("plane_fitting: set params.rois first (find_rois)")
    if params.ff_prod_th is None or params.ff_ratio_th is None:
        raise ToolBoxValueError(
            "plane_fitting: set the domain thresholds first with "
            "params.set_flat_field(guess, prod_th=(lo, hi), ratio_th=(lo, hi))"
        )
    avg = _ff_average(params)
    n, n_m, p, p_m = plane_fitting_domain(avg, params.rois, params.ff_prod_th, params.ff_ratio_th)
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
            raise ToolBoxValueError(
                f"plane_fitting: only {z.size} pixels in the domain; widen "
                "ff_prod_th / ff_ratio_th"
            )
        sol, res, *_ = np.linalg.lstsq(A, z, rcond=None)
        return [sol[1], sol[2], -1.0, sol[0]], float(np.mean((A @ sol - z) ** 2))

    if params.force_mirror:
        x, fun = lsq(rows)
    else:
        rows[1] = (-rows[1][0], rows[1][1], rows[1][2])
        xn, fn = lsq(rows[:1])
        xp, fp = lsq(rows[1:])
        x, fun = xn + xp, fn + fp
    return OptimizeResult(
        x=np.array(x), fun=fun, success=True, nit=1, message="linear least squares"
    )


# -- the refinement on the shot-to-shot spread ------------------------------------
def _abg(plane):
    """plane [a, b, c, d] -> (alpha, beta, gamma) of z = alpha + beta x + gamma y."""
    a, b, c, d = plane
    return np.array([-d / c, -a / c, -b / c])


class _Moments:
    """Per-frame moments of (raw - dark) in 'n' and 'p' around planes z0, and the
    plain sums of '0' (where the flat field is 1)."""

    def __init__(
        self, arr_dark, arr, rois, mask, planes, mirror, sat_level, params, order=3, shared=None
    ):
        mask = np.ones(arr.shape[2:]) if mask is None else np.asarray(mask, float)
        shared = {} if shared is None else shared
        if "dark" not in shared:  # the same for every centre of the expansion
            shared["dark"] = np.asarray(compute(average_module(arr_dark)))
        dark = shared["dark"]
        self.order = order
        self.abg0 = {}
        self.m = {}
        self.zrange = {}
        for name, plane, mir in (("n", planes[0], False), ("p", planes[1], mirror)):
            r = rois[name]
            X, Y = get_roi_pixel_pos(r, params)
            X = -X if mir else X
            w = mask[r["yl"] : r["yh"], r["xl"] : r["xh"]].ravel()
            keep = w > 0
            yy, xx = np.mgrid[r["yl"] : r["yh"], r["xl"] : r["xh"]]
            ys, xs = yy.ravel()[keep].astype(np.int64), xx.ravel()[keep].astype(np.int64)
            abg = _abg(plane)
            z0 = abg[0] + abg[1] * X[keep] + abg[2] * Y[keep]
            if np.any(z0 <= 0):
                raise ToolBoxValueError(
                    f"flat-field plane {list(plane)} is not positive over ROI {name!r}"
                )
            basis = kernels.moment_basis(X[keep], Y[keep], z0, order) * w[keep][:, None]
            self.m[name] = kernels.moments(arr, dark, ys, xs, basis).reshape(-1, basis.shape[1])
            self.abg0[name] = abg
            self.zrange[name] = (X[keep], Y[keep], z0)
        r = rois["0"]
        yy, xx = np.mgrid[r["yl"] : r["yh"], r["xl"] : r["xh"]]
        w = mask[r["yl"] : r["yh"], r["xl"] : r["xh"]].ravel()
        keep = w > 0
        if "s0" not in shared:
            shared["s0"] = kernels.moments(
                arr,
                dark,
                yy.ravel()[keep].astype(np.int64),
                xx.ravel()[keep].astype(np.int64),
                w[keep][:, None],
            ).reshape(-1)
            shared["ok"] = ~kernels.saturation(arr, rois["sat"], sat_level).ravel()
        self.s0, self.ok = shared["s0"], shared["ok"]

    def sums(self, name, plane):
        dabg = _abg(plane) - self.abg0[name]
        c = kernels.moment_coefficients(*dabg, order=self.order)
        return kernels.matvec(self.m[name], c)

    def close(self, planes, tol=0.05):
        for name, plane in zip(("n", "p"), planes):
            X, Y, z0 = self.zrange[name]
            dabg = _abg(plane) - self.abg0[name]
            if np.max(np.abs((dabg[0] + dabg[1] * X + dabg[2] * Y) / z0)) > tol:
                return False
        return True


def _moments(arr_dark, arr, rois, mask, planes, mirror, sat_level, params):
    """The `_Moments` of an expansion centre close to the planes (kept in the cache of
    params; a new centre when the planes moved by more than 5 %)."""
    cache = cache_of(params)
    key = (
        roi_key(rois),
        cache.fingerprint(mask, bool),
        int(sat_level),
        bool(mirror),
        bool(getattr(params, "use_hex", False)),
    )
    store = cache.get("moments", (arr_dark, arr), key, lambda: {"shared": {}, "centres": []})
    for m in store["centres"]:
        if m.close(planes):
            return m
    m = _Moments(
        arr_dark, arr, rois, mask, planes, mirror, sat_level, params, shared=store["shared"]
    )
    store["centres"].append(m)
    return m


def _binned_spread(r, i0, nbins=10):
    """Sum over bins of the '0' intensity (quantiles) of std(r)/mean(r)."""
    edges = np.quantile(i0, np.linspace(0, 1, nbins + 1))
    idx = np.clip(np.searchsorted(edges, i0, side="right") - 1, 0, nbins - 1)
    cnt = np.bincount(idx, minlength=nbins)
    s1 = np.bincount(idx, r, minlength=nbins)
    s2 = np.bincount(idx, r * r, minlength=nbins)
    good = cnt > 1
    mu = s1[good] / cnt[good]
    var = np.clip(s2[good] / cnt[good] - mu**2, 0, None)
    return float(np.sum(np.sqrt(var) / np.abs(mu)))


def ff_refine_crit(p, alpha, params, arr_dark, arr, tid, rois, mask, sat_level=511):
    """Criteria for the ff_refine_fit.

    Evaluated on per-frame moments of the data around the plane (built once per
    expansion centre and kept in ``params.cache``): O(frames x 20) per evaluation.

    Parameters
    ----------
    p : array_like
        ff plane (4 or 8 values).
    alpha : float
        Weight of the mean-ratio term (0..1).
    params : parameters
        ``force_mirror``, ``use_hex`` and the cache are read.
    arr_dark, arr : numpy.ndarray or dask.array.Array
        (trainId, pulseId, 128, 512) raw dark and data.
    tid : array_like
        The train ids (unused, ToolBox signature).
    rois : dict
        The ROIs ``'n'``, ``'0'``, ``'p'``, ``'sat'``.
    mask : array_like
        (128, 512) mask (True = good pixel).
    sat_level : int
        Saturation level (raw ADU).

    Returns
    -------
    float
        ``(1 - alpha) * err1 + alpha * err2``: err1 the sum over bins of the '0'
        intensity of the relative standard deviation of 'n'/'0' and 'p'/'0'
        (non-saturated frames, no non-linear correction), err2
        ``= 100 * ((<n/0> - 1)^2 + (<p/0> - 1)^2)``.
    """
    pn, pp, mirror = split_planes(p)
    mirror = mirror and getattr(params, "force_mirror", True)
    m = _moments(arr_dark, arr, rois, mask, (pn, pp), mirror, sat_level, params)
    ok = m.ok
    s0 = m.s0[ok]
    err1 = err2 = 0.0
    for name, plane in (("n", pn), ("p", pp)):
        r = m.sums(name, plane)[ok] / s0
        err1 += _binned_spread(r, s0)
        err2 += 100 * (np.sum(m.sums(name, plane)[ok]) / np.sum(s0) - 1) ** 2
    return (1.0 - alpha) * err1 + alpha * err2


def ff_refine_fit(params, crit=ff_refine_crit):
    """Refine the flat-field fit by minimizing data spread.

    Parameters
    ----------
    params : parameters
        Starts from ``params.get_flat_field()``; uses ``params.ff_alpha`` (default 0.1),
        ``params.ff_max_iter`` (default 200), ``params.sat_level`` (default 511).
    crit : callable
        The criterion, with the signature of `ff_refine_crit` (Nelder-Mead).

    Returns
    -------
    res : scipy.optimize.OptimizeResult
        ``res.x`` the plane.
    fitrres : numpy.ndarray
        Per iteration ``[crit(alpha=0), crit(alpha), crit(alpha=1)]``.
    """
    if params.get_flat_field() is None or params.rois is None:
        raise ToolBoxValueError(
            "ff_refine_fit: set params.rois and a flat field first (find_rois, plane_fitting)"
        )
    alpha = 0.1 if params.ff_alpha is None else float(params.ff_alpha)
    maxiter = 200 if params.ff_max_iter is None else int(params.ff_max_iter)
    sat = 511 if params.sat_level is None else int(params.sat_level)
    args = (params, params.arr_dark, params.arr, params.tid, params.rois, params.get_mask(), sat)
    x0 = np.asarray(params.get_flat_field(), float)
    fitrres = []
    # a bar where someone watches (terminal, notebook, report): iterations up to maxiter
    bar = progress_bar(
        total=maxiter, desc="flat-field refinement", unit="iteration", disable=not interactive()
    )

    def cb(x, *a):
        c0, c1 = crit(x, 0.0, *args), crit(x, 1.0, *args)  # the criterion is linear in alpha
        fitrres.append([c0, (1 - alpha) * c0 + alpha * c1, c1])
        bar.update(1)

    # initial simplex: 1 % steps (the plane fit is close; scipy's 5 % would move the
    # plane beyond the 5 % validity of one moment expansion at once)
    steps = np.where(x0 != 0, 0.01 * np.abs(x0), 1e-3)
    simplex = np.vstack([x0] + [x0 + np.eye(x0.size)[i] * steps[i] for i in range(x0.size)])
    res = minimize(
        crit,
        x0,
        args=(alpha,) + args,
        method="Nelder-Mead",
        callback=cb,
        options={"maxiter": maxiter, "xatol": 1e-6, "fatol": 1e-9, "initial_simplex": simplex},
    )
    bar.close()
    return res, np.array(fitrres).reshape(-1, 3)


# -- normalization with the non-linearity -----------------------------------------
def normalize_flat_field(params, Fnl=None):
    """The flat-field plane rescaled so that the mean ratios are 1 with the non-linearity.

    The mean 'n'/'0' and 'p'/'0' of the data (params.arr, non-saturated frames) are
    made 1 with the non-linearity Fnl: the last step of the determination, since the
    lookup table changes the mean ratio slightly.

    Parameters
    ----------
    params : parameters
        With the data, rois, flat field and sat_level set.
    Fnl : array_like, optional
        Lookup table (512 values); default ``params.get_Fnl()``.

    Returns
    -------
    numpy.ndarray
        The new plane parameters (mirror: one factor for both beams; 8 parameters: one
        each).
    """
    F = params.get_Fnl() if Fnl is None else np.asarray(Fnl, float)
    ff = compute_flat_field_correction(params.rois, params)
    sat = 511 if params.sat_level is None else int(params.sat_level)
    d = process(
        F,
        params.arr_dark,
        params.arr,
        params.tid,
        params.rois,
        params.get_mask(),
        ff,
        sat,
        cache=cache_of(params),
    )
    ok = ~d["sat_sat"].values.ravel()
    k = {
        b: float(d[b].values.ravel()[ok].sum() / d["0"].values.ravel()[ok].sum())
        for b in ("n", "p")
    }
    plane = np.asarray(params.get_flat_field(), float).copy()
    if plane.size == 4:
        plane[2] /= 0.5 * (k["n"] + k["p"])
    else:
        plane[2] /= k["n"]
        plane[6] /= k["p"]
    return plane
