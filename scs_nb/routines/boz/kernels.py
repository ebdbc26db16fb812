"""Numba kernels and streaming helpers of the BOZ reductions (the lowest layer of the package).

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

from math import factorial

import numpy as np

#: bins of the 9-bit DSSC raw values
NBINS = 512
_KERNELS: dict = {}


def _njit(func):
    name = func.__name__
    if name not in _KERNELS:
        from numba import njit  # heavy: numba loads in about a second, compiled on first use

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
    """Add the per-pulse sums of ``lut[raw]`` of a block of trains to ``s1`` (and ``s2``).

    Parameters
    ----------
    block : numpy.ndarray
        Raw 9-bit values, (trains, pulses, 128, 512).
    lut : numpy.ndarray
        Lookup table of the 512 raw values (ADU).
    sat_roi : dict or None
        ROI ``{'xl', 'xh', 'yl', 'yh'}`` whose saturation leaves a frame out; None: none.
    level : int
        Saturation level (raw ADU): a pixel of ``sat_roi`` at or above it leaves the frame out.
    do_sq : bool
        Also accumulate the squares into ``s2``.
    s1, s2 : numpy.ndarray
        (pulses, 128, 512) float64 accumulators, updated in place.
    cnt : numpy.ndarray
        (pulses,) int64 frame counts, updated in place.
    """
    r = sat_roi or {"yl": 0, "yh": 0, "xl": 0, "xh": 0}
    _njit(_accumulate_kernel)(
        block,
        lut,
        int(r["yl"]),
        int(r["yh"]),
        int(r["xl"]),
        int(r["xh"]),
        int(level) if sat_roi is not None else -1,
        bool(do_sq),
        s1,
        s2,
        cnt,
    )


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
    """``h @ f`` in float64 accumulation, single-threaded.

    BLAS threads fight on a busy machine, and these products are small and memory bound.

    Parameters
    ----------
    h : numpy.ndarray
        (n, m) matrix (float32 histograms or float64 moments).
    f : array_like
        (m,) vector.

    Returns
    -------
    numpy.ndarray
        (n,) float64.
    """
    out = np.empty(h.shape[0])
    _njit(_matvec_kernel)(h, np.asarray(f, h.dtype), out)
    return out


def rmatvec(h, v):
    """``h.T @ v`` in float64, single-threaded (see `matvec`).

    Parameters
    ----------
    h : numpy.ndarray
        (n, m) matrix.
    v : array_like
        (n,) vector.

    Returns
    -------
    numpy.ndarray
        (m,) float64.
    """
    out = np.zeros(h.shape[1])
    _njit(_rmatvec_kernel)(h, np.asarray(v, np.float64), out)
    return out


def iter_chunks(arr, chunk_trains=None):
    """Iterate over train chunks of a numpy or dask array, as numpy blocks.

    Parameters
    ----------
    arr : numpy.ndarray or dask.array.Array
        (trains, pulses, 128, 512) raw data.
    chunk_trains : int, optional
        Trains per block; default about 256 MB per block, a multiple of the dask chunks.

    Yields
    ------
    start : int
        Index of the first train of the block.
    block : numpy.ndarray
        C-contiguous (trains, pulses, 128, 512) block.
    """
    n = arr.shape[0]
    if chunk_trains is None:
        per_train = int(np.prod(arr.shape[1:])) * 2
        chunk_trains = max(1, int(256e6 // max(per_train, 1)))
        chunks = getattr(arr, "chunks", None)
        if chunks is not None and isinstance(chunks[0], tuple):
            chunk_trains = max(chunk_trains // max(chunks[0][0], 1), 1) * chunks[0][0]
    for i in range(0, n, chunk_trains):
        block = arr[i : i + chunk_trains]
        if hasattr(block, "compute"):
            block = block.compute()
        yield i, np.ascontiguousarray(np.asarray(block))


def roi_pixels(roi, weight=None):
    """The pixels of an ROI with a non-zero weight.

    Parameters
    ----------
    roi : dict
        ``{'xl', 'xh', 'yl', 'yh'}`` (pixel indices, upper bounds excluded).
    weight : array_like, optional
        (128, 512) weight image; default 1 everywhere.

    Returns
    -------
    ys, xs : numpy.ndarray
        int64 row and column indices.
    w : numpy.ndarray
        Their weights.
    """
    yy, xx = np.mgrid[roi["yl"] : roi["yh"], roi["xl"] : roi["xh"]]
    ys, xs = yy.ravel().astype(np.int64), xx.ravel().astype(np.int64)
    w = np.ones(ys.size) if weight is None else np.asarray(weight, float)[ys, xs]
    keep = w != 0
    return ys[keep], xs[keep], w[keep]


def histograms(arr, rois, weights, names=("n", "0", "p"), progress=None):
    """Per-frame weighted histograms of the raw values over ROIs, in one pass over the data.

    Parameters
    ----------
    arr : numpy.ndarray or dask.array.Array
        (trains, pulses, 128, 512) raw 9-bit data (values above 511 count as 511).
    rois : dict
        ROI dicts by name.
    weights : array_like
        (128, 512) pixel weights (mask / flat field).
    names : tuple of str
        The ROIs to histogram.
    progress : object, optional
        Anything with ``update(n_trains)`` (a tqdm bar).

    Returns
    -------
    dict
        ``{name: (trains, pulses, 512) float32}``: the sum of the weights of the ROI's
        pixels having each raw value.
    """
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
    """Saturation flags of the frames.

    Parameters
    ----------
    arr : numpy.ndarray or dask.array.Array
        (trains, pulses, 128, 512) raw data.
    roi : dict
        ``{'xl', 'xh', 'yl', 'yh'}``.
    level : int
        Saturation level (raw ADU).

    Returns
    -------
    numpy.ndarray
        (trains, pulses) bool: a pixel of the ROI is at or above ``level``.
    """
    sat = _njit(_sat_kernel)
    nt, npulse = arr.shape[:2]
    out = np.zeros(nt * npulse, np.bool_)
    for i, block in iter_chunks(arr):
        b = block.reshape((-1,) + block.shape[2:])
        tmp = np.zeros(b.shape[0], np.bool_)
        sat(b, int(roi["yl"]), int(roi["yh"]), int(roi["xl"]), int(roi["xh"]), int(level), tmp)
        out[i * npulse : i * npulse + b.shape[0]] = tmp
    return out.reshape(nt, npulse)


def moments(arr, dark_mean, ys, xs, basis):
    """Per-frame moments of the dark-subtracted data over some pixels.

    Parameters
    ----------
    arr : numpy.ndarray or dask.array.Array
        (trains, pulses, 128, 512) raw data.
    dark_mean : array_like
        (pulses, 128, 512) dark average (ADU), subtracted per memory cell.
    ys, xs : numpy.ndarray
        int64 pixel indices.
    basis : numpy.ndarray
        (pixels, nbasis) weights.

    Returns
    -------
    numpy.ndarray
        (trains, pulses, nbasis): ``sum_p (raw - dark) * basis[p]``.
    """
    kern = _njit(_moment_kernel)
    nt, npulse = arr.shape[:2]
    out = np.zeros((nt * npulse, basis.shape[1]))
    d = np.ascontiguousarray(np.asarray(dark_mean, np.float64)[:, ys, xs])
    basis = np.ascontiguousarray(basis, np.float64)
    for i, block in iter_chunks(arr):
        b = block.reshape((-1,) + block.shape[2:])
        tmp = np.zeros((b.shape[0], basis.shape[1]))
        kern(b, d, ys, xs, basis, tmp)
        out[i * npulse : i * npulse + b.shape[0]] = tmp
    return out.reshape(nt, npulse, basis.shape[1])


# -- polynomial expansion of 1/z around z0 -----------------------------------
def monomials(order=3):
    """The terms of the expansion ``sum_n (-dz)^n / z0^(n+1)``.

    Parameters
    ----------
    order : int
        Highest power n.

    Returns
    -------
    list of tuple
        ``(n, i, j)`` with ``i + j <= n <= order`` (powers of x and y in ``dz^n``).
    """
    return [(n, i, j) for n in range(order + 1) for i in range(n + 1) for j in range(n + 1 - i)]


def moment_basis(x, y, z0, order=3):
    """The moment basis of the plane expansion.

    Parameters
    ----------
    x, y : numpy.ndarray
        Pixel positions (mm).
    z0 : numpy.ndarray
        The flat-field plane at the pixels (centre of the expansion).
    order : int
        Order of the expansion.

    Returns
    -------
    numpy.ndarray
        ``basis[p, t] = x^i y^j / z0^(n+1)`` for the monomials ``(n, i, j)``.
    """
    return np.stack([x**i * y**j / z0 ** (n + 1) for n, i, j in monomials(order)], axis=1)


def moment_coefficients(dalpha, dbeta, dgamma, order=3):
    """Coefficients of the moments for a change of the plane.

    ``sum_t c[t] * M[t] = sum_p d / (z0 + dz)`` with ``dz = da + db x + dg y`` (truncated
    at the order): ``c = (-1)^n n!/(k! i! j!) da^k db^i dg^j``, ``k = n - i - j``.

    Parameters
    ----------
    dalpha, dbeta, dgamma : float
        Change of the plane ``z = alpha + beta x + gamma y`` (x, y in mm).
    order : int
        Order of the expansion.

    Returns
    -------
    numpy.ndarray
        One coefficient per monomial.
    """
    c = []
    for n, i, j in monomials(order):
        k = n - i - j
        c.append(
            (-1) ** n
            * factorial(n)
            / (factorial(k) * factorial(i) * factorial(j))
            * dalpha**k
            * dbeta**i
            * dgamma**j
        )
    return np.array(c)


# -- the weighted transmission variance and its gradient ----------------------
def weighted_var(a, b):
    """The variance of the 'weighted' snr method.

    Parameters
    ----------
    a, b : numpy.ndarray
        Signal and reference per frame.

    Returns
    -------
    float
        ``sum b (a/b - mu)^2 / sum b`` with ``mu = sum a / sum b``.
    """
    w = b.sum()
    mu = a.sum() / w
    r = a / b
    return float(np.sum(b * (r - mu) ** 2) / w)


def weighted_var_grad(a, b):
    """`weighted_var` and its gradient.

    Parameters
    ----------
    a, b : numpy.ndarray
        Signal and reference per frame.

    Returns
    -------
    s2 : float
        The weighted variance.
    da, db : numpy.ndarray
        Its derivatives with respect to each frame's ``a`` and ``b``.
    """
    w = b.sum()
    mu = a.sum() / w
    r = a / b
    s2 = np.sum(b * (r - mu) ** 2) / w
    da = 2 * (r - mu) / w
    db = ((r - mu) ** 2 - 2 * r * (r - mu) - s2) / w
    return float(s2), da, db
