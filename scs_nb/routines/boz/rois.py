"""BOZ regions of interest: finding the three beams, pixel positions, cropping.

Conventions (as the ToolBox): a module image is (128, 512) = (y, x); an ROI is
a dict ``{'xl', 'xh', 'yl', 'yh'}`` sliced ``img[yl:yh, xl:xh]``; the beams are
``'n'`` (-1st order), ``'0'`` and ``'p'`` (+1st order), ``'sat'`` spans all
three.
"""

from __future__ import annotations

import numpy as np

from ...errors import ToolBoxValueError
from ...facility import DSSC_PIXEL_SIZE_M

#: DSSC pixel pitch (x, y) in mm
PIX_MM = (DSSC_PIXEL_SIZE_M[0] * 1e3, DSSC_PIXEL_SIZE_M[1] * 1e3)
#: the three beams: -1st order, 0th order, +1st order
BEAMS = ("n", "0", "p")


def _segments(profile, threshold):
    above = np.concatenate([[False], profile > threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(int)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _crossing(profile, i, j, threshold):
    """Sub-pixel position between pixels i and j where profile crosses threshold."""
    n = profile.size
    if i < 0 or j >= n:
        return float(np.clip(i, 0, n - 1) if i < 0 else j)
    a, b = profile[i], profile[j]
    return float(i + (threshold - a) / (b - a)) if b != a else float(i)


def find_rois(data_mean, threshold, extended=False):
    """Find rois from 3 beams configuration.

    Parameters
    ----------
    data_mean : array_like
        Dark corrected average image (128, 512), or (pulseId, 128, 512) averaged over
        pulses.
    threshold : float
        Level of the column/row mean (ADU) that bounds the beams.
    extended : bool
        Also define one ROI per ASIC (64 x 64 pixels, ``'A<row><col>'``).

    Returns
    -------
    dict
        ROIs ``'n'``, ``'0'``, ``'p'`` (same size, centred on each beam's centroid) and
        ``'sat'`` (spanning the three).

    Examples
    --------
    >>> rois = find_rois(mean.mean(axis=0), threshold=1.0)   # doctest: +SKIP
    """
    img = np.asarray(data_mean, float)
    if img.ndim == 3:
        img = img.mean(axis=0)
    px = img.mean(axis=0)
    py = img.mean(axis=1)
    segs = sorted(_segments(px, threshold), key=lambda s: -px[s[0] : s[1]].sum())[:3]
    if len(segs) < 3:
        raise ToolBoxValueError(
            f"find_rois: found {len(segs)} beam(s) above threshold {threshold} (column means "
            f"range {px.min():.3g}..{px.max():.3g} ADU); pass a lower threshold (rois_th)"
        )
    segs = sorted(segs)
    ysegs = _segments(py, threshold)
    if not ysegs:
        raise ToolBoxValueError(f"find_rois: no rows above threshold {threshold}")
    yl, yh = max(ysegs, key=lambda s: py[s[0] : s[1]].sum())
    w = max(b - a for a, b in segs)
    rois = {}
    for name, (a, b) in zip(BEAMS, segs):
        c = 0.5 * (_crossing(px, a - 1, a, threshold) + _crossing(px, b - 1, b, threshold))
        xl = int(np.clip(int(np.floor(c - (w - 1) / 2 + 0.5)), 0, img.shape[1] - w))
        rois[name] = {"xl": xl, "xh": xl + w, "yl": int(yl), "yh": int(yh)}
    rois["sat"] = {"xl": rois["n"]["xl"], "xh": rois["p"]["xh"], "yl": int(yl), "yh": int(yh)}
    if extended:
        for r in range(2):
            for c in range(8):
                rois[f"A{r}{c}"] = {
                    "xl": 64 * c,
                    "xh": 64 * (c + 1),
                    "yl": 64 * r,
                    "yh": 64 * (r + 1),
                }
    return rois


def get_roi_pixel_pos(roi, params):
    """Compute fake or real pixel position of an roi from roi center.

    Parameters
    ----------
    roi : dict
        ``{'xl', 'xh', 'yl', 'yh'}``.
    params : parameters
        Only ``params.use_hex`` is read: odd rows shifted by half a pixel, as the
        hexagonal DSSC pixels are.

    Returns
    -------
    X, Y : numpy.ndarray
        1-d arrays (row-major over the ROI) of pixel positions in mm (0.236 mm x
        0.204 mm pitch) from the ROI centre.
    """
    yy, xx = np.mgrid[roi["yl"] : roi["yh"], roi["xl"] : roi["xh"]].astype(float)
    cy = 0.5 * (roi["yl"] + roi["yh"] - 1)
    cx = 0.5 * (roi["xl"] + roi["xh"] - 1)
    X = (xx - cx) * PIX_MM[0]
    if getattr(params, "use_hex", False):
        X = X + 0.5 * PIX_MM[0] * (yy.astype(int) % 2)
    Y = (yy - cy) * PIX_MM[1]
    return X.ravel(), Y.ravel()


def crop(img, roi):
    """The ROI of a module image.

    Parameters
    ----------
    img : array_like
        (128, 512) image.
    roi : dict
        ``{'xl', 'xh', 'yl', 'yh'}``.

    Returns
    -------
    numpy.ndarray
        ``img[yl:yh, xl:xh]``.
    """
    return np.asarray(img)[roi["yl"] : roi["yh"], roi["xl"] : roi["xh"]]


def crop_stack(imgs, roi):
    """The ROI of a stack of module images.

    Parameters
    ----------
    imgs : numpy.ndarray
        (n, 128, 512) images.
    roi : dict
        ``{'xl', 'xh', 'yl', 'yh'}``.

    Returns
    -------
    numpy.ndarray
        ``imgs[:, yl:yh, xl:xh]``.
    """
    return imgs[:, roi["yl"] : roi["yh"], roi["xl"] : roi["xh"]]


def roi_key(rois):
    """A hashable value of the beam and saturation ROIs (a cache key).

    Parameters
    ----------
    rois : dict
        ROI dicts by name (other names than the beams and ``'sat'`` are ignored).

    Returns
    -------
    tuple
    """
    return tuple(
        sorted((k, tuple(sorted(v.items()))) for k, v in rois.items() if k in BEAMS + ("sat",))
    )
