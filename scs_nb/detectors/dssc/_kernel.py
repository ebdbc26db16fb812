"""The numba kernel of the DSSC binning engine (imported on first use)."""
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
def accumulate(frames, bins, weights, acc32, touched, total, bad, limit):
    """total[b] += sum_k weights[k] * frames[k] over frames with bins[k] == b,
    leaving out frames with a value above ``limit`` (the ADC range).

    frames: (n, npix) uint16; bins: (n,) int64 (-1 = skip); weights (n,) f4;
    acc32: (nbins, npix) float32 scratch; touched: (nbins,) bool scratch;
    total: (nbins, npix) float64; bad: (n,) int64 out: the number of values
    above ``limit`` of each frame (0 for frames taken); limit: e.g. 511 (9 bits).

    Frames are taken bin by bin (a counting sort of the chunk) and four at a
    time, so each pass over an accumulator row adds four frames: the row stays
    in cache and memory traffic is about one read of each frame. Before the
    four are added, the OR of their values (one pass that brings them into
    cache) says whether any value exceeds the range: ``limit`` is 2**k - 1, so
    a value above it has a bit above ``limit`` set. Only then are the four
    checked one by one and the damaged ones left out.
    """
    n, npix = frames.shape
    nb = total.shape[0]
    high = 0xFFFF ^ limit
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
            orv = 0
            for p in range(npix):
                orv |= (f0[p] | f1[p]) | (f2[p] | f3[p])
            if orv & high:
                for kk in (k0, k1, k2, k3):
                    c = _over(frames[kk], npix, limit)
                    if c:
                        bad[kk] = c
                    else:
                        fk = frames[kk]
                        wk = weights[kk]
                        for p in range(npix):
                            row[p] += fk[p] * wk
            else:
                w0, w1, w2, w3 = weights[k0], weights[k1], weights[k2], weights[k3]
                for p in range(npix):
                    row[p] += (f0[p] * w0 + f1[p] * w1) + (f2[p] * w2 + f3[p] * w3)
            j += 4
        while j < e:
            k0 = order[j]
            f0 = frames[k0]
            c = _over(f0, npix, limit)
            if c:
                bad[k0] = c
            else:
                w0 = weights[k0]
                for p in range(npix):
                    row[p] += f0[p] * w0
            j += 1
        t = total[b]
        for p in range(npix):
            t[p] += row[p]
