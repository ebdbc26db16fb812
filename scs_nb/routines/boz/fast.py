"""The reductions that make the BOZ fits fast.

For a fixed flat field ``ff`` and mask ``m``, the ROI sum of a frame corrected by a
lookup table ``F`` is linear in ``F``::

    S_r(f) = sum_{p in r} m_p / ff_p * (F[raw_fp] - <F[dark]>_{k(f), p})
           = F . (H_r[f] - G_r[k(f)])

with ``H_r[f, v]`` the flat-field-weighted histogram of the frame's 9-bit values
over ROI ``r`` and ``G_r[k, v]`` the same for the dark, averaged over the dark
trains of memory cell ``k``. One pass over the data builds ``Hc = H - G``
(frames x 512 per ROI); every criterion evaluation is then a (frames x 512)
matrix-vector product, for any ``F``.

For a plane flat field ``z = z0 + dz`` (identity ``F``) the ROI sum
``sum d / z`` is a polynomial in the plane change whose coefficients are the
per-frame moments ``sum d x^i y^j / z0^(n+1)`` (``i + j <= n <= order``): the
flat-field refinement costs O(frames x 20) per evaluation.

The histogramming and the moments are numba kernels; the data are streamed
train chunk by train chunk (numpy or dask arrays), so a run never has to fit
in memory.
"""
from __future__ import annotations

import numpy as np

NBINS = 512
_KERNELS: dict = {}


def _njit(func):
    name = func.__name__
    if name not in _KERNELS:
        from numba import njit
        _KERNELS[name] = njit(cache=True, nogil=True)(func)
    return _KERNELS[name]


def _hist_kernel(frames, ys, xs, w, out):
    """out[f, v] += w[p] for v = frames[f, ys[p], xs[p]] (frames: (nf, 128, 512) uint16)."""
    nf = frames.shape[0]
    npx = ys.shape[0]
    for f in range(nf):
        for p in range(npx):
            v = frames[f, ys[p], xs[p]]
            if v > 511:
                v = 511
            out[f, v] += w[p]


def _sat_kernel(frames, yl, yh, xl, xh, level, out):
    nf = frames.shape[0]
    for f in range(nf):
        hit = False
        for y in range(yl, yh):
            for x in range(xl, xh):
                if frames[f, y, x] >= level:
                    hit = True
                    break
            if hit:
                break
        out[f] = hit


def _moment_kernel(frames, dark, ys, xs, basis, out):
    """out[f, j] = sum_p (frames[f, y_p, x_p] - dark[f % npulse, p]) * basis[p, j]."""
    nf = frames.shape[0]
    npx = ys.shape[0]
    nb = basis.shape[1]
    npulse = dark.shape[0]
    for f in range(nf):
        k = f % npulse
        for p in range(npx):
            d = np.float64(frames[f, ys[p], xs[p]]) - dark[k, p]
            for j in range(nb):
                out[f, j] += d * basis[p, j]


def _accumulate_kernel(block, lut, yl, yh, xl, xh, level, do_sq, s1, s2, cnt):
    """Per pulse sums of lut[raw] (and squares) over the trains of a block, leaving out
    frames with a pixel of [yl:yh, xl:xh] at or above level (level < 0: none)."""
    nt, npulse, ny, nx = block.shape
    for t in range(nt):
        for k in range(npulse):
            if level >= 0:
                hit = False
                for y in range(yl, yh):
                    for x in range(xl, xh):
                        if block[t, k, y, x] >= level:
                            hit = True
                            break
                    if hit:
                        break
                if hit:
                    continue
            cnt[k] += 1
            for y in range(ny):
                for x in range(nx):
                    v = lut[min(block[t, k, y, x], 511)]
                    s1[k, y, x] += v
                    if do_sq:
                        s2[k, y, x] += v * v


def accumulate(block, lut, sat_roi, level, do_sq, s1, s2, cnt):
    r = sat_roi or {"yl": 0, "yh": 0, "xl": 0, "xh": 0}
    _njit(_accumulate_kernel)(block, lut, int(r["yl"]), int(r["yh"]), int(r["xl"]),
                              int(r["xh"]), int(level) if sat_roi is not None else -1,
                              bool(do_sq), s1, s2, cnt)


def _matvec_kernel(h, f, out):
    n, m = h.shape
    for i in range(n):
        acc = 0.0
        for j in range(m):
            acc += h[i, j] * f[j]
        out[i] = acc


def _rmatvec_kernel(h, v, out):
    n, m = h.shape
    for i in range(n):
        vi = v[i]
        for j in range(m):
            out[j] += h[i, j] * vi


def matvec(h, f):
    """h @ f in float64 accumulation, single-threaded (BLAS threads fight on a busy
    machine; these products are small and memory bound)."""
    out = np.empty(h.shape[0])
    _njit(_matvec_kernel)(h, np.asarray(f, h.dtype), out)
    return out


def rmatvec(h, v):
    """h.T @ v (float64)."""
    out = np.zeros(h.shape[1])
    _njit(_rmatvec_kernel)(h, np.asarray(v, np.float64), out)
    return out


def iter_chunks(arr, chunk_trains=None):
    """(start, numpy block (trains, pulses, 128, 512)) over train chunks of a numpy or
    dask array."""
    n = arr.shape[0]
    if chunk_trains is None:
        per_train = int(np.prod(arr.shape[1:])) * 2
        chunk_trains = max(1, int(256e6 // max(per_train, 1)))
        chunks = getattr(arr, "chunks", None)
        if chunks is not None and isinstance(chunks[0], tuple):
            chunk_trains = max(chunk_trains // max(chunks[0][0], 1), 1) * chunks[0][0]
    for i in range(0, n, chunk_trains):
        block = arr[i:i + chunk_trains]
        if hasattr(block, "compute"):
            block = block.compute()
        yield i, np.ascontiguousarray(np.asarray(block))


def roi_pixels(roi, weight=None):
    """(ys, xs, w) of the pixels of an ROI dict, w from a (128, 512) weight image."""
    yy, xx = np.mgrid[roi["yl"]:roi["yh"], roi["xl"]:roi["xh"]]
    ys, xs = yy.ravel().astype(np.int64), xx.ravel().astype(np.int64)
    w = np.ones(ys.size) if weight is None else np.asarray(weight, float)[ys, xs]
    keep = w != 0
    return ys[keep], xs[keep], w[keep]


def histograms(arr, rois, weights, names=("n", "0", "p"), progress=None):
    """Per-frame weighted histograms: {name: (trains, pulses, 512) float32}."""
    hist = _njit(_hist_kernel)
    nt, npulse = arr.shape[:2]
    px = {r: roi_pixels(rois[r], weights) for r in names}
    out = {r: np.zeros((nt * npulse, NBINS), np.float32) for r in names}
    for i, block in iter_chunks(arr):
        b = block.reshape((-1,) + block.shape[2:])
        sl = slice(i * npulse, i * npulse + b.shape[0])
        for r in names:
            ys, xs, w = px[r]
            tmp = np.zeros((b.shape[0], NBINS), np.float64)
            hist(b, ys, xs, w, tmp)
            out[r][sl] = tmp
        if progress is not None:
            progress.update(block.shape[0])
    return {r: h.reshape(nt, npulse, NBINS) for r, h in out.items()}


def saturation(arr, roi, level):
    """(trains, pulses) bool: a pixel of the ROI is at or above level."""
    sat = _njit(_sat_kernel)
    nt, npulse = arr.shape[:2]
    out = np.zeros(nt * npulse, np.bool_)
    for i, block in iter_chunks(arr):
        b = block.reshape((-1,) + block.shape[2:])
        tmp = np.zeros(b.shape[0], np.bool_)
        sat(b, int(roi["yl"]), int(roi["yh"]), int(roi["xl"]), int(roi["xh"]), int(level), tmp)
        out[i * npulse:i * npulse + b.shape[0]] = tmp
    return out.reshape(nt, npulse)


def moments(arr, dark_mean, ys, xs, basis):
    """(trains, pulses, nbasis) per-frame sums of (raw - dark) * basis over the pixels."""
    kern = _njit(_moment_kernel)
    nt, npulse = arr.shape[:2]
    out = np.zeros((nt * npulse, basis.shape[1]))
    d = np.ascontiguousarray(np.asarray(dark_mean, np.float64)[:, ys, xs])
    basis = np.ascontiguousarray(basis, np.float64)
    for i, block in iter_chunks(arr):
        b = block.reshape((-1,) + block.shape[2:])
        tmp = np.zeros((b.shape[0], basis.shape[1]))
        kern(b, d, ys, xs, basis, tmp)
        out[i * npulse:i * npulse + b.shape[0]] = tmp
    return out.reshape(nt, npulse, basis.shape[1])


# -- polynomial expansion of 1/z around z0 -----------------------------------
def monomials(order=3):
    """(n, i, j) with i + j <= n <= order: the terms of sum_n (-dz)^n / z0^(n+1)."""
    return [(n, i, j) for n in range(order + 1) for i in range(n + 1) for j in range(n + 1 - i)]


def moment_basis(x, y, z0, order=3):
    """basis[p, t] = x^i y^j / z0^(n+1) for the monomials (n, i, j)."""
    return np.stack([x ** i * y ** j / z0 ** (n + 1) for n, i, j in monomials(order)], axis=1)


def moment_coefficients(dalpha, dbeta, dgamma, order=3):
    """c[t] such that sum_t c[t] * M[t] = sum_p d / (z0 + dz), dz = da + db x + dg y
    (truncated at the order): c = (-1)^n n!/(k! i! j!) da^k db^i dg^j, k = n - i - j."""
    from math import factorial
    c = []
    for n, i, j in monomials(order):
        k = n - i - j
        c.append((-1) ** n * factorial(n) / (factorial(k) * factorial(i) * factorial(j))
                 * dalpha ** k * dbeta ** i * dgamma ** j)
    return np.array(c)


# -- the weighted transmission variance and its gradient ----------------------
def weighted_var(a, b):
    """s^2 of the 'weighted' snr method: sum b (a/b - mu)^2 / sum b, mu = sum a / sum b."""
    w = b.sum()
    mu = a.sum() / w
    r = a / b
    return float(np.sum(b * (r - mu) ** 2) / w)


def weighted_var_grad(a, b):
    """(s^2, ds^2/da, ds^2/db) per frame."""
    w = b.sum()
    mu = a.sum() / w
    r = a / b
    s2 = np.sum(b * (r - mu) ** 2) / w
    da = 2 * (r - mu) / w
    db = ((r - mu) ** 2 - 2 * r * (r - mu) - s2) / w
    return float(s2), da, db


# -- the reference: a straightforward numpy evaluation of nl_crit ------------------
def nl_crit_reference(p, domain, alpha, arr_dark, arr, rois, mask, flat_field, sat_level=511):
    """nl_crit computed the plain way (per-pixel lookup, dark, mask, flat field, ROI
    sums over every frame): the reference of the tests and of benchmarks/boz.py."""
    from .fit import nl_lut
    F = nl_lut(domain, p)
    d = np.asarray(arr_dark)
    dark = F[d].mean(axis=0)
    w = np.asarray(mask, float) / np.asarray(flat_field, float)
    a = np.asarray(arr)
    corr = (F[a] - dark[None]) * w
    sums = {r: corr[:, :, rois[r]["yl"]:rois[r]["yh"], rois[r]["xl"]:rois[r]["xh"]].sum(axis=(2, 3))
            for r in ("n", "0", "p")}
    sr = rois["sat"]
    ok = ~(a[:, :, sr["yl"]:sr["yh"], sr["xl"]:sr["xh"]] >= sat_level).any(axis=(2, 3))
    n, z, q = (sums[r][ok] for r in ("n", "0", "p"))
    err = 0.5 * 1e8 * (weighted_var(n, z) + weighted_var(q, z))
    return (1.0 - alpha) * err + alpha * float(np.sum((F - np.arange(512)) ** 2))
