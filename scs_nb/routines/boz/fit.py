"""Flat-field refinement and non-linearity fit, on the fast reductions of ``fast``."""
from __future__ import annotations

import numpy as np

from ...errors import ToolBoxValueError
from . import fast
from .core import (_arr_key, _cache_get, _planes, _roi_key, _hist,
                   compute_flat_field_correction, get_roi_pixel_pos)


# -- flat-field refinement ------------------------------------------------------
def _abg(plane):
    """plane [a, b, c, d] -> (alpha, beta, gamma) of z = alpha + beta x + gamma y."""
    a, b, c, d = plane
    return np.array([-d / c, -a / c, -b / c])


class _Moments:
    """Per-frame moments of (raw - dark) in 'n' and 'p' around planes z0, and the
    plain sums of '0' (where the flat field is 1)."""

    def __init__(self, arr_dark, arr, rois, mask, planes, mirror, sat_level, params, order=3,
                 shared=None):
        from .core import _compute, average_module
        self.keep_alive = (arr_dark, arr)
        mask = np.ones(arr.shape[2:]) if mask is None else np.asarray(mask, float)
        shared = {} if shared is None else shared
        if "dark" not in shared:      # the same for every centre of the expansion
            shared["dark"] = np.asarray(_compute(average_module(arr_dark)))
        dark = shared["dark"]
        self.order = order
        self.abg0 = {}
        self.m = {}
        self.zrange = {}
        for name, plane, mir in (("n", planes[0], False), ("p", planes[1], mirror)):
            r = rois[name]
            X, Y = get_roi_pixel_pos(r, params)
            X = -X if mir else X
            w = mask[r["yl"]:r["yh"], r["xl"]:r["xh"]].ravel()
            keep = w > 0
            yy, xx = np.mgrid[r["yl"]:r["yh"], r["xl"]:r["xh"]]
            ys, xs = yy.ravel()[keep].astype(np.int64), xx.ravel()[keep].astype(np.int64)
            abg = _abg(plane)
            z0 = abg[0] + abg[1] * X[keep] + abg[2] * Y[keep]
            if np.any(z0 <= 0):
                raise ToolBoxValueError(f"flat-field plane {list(plane)} is not positive over "
                                        f"ROI {name!r}")
            basis = fast.moment_basis(X[keep], Y[keep], z0, order) * w[keep][:, None]
            self.m[name] = fast.moments(arr, dark, ys, xs, basis).reshape(-1, basis.shape[1])
            self.abg0[name] = abg
            self.zrange[name] = (X[keep], Y[keep], z0)
        r = rois["0"]
        yy, xx = np.mgrid[r["yl"]:r["yh"], r["xl"]:r["xh"]]
        w = mask[r["yl"]:r["yh"], r["xl"]:r["xh"]].ravel()
        keep = w > 0
        if "s0" not in shared:
            shared["s0"] = fast.moments(arr, dark, yy.ravel()[keep].astype(np.int64),
                                        xx.ravel()[keep].astype(np.int64),
                                        w[keep][:, None]).reshape(-1)
            shared["ok"] = ~fast.saturation(arr, rois["sat"], sat_level).ravel()
        self.s0, self.ok = shared["s0"], shared["ok"]

    def sums(self, name, plane):
        dabg = _abg(plane) - self.abg0[name]
        c = fast.moment_coefficients(*dabg, order=self.order)
        return fast.matvec(self.m[name], c)

    def close(self, planes, tol=0.05):
        for name, plane in zip(("n", "p"), planes):
            X, Y, z0 = self.zrange[name]
            dabg = _abg(plane) - self.abg0[name]
            if np.max(np.abs((dabg[0] + dabg[1] * X + dabg[2] * Y) / z0)) > tol:
                return False
        return True


def _moments(arr_dark, arr, rois, mask, planes, mirror, sat_level, params, center=None):
    from .core import _fingerprint
    mk = _fingerprint(mask, bool)
    base = ("moments", _arr_key(arr_dark), _arr_key(arr), _roi_key(rois), mk, int(sat_level),
            bool(mirror), bool(getattr(params, "use_hex", False)))
    store = _cache_get(base, lambda: {"shared": {}, "centres": []})
    for m in store["centres"]:
        if m.close(planes):
            return m
    m = _Moments(arr_dark, arr, rois, mask, planes, mirror, sat_level, params,
                 shared=store["shared"])
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
    var = np.clip(s2[good] / cnt[good] - mu ** 2, 0, None)
    return float(np.sum(np.sqrt(var) / np.abs(mu)))


def ff_refine_crit(p, alpha, params, arr_dark, arr, tid, rois, mask, sat_level=511):
    """Criteria for the ff_refine_fit.

    p: ff plane (4 or 8 values). Returns (1 - alpha) * err1 + alpha * err2: err1
    the sum over bins of the '0' intensity of the relative standard deviation of
    'n'/'0' and 'p'/'0' (non-saturated frames, no non-linear correction), err2
    = 100 * ((<n/0> - 1)^2 + (<p/0> - 1)^2).
    """
    pn, pp, mirror = _planes(p)
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

    Starts from params.get_flat_field(); uses params.ff_alpha (default 0.1),
    params.ff_max_iter (default 200), params.sat_level (default 511).
    Returns res (scipy minimize result, res.x the plane) and fitrres (per
    iteration [crit(alpha=0), crit(alpha), crit(alpha=1)]).
    """
    from scipy.optimize import minimize
    from tqdm.auto import tqdm
    if params.get_flat_field() is None or params.rois is None:
        raise ToolBoxValueError("ff_refine_fit: set params.rois and a flat field first "
                                "(find_rois, plane_fitting)")
    alpha = 0.1 if params.ff_alpha is None else float(params.ff_alpha)
    maxiter = 200 if params.ff_max_iter is None else int(params.ff_max_iter)
    sat = 511 if params.sat_level is None else int(params.sat_level)
    args = (params, params.arr_dark, params.arr, params.tid, params.rois, params.get_mask(), sat)
    x0 = np.asarray(params.get_flat_field(), float)
    fitrres = []
    bar = tqdm(total=maxiter, desc="flat-field refinement", leave=False)

    def cb(x, *a):
        c0, c1 = crit(x, 0.0, *args), crit(x, 1.0, *args)   # the criterion is linear in alpha
        fitrres.append([c0, (1 - alpha) * c0 + alpha * c1, c1])
        bar.update(1)

    # initial simplex: 1 % steps (the plane fit is close; scipy's 5 % would move the
    # plane beyond the 5 % validity of one moment expansion at once)
    steps = np.where(x0 != 0, 0.01 * np.abs(x0), 1e-3)
    simplex = np.vstack([x0] + [x0 + np.eye(x0.size)[i] * steps[i] for i in range(x0.size)])
    res = minimize(crit, x0, args=(alpha,) + args, method="Nelder-Mead", callback=cb,
                   options={"maxiter": maxiter, "xatol": 1e-6, "fatol": 1e-9,
                            "initial_simplex": simplex})
    bar.close()
    return res, np.array(fitrres).reshape(-1, 3)


# -- non-linearity --------------------------------------------------------------
def nl_domain(N, low, high):
    """Create the input domain where the non-linear correction is defined.

    Returns an array of 2**9 integers: 0 where no correction applies (x <= low or
    x >= high), else the segment 1..N of x (N equal segments over ]low, high[).
    """
    N, low, high = int(N), int(low), int(high)
    if not (0 <= low < high <= 512 and 1 <= N <= high - low - 1):
        raise ToolBoxValueError(f"nl_domain: need 0 <= low < high <= 512 and 1 <= N < high - "
                                f"low; got N={N}, low={low}, high={high}")
    x = np.arange(512)
    dom = np.zeros(512, int)
    inside = (x > low) & (x < high)
    dom[inside] = np.minimum(1 + ((x[inside] - low - 1) * N) // (high - low - 1), N)
    return dom


_LUT_CACHE: dict = {}


def _lut_matrix(domain):
    """L (512, N) with F = x + L @ dy: dy at the segment centres, linear in
    between, 0 at the domain ends."""
    domain = np.asarray(domain, int)
    key = domain.tobytes()
    if key not in _LUT_CACHE:
        _LUT_CACHE.clear()
        _LUT_CACHE[key] = _lut_matrix_make(domain)
    return _LUT_CACHE[key]


def _lut_matrix_make(domain):
    N = int(domain.max())
    nz = np.flatnonzero(domain)
    if N < 1 or nz.size == 0:
        raise ToolBoxValueError("nl_lut: the domain defines no segment (use nl_domain)")
    low, high = nz[0] - 1, nz[-1] + 1
    x = np.arange(512, dtype=float)
    centres = np.array([x[domain == j].mean() for j in range(1, N + 1)])
    knots = np.concatenate([[low], centres, [high]])
    L = np.zeros((512, N))
    for j in range(N):
        e = np.zeros(N + 2)
        e[j + 1] = 1.0
        L[nz, j] = np.interp(x[nz], knots, e)
    return L


def nl_lut(domain, dy):
    """Compute the non-linear correction lookup table F_INL (512 values): x +
    dy interpolated between the segment centres of the domain (0 outside it)."""
    L = _lut_matrix(domain)
    dy = np.asarray(dy, float)
    if dy.shape != (L.shape[1],):
        raise ToolBoxValueError(f"nl_lut: dy must have one value per segment "
                                f"({L.shape[1]}), got shape {dy.shape}")
    return np.arange(512.0) + L @ dy


def _nl_terms(F, h, sk=False):
    """data term err = 1e8 * weighted variance and its gradient wrt F."""
    s = h.sums(F)
    if sk:
        pairs = [("0", ("n", "p"))]
    else:
        pairs = [("n", ("0",)), ("p", ("0",))]
    err, g = 0.0, np.zeros(512)
    for sig, refs in pairs:
        a = s[sig]
        b = sum(s[r] for r in refs)
        s2, da, db = fast.weighted_var_grad(a, b)
        err += 1e8 * s2 / len(pairs)
        gg = fast.rmatvec(h.flat[sig], da)
        for r in refs:
            gg = gg + fast.rmatvec(h.flat[r], db)
        g += 1e8 * gg / len(pairs)
    return err, g


def _nl_value(p, domain, alpha, arr_dark, arr, rois, mask, flat_field, sat_level, sk,
              grad=False, parts=None):
    L = _lut_matrix(domain)
    F = np.arange(512.0) + L @ np.asarray(p, float)
    h = _hist(arr_dark, arr, rois, mask, flat_field, sat_level)
    err, g = _nl_terms(F, h, sk)
    dev = F - np.arange(512.0)
    reg = float(np.sum(dev ** 2))
    if parts is not None:
        parts[:] = [err, reg]
    val = (1.0 - alpha) * err + alpha * reg
    if not grad:
        return val
    return val, L.T @ ((1.0 - alpha) * g + alpha * 2 * dev)


def nl_crit(p, domain, alpha, arr_dark, arr, tid, rois, mask, flat_field, sat_level=511,
            use_gpu=False):
    """Criteria for the non linear correction.

    Returns (1.0 - alpha) * err1 + alpha * err2, where err1 is 1e8 times the mean
    over 'n' and 'p' of the squared weighted standard deviation of the
    transmission ('n'/'0', 'p'/'0', non-saturated frames) and err2 the sum of
    the squared deviation of the lookup table from the ideal detector response.
    Evaluated in O(frames x 512) on per-frame histograms (built once per data,
    mask and flat field).
    """
    return _nl_value(p, domain, alpha, arr_dark, arr, rois, mask, flat_field, sat_level, False)


def nl_crit_sk(p, domain, alpha, arr_dark, arr, tid, rois, mask, flat_field, sat_level=511,
               use_gpu=False):
    """Non linear correction criteria, combining 'n' and 'p' as reference: err1
    from the transmission '0'/('n' + 'p') (S K-edge: the sample in the 0th order)."""
    return _nl_value(p, domain, alpha, arr_dark, arr, rois, mask, flat_field, sat_level, True)


def nl_fit(params, domain, ff=None, crit=None):
    """Fit non linearities correction function.

    params: parameters (nl_alpha default 1e-4, sat_level default 511,
    nl_max_iter default 500); domain: from nl_domain; ff: flat field (default
    from params); crit: nl_crit (default) or nl_crit_sk, minimized with their
    analytic gradient (L-BFGS-B), or any function of the same signature
    (Nelder-Mead). Returns res (res.x = dy) and fitrres (per iteration
    [crit(alpha=0), crit(alpha), crit(alpha=1)]).
    """
    from scipy.optimize import minimize
    from tqdm.auto import tqdm
    crit = nl_crit if crit is None else crit
    if ff is None:
        ff = compute_flat_field_correction(params.rois, params)
    alpha = 1e-4 if params.nl_alpha is None else float(params.nl_alpha)
    sat = 511 if params.sat_level is None else int(params.sat_level)
    maxiter = 500 if params.nl_max_iter is None else int(params.nl_max_iter)
    domain = np.asarray(domain, int)
    params.nl_domain = domain
    N = int(domain.max())
    mask = params.get_mask()
    args = (domain, params.arr_dark, params.arr, params.rois, mask, ff, sat)
    fitrres = []
    bar = tqdm(total=maxiter, desc="non-linearity fit", leave=False)
    if crit in (nl_crit, nl_crit_sk):
        sk = crit is nl_crit_sk

        last = {}

        def fun(x):
            parts = []
            out = _nl_value(x, domain, alpha, *args[1:], sk, grad=True, parts=parts)
            last[x.tobytes()] = parts
            if len(last) > 50:
                last.pop(next(iter(last)))
            return out

        def cb(x, *a):
            parts = last.get(np.asarray(x, float).tobytes())
            if parts is None:
                parts = []
                _nl_value(x, domain, 0.0, *args[1:], sk, parts=parts)
            c0, c1 = parts
            fitrres.append([c0, (1 - alpha) * c0 + alpha * c1, c1])
            bar.update(1)

        res = minimize(fun, np.zeros(N), jac=True, method="L-BFGS-B", callback=cb,
                       options={"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-8})
    else:
        cargs = (domain, alpha, params.arr_dark, params.arr, params.tid, params.rois, mask, ff,
                 sat)

        def cb(x, *a):
            fitrres.append([crit(x, domain, a_, *cargs[2:]) for a_ in (0.0, alpha, 1.0)])
            bar.update(1)

        res = minimize(crit, np.zeros(N), args=cargs, method="Nelder-Mead", callback=cb,
                       options={"maxiter": maxiter})
    bar.close()
    return res, np.array(fitrres).reshape(-1, 3)


def normalize_flat_field(params, Fnl=None):
    """The flat-field plane rescaled so that the mean 'n'/'0' and 'p'/'0' of the
    data (params.arr, non-saturated frames) are 1 with the non-linearity Fnl
    (default params.get_Fnl()): the last step of the determination, since the
    lookup table changes the mean ratio slightly. Returns the new plane
    parameters (mirror: one factor for both beams; 8 parameters: one each)."""
    from .core import process
    F = params.get_Fnl() if Fnl is None else np.asarray(Fnl, float)
    ff = compute_flat_field_correction(params.rois, params)
    sat = 511 if params.sat_level is None else int(params.sat_level)
    d = process(F, params.arr_dark, params.arr, params.tid, params.rois, params.get_mask(), ff,
                sat)
    ok = ~d["sat_sat"].values.ravel()
    k = {b: float(d[b].values.ravel()[ok].sum() / d["0"].values.ravel()[ok].sum())
         for b in ("n", "p")}
    plane = np.asarray(params.get_flat_field(), float).copy()
    if plane.size == 4:
        plane[2] /= 0.5 * (k["n"] + k["p"])
    else:
        plane[2] /= k["n"]
        plane[6] /= k["p"]
    return plane
