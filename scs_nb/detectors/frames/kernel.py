"""The numba kernel of the frame binning (``accumulate.bin_frames``)."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=True)
def _over(f, npix, limit):
    """Number of pixels of frame ``f`` above ``limit``."""
    c = 0
    for p in range(npix):
        if f[p] > limit:
            c += 1
    return c


@njit(cache=True, nogil=True, fastmath=True)
def _rebuild(row, frames, weights, order, s, e, bad):
    """row = sum of the frames order[s:e] that are not bad (after a damaged one was
    found: the row is recomputed without it, exactly, rather than subtracted)."""
    npix = row.shape[0]
    for p in range(npix):
        row[p] = 0.0
    for j in range(s, e):
        k = order[j]
        if bad[k] == 0:
            f = frames[k]
            w = weights[k]
            for p in range(npix):
                row[p] += f[p] * w


@njit(cache=True, nogil=True, fastmath=True)
def accumulate(frames, bins, weights, acc32, touched, total, bad, limit):
    """total[b] += sum_k weights[k] * frames[k] over frames with bins[k] == b,
    leaving out frames with a value above ``limit`` (the ADC range).

    frames: (n, npix) uint16; bins: (n,) int64 (-1 = skip); weights (n,) f4;
    acc32: (nbins, npix) float32 scratch; touched: (nbins,) bool scratch;
    total: (nbins, npix) float64; bad: (n,) int64 out: the number of values
    above ``limit`` in each frame left out (0 for frames taken); limit: 2**k - 1,
    e.g. 511 (9-bit ADC).

    Frames are taken bin by bin (a counting sort of the chunk) and four at a
    time, so each pass over an accumulator row adds four frames: the row stays
    in cache and memory traffic is about one read of each frame. The same pass
    ORs the values (uint16 lanes, nearly free): a value above ``limit`` sets a
    bit above it. Only then are the four frames checked one by one, and the
    row is recomputed without the damaged ones.
    """
    n, npix = frames.shape
    nb = total.shape[0]
    high = np.uint16(0xFFFF ^ limit)
    for k in range(n):
        bad[k] = 0
    starts = np.zeros(nb + 1, np.int64)
    for k in range(n):
        if bins[k] >= 0:
            starts[bins[k] + 1] += 1
    for b in range(nb):
        starts[b + 1] += starts[b]
    order = np.empty(starts[nb], np.int64)
    fill = starts[:nb].copy()
    for k in range(n):
        b = bins[k]
        if b >= 0:
            order[fill[b]] = k
            fill[b] += 1
    for b in range(nb):
        s, e = starts[b], starts[b + 1]
        touched[b] = e > s
        if e == s:
            continue
        row = acc32[b]
        for p in range(npix):
            row[p] = 0.0
        j = s
        while j + 4 <= e:
            k0, k1, k2, k3 = order[j], order[j + 1], order[j + 2], order[j + 3]
            f0, f1, f2, f3 = frames[k0], frames[k1], frames[k2], frames[k3]
            w0, w1, w2, w3 = weights[k0], weights[k1], weights[k2], weights[k3]
            orv = np.uint16(0)
            for p in range(npix):
                a, c, d, g = f0[p], f1[p], f2[p], f3[p]
                orv = np.uint16(orv | np.uint16(np.uint16(a | c) | np.uint16(d | g)))
                row[p] += (a * w0 + c * w1) + (d * w2 + g * w3)
            if orv & high:
                for kk in (k0, k1, k2, k3):
                    bad[kk] = _over(frames[kk], npix, limit)
                _rebuild(row, frames, weights, order, s, j + 4, bad)
            j += 4
        while j < e:
            k0 = order[j]
            f0 = frames[k0]
            w0 = weights[k0]
            orv = np.uint16(0)
            for p in range(npix):
                a = f0[p]
                orv = np.uint16(orv | a)
                row[p] += a * w0
            if orv & high:
                bad[k0] = _over(f0, npix, limit)
                _rebuild(row, frames, weights, order, s, j + 1, bad)
            j += 1
        t = total[b]
        for p in range(npix):
            t[p] += row[p]
