"""The numba kernel of the DSSC binning engine (imported on first use)."""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=True)
def accumulate(frames, bins, weights, acc32, touched, total):
    """total[b] += sum_k weights[k] * frames[k] over frames with bins[k] == b.

    frames: (n, npix) uint16; bins: (n,) int64 (-1 = skip); weights (n,) f4;
    acc32: (nbins, npix) float32 scratch; touched: (nbins,) bool scratch;
    total: (nbins, npix) float64.

    Frames are taken bin by bin (a counting sort of the chunk) and four at a
    time, so each pass over an accumulator row adds four frames: the row stays
    in cache and memory traffic is about one read of each frame.
    """
    n, npix = frames.shape
    nb = total.shape[0]
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
            f0, f1, f2, f3 = frames[order[j]], frames[order[j + 1]], frames[order[j + 2]], \
                frames[order[j + 3]]
            w0, w1, w2, w3 = weights[order[j]], weights[order[j + 1]], \
                weights[order[j + 2]], weights[order[j + 3]]
            for p in range(npix):
                row[p] += (f0[p] * w0 + f1[p] * w1) + (f2[p] * w2 + f3[p] * w3)
            j += 4
        while j < e:
            f0 = frames[order[j]]
            w0 = weights[order[j]]
            for p in range(npix):
                row[p] += f0[p] * w0
            j += 1
        t = total[b]
        for p in range(npix):
            t[p] += row[p]
