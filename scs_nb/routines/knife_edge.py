"""Knife-edge scan on a loaded run (``toolbox_scs.routines.knife_edge``).

The dataset form of ``scs_nb.base.knife_edge``: the motor position and the
detector signal are taken from an xarray Dataset (as ``load`` returns it), the
signal may be pulse-resolved (trains x pulses), and the fit can be plotted.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..base.knife_edge import erfc_model, knife_edge_base
from ..errors import ToolBoxValueError

__all__ = ["knife_edge"]


def _arrays(ds, axisKey, signalKey):
    for key in (axisKey, signalKey):
        if key not in ds:
            raise ToolBoxValueError(
                f"{key!r} is not in the dataset (variables: {', '.join(map(str, ds.data_vars))}); "
                "load it, e.g. tb.load(proposal, run, ['scannerX', 'FastADC4peaks']), or pass "
                "axisKey= / signalKey="
            )
    pos, sig = xr.broadcast(ds[axisKey], ds[signalKey])
    first = [d for d in ("trainId",) if d in sig.dims]
    sig = sig.transpose(*first, ...)
    pos = pos.transpose(*sig.dims)
    return pos.values.ravel(), sig.values.ravel()


def knife_edge(
    ds,
    axisKey="scannerX",
    signalKey="FastADC4peaks",
    axisRange=None,
    p0=None,
    full=False,
    plot=False,
    display=False,
    signal_unit=None,
):
    """Calculates the beam radius at 1/e² from a knife-edge scan by fitting
    with the erfc function ``f(x, x0, w0, a, b) = a * erfc(sqrt(2) * (x - x0) / w0) + b``
    with w0 the beam radius at 1/e² and x0 the beam centre.

    Parameters
    ----------
    ds: xarray Dataset
        dataset containing the detector signal and the motor position.
    axisKey: str
        key of the axis against which the knife-edge is performed.
    signalKey: str
        key of the detector signal.
    axisRange: list of floats
        edges of the scanning axis between which to apply the fit.
    p0: list of floats, numpy 1D array
        initial parameters used for the fit: x0, w0, a, b. If None, a beam
        radius of 100 micrometers is assumed.
    full: bool
        If False, returns the beam radius and standard error. If True,
        returns the popt, pcov list of parameters and covariance matrix from
        scipy.optimize.curve_fit.
    plot: bool
        If True, plots the data and the result of the fit.
    display: bool
        If True, displays info on the fit. True when plot is True.
    signal_unit: str or None
        unit of the signal for the y label of the plot, e.g.
        ``"ADC counts x samples / µJ"`` for a digitizer peak integral divided
        by the XGM pulse energy. None: the label is the signal key alone.

    Returns
    -------
    If full is False, tuple with beam radius at 1/e² in mm and standard error
    from the fit in mm. If full is True, returns parameters and covariance
    matrix from the scipy.optimize.curve_fit function.
    """
    x, y = _arrays(ds, axisKey, signalKey)
    popt, pcov = knife_edge_base(x, y, axisRange=axisRange, p0=p0)
    if popt is None:
        if display or plot:
            print("knife-edge fit did not converge; pass p0=[x0, w0, a, b] or axisRange=")
        return (None, pcov) if full else (np.nan, np.nan)
    w0, err = abs(float(popt[1])), float(np.sqrt(pcov[1, 1]))
    if plot or display:
        print(
            f"knife-edge {signalKey} vs {axisKey}: x0 = {popt[0]:.5f} mm, "
            f"w0 = {w0 * 1e3:.3f} ± {err * 1e3:.3f} µm (1/e² radius), "
            f"FWHM = {w0 * 1e3 * np.sqrt(2 * np.log(2)):.3f} µm, a = {popt[2]:.4g}, "
            f"b = {popt[3]:.4g}"
        )
    if plot:
        import matplotlib.pyplot as plt  # heavy: only for plots

        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(x, y, ".", ms=2, alpha=0.4, label="data")
        finite = np.isfinite(x)
        xs = np.linspace(np.nanmin(x[finite]), np.nanmax(x[finite]), 400)
        ax.plot(xs, erfc_model(xs, *popt), "r", label=f"fit, w0 = {w0 * 1e3:.2f} µm")
        if axisRange is not None:
            for v in axisRange:
                ax.axvline(v, color="grey", ls=":")
        ax.set_xlabel(f"{axisKey} [mm]")
        # two lines: a ratio key with its unit is longer than the axis is high
        ax.set_ylabel(f"{signalKey}\n[{signal_unit}]" if signal_unit else signalKey)
        ax.set_title(
            f"knife-edge scan: x0 = {popt[0]:.4f} mm, w0 = {w0 * 1e3:.2f} ± {err * 1e3:.2f} µm"
        )
        ax.legend()
    if full:
        return popt, pcov
    return w0, err
