"""Ring positions in an azimuthal profile I(q).

``ring_centroids`` measures where scattering rings are: the intensity-weighted
centroid of I(q) minus a flat background (the mean of I over a q range between
the rings), in each given q range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ....errors import ToolBoxValueError
from .delay import _radial_name

__all__ = ["ring_centroids"]


def _pair(value, what):
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ToolBoxValueError(
            f"{what} must be a pair [low, high] of radial values, got {value!r}"
        ) from exc
    if not lo < hi:
        raise ToolBoxValueError(f"{what} must have low < high, got {value!r}")
    return lo, hi


def ring_centroids(profile, ring_ranges, background_range):
    """Centroids of the rings of an azimuthal profile, background subtracted.

    In each range ``[low, high]`` of ``ring_ranges`` the centroid is
    ``sum(q * (I - bg)) / sum(I - bg)``, with ``bg`` the mean of ``I`` over
    ``background_range`` (a q range without rings).

    Parameters
    ----------
    profile : xarray.DataArray
        I(q): one dimension, a radial coordinate (``q``, ``2th``, ``r``, as given
        by :func:`integrate_azimuthal`), NaN where no pixel contributed; e.g.
        ``integrate_azimuthal(...).isel(frame=0).I``.
    ring_ranges : list of [float, float]
        The radial ranges (in the profile's radial unit, e.g. nm⁻¹) of the rings.
    background_range : [float, float]
        Radial range of the flat background between the rings.

    Returns
    -------
    pandas.DataFrame
        One row per ring, indexed by ``'low-high'``, columns ``low``, ``high``,
        ``centroid`` (radial unit) and ``error``: the radial bin width, the
        resolution of the centroid of a sampled profile (its statistical error
        is smaller for bright rings).

    Raises
    ------
    ToolBoxValueError
        A range is not a pair low < high, holds no finite bin of the profile, or
        has no intensity above the background.
    """
    rad = _radial_name(profile)
    if profile.ndim != 1:
        raise ToolBoxValueError(
            f"profile must be one I({rad}) curve, got dims {profile.dims}; select a frame "
            "first (e.g. .isel(frame=0))"
        )
    q = profile[rad].values
    span = f"{np.nanmin(q):.4g}..{np.nanmax(q):.4g}"
    blo, bhi = _pair(background_range, "background_range")
    bsel = profile.sel({rad: slice(blo, bhi)})
    if not np.isfinite(bsel.values).any():
        raise ToolBoxValueError(
            f"background_range {blo:g}-{bhi:g} holds no finite bin of the profile "
            f"({rad} {span}); pass a range between the rings"
        )
    bg = float(bsel.mean())
    step = float(np.median(np.diff(q))) if len(q) > 1 else np.nan
    rows = []
    for rng in ring_ranges:
        lo, hi = _pair(rng, "each of ring_ranges")
        sel = (profile - bg).sel({rad: slice(lo, hi)})
        ok = np.isfinite(sel.values)
        w = sel.values[ok]
        if not ok.any() or w.sum() <= 0:
            raise ToolBoxValueError(
                f"ring range {lo:g}-{hi:g} has no intensity above the background {bg:.4g} "
                f"(profile {rad} {span}); pass the range of a ring"
            )
        centroid = float((sel[rad].values[ok] * w).sum() / w.sum())
        rows.append((f"{lo:g}-{hi:g}", lo, hi, centroid, step))
    return pd.DataFrame(rows, columns=["range", "low", "high", "centroid", "error"]).set_index(
        "range"
    )
