"""Photon hits of one hRIXS image: the numba hit finder and its pre-filter.

A hit is a 2x2 block whose (bias-subtracted) sum is at least the threshold and
is the largest of its 8 neighbouring 2x2 blocks; its position is the centre of
mass of the 4x4 block around it, its charge the 4x4 sum. Images have dims
``(x, y)``, pixel ``k`` centred on coordinate ``k``.
"""

from __future__ import annotations

import threading

import numpy as np

from ...errors import ToolBoxValueError

__all__ = ["find_photons"]

_KERNEL = None


def _kernel():
    """The numba hit finder, compiled on first use (cached on disk)."""
    global _KERNEL
    if _KERNEL is None:
        import numba  # heavy (LLVM): loaded on the first centroiding only

        @numba.njit(nogil=True, cache=True)
        def hits(img, tmap, pre, dark, base, thr, out):
            # pre-filter: img >= tmap + pre holds for every pixel with
            # img - bias >= thr / 4 (a block sum >= thr has such a pixel);
            # tmap: the bias rounded down, shape (nx, ny) or (1, ny)
            nx, ny = img.shape
            use_dark = dark.shape[0] == nx and dark.shape[1] == ny
            one_row = tmap.shape[0] == 1
            maxh = out.shape[0]
            nh = 0
            win = np.empty((4, 4))
            nseg = (ny + 63) // 64
            for i in range(1, nx - 1):
                ti = 0 if one_row else i
                for sg in range(nseg):
                    c = 0
                    if sg * 64 + 64 <= ny:
                        # vectorised pre-filter (indices provably >= 0)
                        for k in range(64):
                            c += img[i, sg * 64 + k] >= tmap[ti, sg * 64 + k] + pre
                    else:
                        c = 1
                    if c == 0:
                        continue
                    for k in range(64):
                        j = sg * 64 + k
                        if j < 1 or j > ny - 2:
                            continue
                        if img[i, j] < tmap[ti, j] + pre:
                            continue
                        # the 2x2 blocks (top-left corner bi, bj) holding pixel (i, j)
                        for bi in range(i - 1, i + 1):
                            if bi < 1 or bi > nx - 3:
                                continue
                            for bj in range(j - 1, j + 1):
                                if bj < 1 or bj > ny - 3:
                                    continue
                                # visit each block once: from its first pixel above tmap
                                seen = False
                                for pi in range(bi, bi + 2):
                                    for pj in range(bj, bj + 2):
                                        if (
                                            pi * ny + pj < i * ny + j
                                            and img[pi, pj] >= tmap[0 if one_row else pi, pj] + pre
                                        ):
                                            seen = True
                                if seen:
                                    continue
                                for a in range(4):
                                    for b in range(4):
                                        if use_dark:
                                            win[a, b] = (
                                                img[bi - 1 + a, bj - 1 + b]
                                                - dark[bi - 1 + a, bj - 1 + b]
                                            )
                                        else:
                                            win[a, b] = img[bi - 1 + a, bj - 1 + b] - base
                                s = win[1, 1] + win[1, 2] + win[2, 1] + win[2, 2]
                                if s < thr:
                                    continue
                                # the largest 2x2 sum among its 8 neighbours (ties:
                                # the first in raster order wins)
                                is_max = True
                                for ai in range(3):
                                    for aj in range(3):
                                        if ai == 1 and aj == 1:
                                            continue
                                        sn = (
                                            win[ai, aj]
                                            + win[ai + 1, aj]
                                            + win[ai, aj + 1]
                                            + win[ai + 1, aj + 1]
                                        )
                                        if ai < 1 or (ai == 1 and aj < 1):
                                            if sn >= s:
                                                is_max = False
                                        elif sn > s:
                                            is_max = False
                                if not is_max:
                                    continue
                                tot = 0.0
                                sx = 0.0
                                sy = 0.0
                                for a in range(4):
                                    for b in range(4):
                                        w = win[a, b]
                                        tot += w
                                        sx += w * (bi - 1 + a)
                                        sy += w * (bj - 1 + b)
                                if nh < maxh:
                                    out[nh, 0] = sx / tot
                                    out[nh, 1] = sy / tot
                                    out[nh, 2] = s
                                    out[nh, 3] = tot
                                nh += 1
            return nh

        _KERNEL = hits
    return _KERNEL


_NO_DARK = np.zeros((1, 1), np.float32)
_TMAPS: dict = {}
_TMAPS_LOCK = threading.Lock()


def _tmap(img, dark, base, thr):
    """The pre-filter of the kernel: (tmap, pre) with ``img >= tmap + pre``
    for every pixel at least ``thr / 4`` above the bias. For integer images
    tmap is the bias rounded down (cached per dark array) and pre an integer
    rounded down: a conservative, exact-integer test."""
    pre = 0.25 * thr
    integer = img.dtype.kind in "ui"
    if integer:
        pre = int(np.floor(pre))
    if dark is None:
        t = np.full((1, img.shape[1]), np.floor(base) if integer else base)
        return (
            t.clip(0, np.iinfo(img.dtype).max).astype(img.dtype)
            if integer
            else t.astype(img.dtype)
        ), pre
    key = (id(dark), img.dtype.str)
    with _TMAPS_LOCK:  # MaranaX.centroid calls this from several threads
        hit = _TMAPS.get(key)
        if hit is not None and hit[0] is dark:
            return hit[1], pre
        t = (
            np.floor(dark).clip(0, np.iinfo(img.dtype).max).astype(img.dtype)
            if integer
            else dark.astype(img.dtype)
        )
        if len(_TMAPS) >= 8:
            _TMAPS.pop(next(iter(_TMAPS)))
        _TMAPS[key] = (dark, t)  # keeps dark alive, so its id is not reused
    return t, pre


def find_photons(image, threshold, dark=None, base=None, max_hits=4096):
    """Photon hits of one image.

    A hit is a 2x2 block whose bias-subtracted sum is at least ``threshold``
    and the largest of its 8 neighbouring 2x2 blocks; its position is the
    centre of mass of the 4x4 block around it.

    Parameters
    ----------
    image : array_like
        One 2D image (ADU), dims (x, y).
    threshold : float
        Minimum sum of a 2x2 block (ADU, bias subtracted).
    dark : array_like, optional
        An image of the bias to subtract (ADU, the shape of ``image``); pass
        the same (float32, C-contiguous) array for every image: its threshold
        map is cached.
    base : float, optional
        Without ``dark``: the bias to subtract (ADU); default the image mean.
    max_hits : int
        Size of the first output buffer; more hits cost a second pass, none
        is lost.

    Returns
    -------
    numpy.ndarray
        (N, 4) float64: x, y (centre of mass, pixels of ``image``), the 2x2
        sum and the 4x4 sum (ADU, bias subtracted).

    Raises
    ------
    ToolBoxValueError
        ``image`` is not 2D, or ``dark`` has another shape.

    Examples
    --------
    >>> hits = find_photons(img, threshold=100.0, base=100.0)   # doctest: +SKIP
    """
    img = np.asarray(image)
    if img.ndim != 2:
        raise ToolBoxValueError(f"find_photons needs one 2D image, got shape {img.shape}")
    if img.dtype not in (np.uint16, np.float32, np.float64):
        img = img.astype(np.float32)
    img = np.ascontiguousarray(img)
    if dark is None:
        d = _NO_DARK
        b = float(img.mean()) if base is None else float(base)
    else:
        d = dark
        if not (isinstance(d, np.ndarray) and d.dtype == np.float32 and d.flags.c_contiguous):
            d = np.ascontiguousarray(dark, dtype=np.float32)
        if d.shape != img.shape:
            raise ToolBoxValueError(
                f"dark of shape {d.shape} does not match the image "
                f"{img.shape}; load a dark of the same region"
            )
        b = 0.0
    t, pre = _tmap(img, None if dark is None else d, b, float(threshold))
    kernel = _kernel()
    out = np.empty((max_hits, 4), np.float64)
    n = kernel(img, t, pre, d, b, float(threshold), out)
    if n > max_hits:
        out = np.empty((n, 4), np.float64)
        n = kernel(img, t, pre, d, b, float(threshold), out)
    return out[:n].copy()


def _noise_sigma(image, dark=None):
    """Robust rms (MAD) of the pixels of an image, on a subsample."""
    sub = np.asarray(image)[::16, ::16].astype(np.float32)
    if dark is not None:
        sub = sub - np.asarray(dark)[::16, ::16]
    med = np.median(sub)
    return 1.4826 * float(np.median(np.abs(sub - med)))
