"""Knife-edge scan analysis on numpy arrays (``toolbox_scs.base.knife_edge``).

A knife edge moved across a Gaussian beam of radius ``w0`` (at 1/e² of the
intensity) transmits ``0.5 * erfc(sqrt(2) * (x - x0) / w0)`` of the beam; the
signal behind it is fitted with ``a * erfc(u) + b``, ``u = sqrt(2) (x - x0) / w0``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit
from scipy.special import erfc

from ..errors import ToolBoxValueError

__all__ = ["knife_edge", "knife_edge_base", "prepare_arrays", "range_mask", "erfc_model"]


def erfc_model(x, x0, w0, a, b):
    """The knife-edge model ``a * erfc(sqrt(2) * (x - x0) / w0) + b``.

    Parameters
    ----------
    x : array_like
        Knife position (mm).
    x0 : float
        Beam centre (mm).
    w0 : float
        Beam radius at 1/e^2 (mm).
    a, b : float
        Amplitude and offset (signal units).

    Returns
    -------
    numpy.ndarray
    """
    return a * erfc(np.sqrt(2) * (x - x0) / w0) + b


def range_mask(array, minimum=None, maximum=None):
    """Boolean mask of the values of ``array`` within ``[minimum, maximum]``.

    Parameters
    ----------
    array : array_like
    minimum, maximum : float, optional
        Bounds (included); a bound that is None is not applied.

    Returns
    -------
    numpy.ndarray
        bool, of the shape of ``array``.
    """
    array = np.asarray(array)
    mask = np.ones(array.shape, dtype=bool)
    if minimum is not None:
        mask &= array >= minimum
    if maximum is not None:
        mask &= array <= maximum
    return mask


def prepare_arrays(arrX, arrY, xRange=None, yRange=None):
    """Flattened, NaN-free (x, y) pairs for a fit.

    ``arrY`` is 1D (one value per position) or 2D with one row per position
    (e.g. trains x pulses); ``arrX`` is then repeated along the rows. Pairs
    where either value is NaN, or x outside ``xRange`` or y outside
    ``yRange`` (sequences of two bounds, None for open), are dropped.

    Returns
    -------
    (x, y): two 1D float arrays of equal length.
    """
    x = np.asarray(arrX, dtype=float)
    y = np.asarray(arrY, dtype=float)
    if x.ndim != 1:
        x = x.ravel()
    if y.ndim > 2:
        raise ToolBoxValueError(
            f"intensities must be 1D or 2D (positions x pulses), got shape {y.shape}"
        )
    if y.shape[0] != x.shape[0]:
        raise ToolBoxValueError(
            f"positions ({x.shape[0]} values) and intensities (shape {y.shape}) do not match: "
            "intensities need one row per position"
        )
    if y.ndim == 2:
        x = np.repeat(x, y.shape[1])
        y = y.ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    if xRange is not None:
        keep &= range_mask(x, *_bounds(xRange, "axisRange"))
    if yRange is not None:
        keep &= range_mask(y, *_bounds(yRange, "yRange"))
    return x[keep], y[keep]


def _bounds(rng, what):
    try:
        lo, hi = rng
    except (TypeError, ValueError):
        raise ToolBoxValueError(f"{what} must be two bounds [min, max], got {rng!r}") from None
    return lo, hi


def _initial_guess(x, y):
    """x0 at the half crossing, w0 = 0.1 mm (100 µm), a and b from the levels
    on both sides of the edge (a < 0 where the signal grows with x)."""
    order = np.argsort(x)
    xs, ys = x[order], y[order]
    n = max(len(xs) // 10, 1)
    left, right = float(np.mean(ys[:n])), float(np.mean(ys[-n:]))
    half = 0.5 * (left + right)
    # the first position (in x order) where the smoothed signal crosses half
    k = max(len(ys) // 50, 1)
    smooth = np.convolve(ys, np.ones(k) / k, mode="same")
    cross = np.flatnonzero(np.diff(np.sign(smooth - half)))
    x0 = float(xs[cross[len(cross) // 2]]) if len(cross) else float(np.mean(xs))
    a = 0.5 * (left - right)
    return [x0, 0.1, a, right]


def knife_edge_base(positions, intensities, axisRange=None, p0=None):
    """The base implementation of the knife-edge scan analysis: fits
    ``a * erfc(sqrt(2) * (x - x0) / w0) + b`` (w0: beam radius at 1/e²,
    x0: beam centre).

    Parameters
    ----------
    positions: np.ndarray
        motor positions, typically 1D
    intensities: np.ndarray
        intensities, 1D or 2D with one row per position
    axisRange: sequence of two floats or None
        edges of the scanning axis between which to apply the fit
    p0: list of floats, numpy 1D array
        initial parameters x0, w0, a, b. If None, a beam radius of 100 µm
        (0.1 in mm units) is assumed and the rest is estimated from the data.

    Returns
    -------
    popt: the fitted (x0, w0, a, b), or None when the fit did not converge
    pcov: their covariance matrix (NaN when the fit did not converge)
    """
    x, y = prepare_arrays(positions, intensities, xRange=axisRange)
    if len(x) < 5:
        raise ToolBoxValueError(
            f"knife-edge fit needs at least 5 finite points, got {len(x)}"
            + (f" within axisRange={list(axisRange)}" if axisRange is not None else "")
            + "; widen axisRange or check the signal for NaNs"
        )
    if p0 is None:
        p0 = _initial_guess(x, y)
    p0 = np.asarray(p0, dtype=float)
    if p0.shape != (4,):
        raise ToolBoxValueError(f"p0 must be 4 values [x0, w0, a, b], got {p0!r}")
    try:
        popt, pcov = curve_fit(erfc_model, x, y, p0=p0, maxfev=10000)
    except RuntimeError:
        return None, np.full((4, 4), np.nan)
    return popt, pcov


def knife_edge(positions, intensities, axisRange=None, p0=None):
    """Calculates the beam radius at 1/e² from a knife-edge scan by fitting
    with the erfc function ``f(a, b, u) = a * erfc(u) + b`` where
    ``u = sqrt(2) * (x - x0) / w0``, w0 the beam radius at 1/e² and x0 the
    beam centre.

    Parameters
    ----------
    positions: np.ndarray
        motor positions, typically 1D
    intensities: np.ndarray
        intensities, 1D or 2D with one row per position
    axisRange: sequence of two floats or None
        edges of the scanning axis between which to apply the fit
    p0: list of floats, numpy 1D array
        initial parameters x0, w0, a, b. If None, a beam radius of 100 µm
        is assumed.

    Returns
    -------
    width: float, the beam radius at 1/e² (NaN if the fit failed)
    std: float, the standard deviation of the width
    """
    popt, pcov = knife_edge_base(positions, intensities, axisRange=axisRange, p0=p0)
    if popt is None:
        return np.nan, np.nan
    return float(abs(popt[1])), float(np.sqrt(pcov[1, 1]))
