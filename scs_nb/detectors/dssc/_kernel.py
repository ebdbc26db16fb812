"""The numba kernel of the DSSC binning engine (imported on first use)."""
from numba import njit


@njit(cache=True, nogil=True, fastmath=True)
def accumulate(frames, bins, weights, acc32, touched, total):
    """total[b] += sum_k weights[k] * frames[k] over frames with bins[k] == b.

    frames: (n, npix) uint16; bins: (n,) int64 (-1 = skip); weights (n,) f4;
    acc32: (nbins, npix) float32 scratch; touched: (nbins,) bool scratch;
    total: (nbins, npix) float64.
    """
    n, npix = frames.shape
    nb = total.shape[0]
    for b in range(nb):
        touched[b] = False
    for k in range(n):
        b = bins[k]
        if b < 0:
            continue
        w = weights[k]
        row = acc32[b]
        fr = frames[k]
        if touched[b]:
            for p in range(npix):
                row[p] += fr[p] * w
        else:
            touched[b] = True
            for p in range(npix):
                row[p] = fr[p] * w
    for b in range(nb):
        if touched[b]:
            t = total[b]
            a = acc32[b]
            for p in range(npix):
                t[p] += a[p]
