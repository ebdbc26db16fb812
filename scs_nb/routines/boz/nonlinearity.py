"""BOZ non-linearity: the 9-bit lookup table fitted so that the transmission of empty
membranes reaches the photon shot noise.

The criterion is evaluated on the per-frame histograms of ``reductions`` (built once
per data, mask and flat field): O(frames x 512) per evaluation, with its analytic
gradient.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from ...errors import ToolBoxValueError
from ...progress import bar as progress_bar
from ...progress import interactive
from . import kernels
from .flat_field import compute_flat_field_correction
from .reductions import cache_of, histograms


# -- the lookup table --------------------------------------------------------------
def nl_domain(N, low, high):
    """Create the input domain where the non-linear correction is defined.

    Parameters
    ----------
    N : int
        Number of segments.
    low, high : int
        The correction applies to raw values (ADU) strictly between them.

    Returns
    -------
    numpy.ndarray
        2**9 integers: 0 where no correction applies (x <= low or x >= high), else the
        segment 1..N of x (N equal segments over ]low, high[).

    Examples
    --------
    >>> domain = nl_domain(30, 20, 511)
    """
    N, low, high = int(N), int(low), int(high)
    if not (0 <= low < high <= 512 and 1 <= N <= high - low - 1):
        raise ToolBoxValueError(
            f"nl_domain: need 0 <= low < high <= 512 and 1 <= N < high - "
            f"low; got N={N}, low={low}, high={high}"
        )
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
    """Compute the non-linear correction lookup table F_INL.

    Parameters
    ----------
    domain : numpy.ndarray
        From `nl_domain`.
    dy : array_like
        The correction (ADU) at each segment centre.

    Returns
    -------
    numpy.ndarray
        512 values: x + dy interpolated between the segment centres of the domain (0
        outside it).
    """
    L = _lut_matrix(domain)
    dy = np.asarray(dy, float)
    if dy.shape != (L.shape[1],):
        raise ToolBoxValueError(
            f"nl_lut: dy must have one value per segment ({L.shape[1]}), got shape {dy.shape}"
        )
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
        s2, da, db = kernels.weighted_var_grad(a, b)
        err += 1e8 * s2 / len(pairs)
        gg = kernels.rmatvec(h.flat[sig], da)
        for r in refs:
            gg = gg + kernels.rmatvec(h.flat[r], db)
        g += 1e8 * gg / len(pairs)
    return err, g


def _nl_value(
    p,
    domain,
    alpha,
    arr_dark,
    arr,
    rois,
    mask,
    flat_field,
    sat_level,
    sk,
    grad=False,
    parts=None,
    cache=None,
):
    L = _lut_matrix(domain)
    F = np.arange(512.0) + L @ np.asarray(p, float)
    h = histograms(arr_dark, arr, rois, mask, flat_field, sat_level, cache)
    err, g = _nl_terms(F, h, sk)
    dev = F - np.arange(512.0)
    reg = float(np.sum(dev**2))
    if parts is not None:
        parts[:] = [err, reg]
    val = (1.0 - alpha) * err + alpha * reg
    if not grad:
        return val
    return val, L.T @ ((1.0 - alpha) * g + alpha * 2 * dev)


def nl_crit(
    p,
    domain,
    alpha,
    arr_dark,
    arr,
    tid,
    rois,
    mask,
    flat_field,
    sat_level=511,
    use_gpu=False,
    cache=None,
):
    """Criteria for the non linear correction.

    Evaluated in O(frames x 512) on per-frame histograms (built once per data, mask
    and flat field, and kept in ``cache``).

    Parameters
    ----------
    p : array_like
        dy, the correction at the segment centres (ADU, one per segment of the domain).
    domain : numpy.ndarray
        From `nl_domain`.
    alpha : float
        Weight of the regularisation (0..1).
    arr_dark, arr : numpy.ndarray or dask.array.Array
        (trainId, pulseId, 128, 512) raw dark and data.
    tid : array_like
        The train ids (unused, ToolBox signature).
    rois : dict
        The ROIs ``'n'``, ``'0'``, ``'p'``, ``'sat'``.
    mask : array_like
        (128, 512) mask (True = good pixel).
    flat_field : array_like
        (128, 512) flat field.
    sat_level : int
        Saturation level (raw ADU).
    use_gpu : bool
        Ignored: the CPU path (histogram reductions) is used.
    cache : ReductionCache, optional
        Where the histograms are kept (default the shared one).

    Returns
    -------
    float
        ``(1.0 - alpha) * err1 + alpha * err2``, where err1 is 1e8 times the mean over
        'n' and 'p' of the squared weighted standard deviation of the transmission
        ('n'/'0', 'p'/'0', non-saturated frames) and err2 the sum of the squared
        deviation of the lookup table from the ideal detector response (ADU^2).
    """
    return _nl_value(
        p, domain, alpha, arr_dark, arr, rois, mask, flat_field, sat_level, False, cache=cache
    )


def nl_crit_sk(
    p,
    domain,
    alpha,
    arr_dark,
    arr,
    tid,
    rois,
    mask,
    flat_field,
    sat_level=511,
    use_gpu=False,
    cache=None,
):
    """Non linear correction criteria, combining 'n' and 'p' as reference.

    As `nl_crit`, with err1 from the transmission '0'/('n' + 'p') (S K-edge: the
    sample in the 0th order).

    Parameters
    ----------
    p : array_like
        dy, the correction at the segment centres (ADU, one per segment of the domain).
    domain : numpy.ndarray
        From `nl_domain`.
    alpha : float
        Weight of the regularisation (0..1).
    arr_dark, arr : numpy.ndarray or dask.array.Array
        (trainId, pulseId, 128, 512) raw dark and data.
    tid : array_like
        The train ids (unused, ToolBox signature).
    rois : dict
        The ROIs ``'n'``, ``'0'``, ``'p'``, ``'sat'``.
    mask : array_like
        (128, 512) mask (True = good pixel).
    flat_field : array_like
        (128, 512) flat field.
    sat_level : int
        Saturation level (raw ADU).
    use_gpu : bool
        Ignored: the CPU path (histogram reductions) is used.
    cache : ReductionCache, optional
        Where the histograms are kept (default the shared one).

    Returns
    -------
    float
        ``(1.0 - alpha) * err1 + alpha * err2``.
    """
    return _nl_value(
        p, domain, alpha, arr_dark, arr, rois, mask, flat_field, sat_level, True, cache=cache
    )


def nl_fit(params, domain, ff=None, crit=None):
    """Fit non linearities correction function.

    Parameters
    ----------
    params : parameters
        nl_alpha (default 1e-4), sat_level (default 511), nl_max_iter (default 500);
        ``params.nl_domain`` is set to ``domain``.
    domain : numpy.ndarray
        From `nl_domain`.
    ff : array_like, optional
        (128, 512) flat field (default from params).
    crit : callable, optional
        `nl_crit` (default) or `nl_crit_sk`, minimized with their analytic gradient
        (L-BFGS-B), or any function of the same signature (Nelder-Mead).

    Returns
    -------
    res : scipy.optimize.OptimizeResult
        ``res.x = dy`` (ADU at the segment centres).
    fitrres : numpy.ndarray
        Per iteration ``[crit(alpha=0), crit(alpha), crit(alpha=1)]``.
    """
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
    cache = cache_of(params)
    fitrres = []
    # a bar where someone watches (terminal, notebook, report): iterations up to maxiter
    bar = progress_bar(
        total=maxiter, desc="non-linearity fit", unit="iteration", disable=not interactive()
    )
    if crit in (nl_crit, nl_crit_sk):
        sk = crit is nl_crit_sk

        last = {}

        def fun(x):
            parts = []
            out = _nl_value(x, domain, alpha, *args[1:], sk, grad=True, parts=parts, cache=cache)
            last[x.tobytes()] = parts
            if len(last) > 50:
                last.pop(next(iter(last)))
            return out

        def cb(x, *a):
            parts = last.get(np.asarray(x, float).tobytes())
            if parts is None:
                parts = []
                _nl_value(x, domain, 0.0, *args[1:], sk, parts=parts, cache=cache)
            c0, c1 = parts
            fitrres.append([c0, (1 - alpha) * c0 + alpha * c1, c1])
            bar.update(1)

        res = minimize(
            fun,
            np.zeros(N),
            jac=True,
            method="L-BFGS-B",
            callback=cb,
            options={"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-8},
        )
    else:
        cargs = (
            domain,
            alpha,
            params.arr_dark,
            params.arr,
            params.tid,
            params.rois,
            mask,
            ff,
            sat,
        )

        def cb(x, *a):
            fitrres.append([crit(x, domain, a_, *cargs[2:]) for a_ in (0.0, alpha, 1.0)])
            bar.update(1)

        res = minimize(
            crit,
            np.zeros(N),
            args=cargs,
            method="Nelder-Mead",
            callback=cb,
            options={"maxiter": maxiter},
        )
    bar.close()
    return res, np.array(fitrres).reshape(-1, 3)


# -- the reference: a straightforward numpy evaluation of nl_crit ------------------
def nl_crit_reference(p, domain, alpha, arr_dark, arr, rois, mask, flat_field, sat_level=511):
    """`nl_crit` computed the plain way, the reference of the tests and of benchmarks/boz.py.

    Per-pixel lookup, dark, mask, flat field and ROI sums over every frame, in memory.

    Parameters
    ----------
    p, domain, alpha, arr_dark, arr, rois, mask, flat_field, sat_level
        As `nl_crit`.

    Returns
    -------
    float
        The value of `nl_crit`.
    """
    F = nl_lut(domain, p)
    d = np.asarray(arr_dark)
    dark = F[d].mean(axis=0)
    w = np.asarray(mask, float) / np.asarray(flat_field, float)
    a = np.asarray(arr)
    corr = (F[a] - dark[None]) * w
    sums = {
        r: corr[:, :, rois[r]["yl"] : rois[r]["yh"], rois[r]["xl"] : rois[r]["xh"]].sum(
            axis=(2, 3)
        )
        for r in ("n", "0", "p")
    }
    sr = rois["sat"]
    ok = ~(a[:, :, sr["yl"] : sr["yh"], sr["xl"] : sr["xh"]] >= sat_level).any(axis=(2, 3))
    n, z, q = (sums[r][ok] for r in ("n", "0", "p"))
    err = 0.5 * 1e8 * (kernels.weighted_var(n, z) + kernels.weighted_var(q, z))
    return (1.0 - alpha) * err + alpha * float(np.sum((F - np.arange(512)) ** 2))
