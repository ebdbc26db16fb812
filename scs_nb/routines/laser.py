"""Optical-laser utilities: delay-line conversions, half-wave-plate power,
fluence calibration and OL/FEL pulse-id alignment (seed
``toolbox_scs.misc.laser_utils``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError
from ..facility import C_MM_PER_PS

__all__ = [
    "positionToDelay",
    "delayToPosition",
    "degToRelPower",
    "fluenceCalibration",
    "align_ol_to_fel_pId",
]


def _keep_type(x, values):
    """``values`` as the type of ``x``: a DataArray stays a DataArray (same
    coordinates, dims, name), a scalar a float, anything else an ndarray."""
    if isinstance(x, xr.DataArray):
        return x.copy(data=np.asarray(values))
    if np.ndim(values) == 0:
        return float(values)
    return np.asarray(values)


def positionToDelay(pos, origin=0, invert=True, reflections=1):
    """Converts a motor position in mm into optical delay in picosecond.

    Parameters
    ----------
    pos : array_like
        Delay stage motor position (mm).
    origin : float
        Motor position of time zero (mm).
    invert : bool
        Inverts the sign of delay if True.
    reflections : int
        Number of bounces in the delay stage.

    Returns
    -------
    float, numpy.ndarray or xarray.DataArray
        Delay in picosecond: ``2 * reflections * (pos - origin) / c``, negated when
        invert is True; a DataArray for a DataArray (coordinates kept), a float for a
        scalar, else an ndarray.

    Examples
    --------
    >>> positionToDelay(1.5, origin=0, invert=False)   # doctest: +SKIP
    10.0069...
    """
    sign = -1 if invert else 1
    return _keep_type(
        pos, sign * 2 * reflections * (np.asarray(pos, float) - origin) / C_MM_PER_PS
    )


def delayToPosition(delay, origin=0, invert=True, reflections=1):
    """Converts an optical delay in picosecond into a motor position in mm
    (the inverse of ``positionToDelay``).

    Parameters
    ----------
    delay : array_like
        Delay (ps).
    origin : float
        Motor position of time zero (mm).
    invert : bool
        Inverts the sign of delay if True.
    reflections : int
        Number of bounces in the delay stage.

    Returns
    -------
    float, numpy.ndarray or xarray.DataArray
        Motor position (mm), of the type of ``delay``.
    """
    sign = -1 if invert else 1
    return _keep_type(
        delay, origin + sign * np.asarray(delay, float) * C_MM_PER_PS / (2 * reflections)
    )


def degToRelPower(x, theta0=0):
    """Converts a half-wave plate position in degrees into relative power
    between 0 and 1 (a half-wave plate before a polariser):
    ``sin(2 (x - theta0))**2``.

    Parameters
    ----------
    x : array_like
        Positions of the half-wave plate (degrees).
    theta0 : float
        Position for which the relative power is zero (degrees).

    Returns
    -------
    float, numpy.ndarray or xarray.DataArray
        Relative power (0..1), of the type of ``x``.
    """
    return _keep_type(x, np.sin(2 * np.deg2rad(np.asarray(x, float) - theta0)) ** 2)


def fluenceCalibration(
    hwp,
    power_mW,
    npulses,
    w0x,
    w0y=None,
    train_rep_rate=10,
    fit_order=1,
    plot=True,
    xlabel="HWP [%]",
):
    """Given a measurement of relative powers or half wave plate angles and
    averaged powers in mW, this routine calculates the corresponding fluence
    and fits a polynomial to the data.

    Parameters
    ----------
    hwp: array-like (N)
        angle or relative power from the half wave plate
    power_mW: array-like (N)
        measured power in mW by powermeter
    npulses: int
        number of pulses per train during power measurement
    w0x: float
        radius at 1/e^2 in x-axis in meter
    w0y: float, optional
        radius at 1/e^2 in y-axis in meter. If None, w0y=w0x is assumed.
    train_rep_rate: float
        repetition rate of the FEL, by default equals to 10 Hz.
    fit_order: int
        order of the polynomial fit
    plot: bool
        Plot the results if True
    xlabel: str
        xlabel for the plot

    Returns
    -------
    F: ndarray (N), peak fluence in mJ/cm^2, ``2 E / (pi w0x w0y)``
    fit_F: ndarray, coefficients of the fluence polynomial fit
    E: ndarray (N), pulse energy in microJ, ``P / (train_rep_rate * npulses)``
    fit_E: ndarray, coefficients of the energy polynomial fit
    """
    hwp = np.asarray(hwp, float)
    power = np.asarray(power_mW, float)
    if hwp.shape != power.shape:
        raise ToolBoxValueError(
            f"hwp and power_mW must have the same length, got {hwp.shape} and {power.shape}"
        )
    if npulses <= 0 or train_rep_rate <= 0 or w0x <= 0 or (w0y is not None and w0y <= 0):
        raise ToolBoxValueError("npulses, train_rep_rate, w0x and w0y must be positive")
    w0y = w0x if w0y is None else w0y
    E = power * 1e-3 / (train_rep_rate * npulses) * 1e6  # µJ per pulse
    F = 2 * (E * 1e-6) / (np.pi * w0x * w0y) * 0.1  # J/m^2 -> mJ/cm^2
    fit_F = np.polyfit(hwp, F, fit_order)
    fit_E = np.polyfit(hwp, E, fit_order)
    if plot:
        import matplotlib.pyplot as plt  # heavy: only for plots

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(hwp, F, "o", label="data")
        xs = np.linspace(hwp.min(), hwp.max(), 200)
        ax.plot(xs, np.polyval(fit_F, xs), label=f"fit, order {fit_order}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("peak fluence [mJ/cm$^2$]")
        ax2 = ax.twinx()
        ax2.set_ylim(np.array(ax.get_ylim()) / (F[-1] / E[-1]) if F[-1] else ax.get_ylim())
        ax2.set_ylabel("pulse energy [µJ]")
        ax.legend()
        ax.set_title(f"w0x = {w0x * 1e6:.1f} µm, w0y = {w0y * 1e6:.1f} µm, {npulses} pulses")
    return F, fit_F, E, fit_E


def align_ol_to_fel_pId(ds, ol_dim="ol_pId", fel_dim="sa3_pId", offset=0, fill_value=np.nan):
    """Aligns the optical laser (OL) pulse Ids to the FEL pulse Ids.

    The first OL pulse is placed on the first FEL pulse, shifted by
    ``offset`` slots: the new OL coordinates are
    ``ds[ol_dim] - ds[ol_dim][0] + ds[fel_dim][0] + offset`` (the seed's
    ``ds[ol_dim] + ds[fel_dim][0] + offset`` for OL ids counted from 0). The
    ol_dim is then removed, and where the OL and FEL pulses differ the
    missing values are filled with fill_value (NaN by default).

    Parameters
    ----------
    ds: xarray.Dataset
        Dataset containing both OL and FEL dimensions
    ol_dim: str
        name of the OL dimension
    fel_dim: str
        name of the FEL dimension
    offset: int
        offset added to the OL pulse Ids.
    fill_value: scalar or dict-like, optional
        Value to use for newly missing values.

    Returns
    -------
    ds: the newly aligned dataset
    """
    for d in (ol_dim, fel_dim):
        if d not in ds.dims:
            raise ToolBoxValueError(
                f"dimension {d!r} not in the dataset (dims: "
                f"{list(ds.dims)}); pass ol_dim= / fel_dim="
            )
    ol = ds[ol_dim].values
    fel = ds[fel_dim].values
    ol_vars = [v for v in ds.data_vars if ol_dim in ds[v].dims]
    ds_ol = ds[ol_vars]
    ds_fel = ds.drop_vars(ol_vars).drop_dims(ol_dim, errors="ignore")
    new = ol - ol[0] + fel[0] + offset
    ds_ol = ds_ol.assign_coords({ol_dim: new}).rename({ol_dim: fel_dim})
    return xr.merge([ds_fel, ds_ol], join="outer", fill_value=fill_value)
