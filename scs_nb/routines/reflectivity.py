"""Transient reflectivity (``toolbox_scs.routines.Reflectivity``).

The optical laser (probe) is reflected off a sample pumped by the FEL. With
``Io`` the laser intensity before the sample and ``Ir`` after reflection,
``Delta R = 100 * (Ir/Io[pumped] / Ir/Io[unpumped] - 1)`` in percent, binned
against the pump-probe delay (a delay-line position in mm or a delay in ps,
e.g. corrected by the bunch arrival monitor). The binned curve is fitted with a
double exponential convolved with a Gaussian response (``double_exp_step``)
and with a Gaussian-broadened step (``erf_step``): time zero ``t0``, the rise
time ``sigma`` (rms of the response, jitter included) and the decay constants.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.special import erfc, erfcx

from ..errors import ToolBoxValueError
from .laser import positionToDelay as _position_to_delay

__all__ = ["reflectivity", "double_exp_step", "erf_step", "fit_double_exp", "fit_step"]


# -- models ------------------------------------------------------------------
def _exp_gauss(t, tau, sigma):
    """A unit step times exp(-t/tau), convolved with a Gaussian of rms
    sigma (exact; written with erfcx where exp would overflow)."""
    t = np.asarray(t, float)
    tau = np.abs(tau) + 1e-12
    sigma = np.abs(sigma) + 1e-12
    z = (sigma / tau - t / sigma) / np.sqrt(2)
    out = np.empty(np.broadcast(t, z).shape)
    small = z < 5
    zs, ts = z[small], t[small]
    out[small] = 0.5 * np.exp(sigma**2 / (2 * tau**2) - ts / tau) * erfc(zs)
    out[~small] = 0.5 * np.exp(-(t[~small] ** 2) / (2 * sigma**2)) * erfcx(z[~small])
    return out


def double_exp_step(t, t0, sigma, a1, tau1, a2, tau2, c):
    """A double exponential step convolved with a Gaussian.

    ``c + (a1 exp(-(t-t0)/tau1) + a2 exp(-(t-t0)/tau2)) H(t-t0)`` convolved with a
    Gaussian of rms ``sigma``.

    Parameters
    ----------
    t : array_like
        Delay (any unit, the same for t0, sigma, tau1, tau2).
    t0, sigma, a1, tau1, a2, tau2, c : float
        Time zero, rms width, amplitudes and decay times, offset.

    Returns
    -------
    numpy.ndarray
    """
    t = np.asarray(t, float) - t0
    return c + a1 * _exp_gauss(t, tau1, sigma) + a2 * _exp_gauss(t, tau2, sigma)


def erf_step(t, t0, sigma, a, c):
    """A step ``c + a H(t - t0)`` convolved with a Gaussian of rms ``sigma``.

    Parameters
    ----------
    t : array_like
        Delay (any unit, the same for t0 and sigma).
    t0, sigma, a, c : float
        Time zero, rms width, amplitude, offset.

    Returns
    -------
    numpy.ndarray
    """
    return c + a * 0.5 * erfc(-(np.asarray(t, float) - t0) / (np.sqrt(2) * np.abs(sigma)))


DOUBLE_EXP_PARAMS = ("t0", "sigma", "a1", "tau1", "a2", "tau2", "c")
STEP_PARAMS = ("t0", "sigma", "a", "c")


# -- fits ----------------------------------------------------------------------
def _clean(x, y, err):
    x, y = np.asarray(x, float), np.asarray(y, float)
    err = None if err is None else np.asarray(err, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if err is not None:
        ok &= np.isfinite(err) & (err > 0)
    return x[ok], y[ok], (None if err is None else err[ok])


def _curve_fit(model, x, y, p0, err, maxfev):
    """scipy's curve_fit (errors ``err`` relative), (popt, pcov); None when it
    does not converge. An undetermined covariance gives inf errors, no warning."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            return curve_fit(model, x, y, p0=p0, sigma=err, absolute_sigma=False, maxfev=maxfev)
    except (RuntimeError, ValueError):
        return None


def fit_step(x, y, err=None, p0=None):
    """Fit ``erf_step`` (t0, sigma, a, c) to a binned curve. Without ``p0``
    the start values come from the data and only the edge is fitted (the
    points up to the extremum of the signal, so that a decay after it does
    not bias the edge).

    Parameters
    ----------
    x : array_like
        Delay of each bin (any unit; the fitted times are in it).
    y : array_like
        Signal of each bin.
    err : array_like, optional
        Errors of y (relative weights).
    p0 : list of float, optional
        Start values, in the order of the parameter names.

    Returns
    -------
    popt, perr : dict or None
        Values and errors keyed by parameter name, or (None, None).
    """
    x, y, err = _clean(x, y, err)
    if len(x) < 6:
        return None, None
    if p0 is None:
        n = max(len(x) // 10, 2)
        c = np.mean(y[:n])
        ext = int(np.argmax(np.abs(y - c)))
        a = y[ext] - c
        half = np.flatnonzero(np.sign(a) * (y[: ext + 1] - c) > 0.5 * abs(a))
        t0 = x[half[0]] if len(half) else x[ext]
        p0 = [t0, max((x[-1] - x[0]) / 100, x[1] - x[0]), a, c]
        # the edge only: up to where the signal reaches its extremum
        sel = x <= x[ext]
        if sel.sum() >= 6:
            x, y, err = x[sel], y[sel], (None if err is None else err[sel])
    fit = _curve_fit(erf_step, x, y, p0, err, maxfev=20000)
    if fit is None:
        return None, None
    popt, pcov = fit
    popt[1] = abs(popt[1])
    perr = np.sqrt(np.diag(pcov))
    return dict(zip(STEP_PARAMS, popt)), dict(zip(STEP_PARAMS, perr))


def fit_double_exp(x, y, err=None, p0=None):
    """Fit ``double_exp_step`` (t0, sigma, a1, tau1, a2, tau2, c) to a binned
    curve; starts from the step fit. tau1 is the faster decay.

    Parameters
    ----------
    x : array_like
        Delay of each bin (any unit; the fitted times are in it).
    y : array_like
        Signal of each bin.
    err : array_like, optional
        Errors of y (relative weights).
    p0 : list of float, optional
        Start values, in the order of the parameter names.

    Returns
    -------
    popt, perr : dict or None
        Values and errors keyed by parameter name, or (None, None).
    """
    x, y, err = _clean(x, y, err)
    if len(x) < 10:
        return None, None
    if p0 is None:
        step, _ = fit_step(x, y, err)
        if step is None:
            return None, None
        span = x[-1] - step["t0"]
        peak = y[np.argmax(np.abs(y - step["c"]))] - step["c"]
        p0 = [
            step["t0"],
            max(step["sigma"], (x[1] - x[0])),
            0.6 * peak,
            span / 20,
            0.4 * peak,
            span / 2,
            step["c"],
        ]
    fit = _curve_fit(double_exp_step, x, y, p0, err, maxfev=50000)
    if fit is None:
        return None, None
    popt, pcov = fit
    perr = np.sqrt(np.diag(pcov))
    popt[1], popt[3], popt[5] = abs(popt[1]), abs(popt[3]), abs(popt[5])
    if popt[3] > popt[5]:  # tau1 the fast one
        popt[[2, 3, 4, 5]] = popt[[4, 5, 2, 3]]
        perr[[2, 3, 4, 5]] = perr[[4, 5, 2, 3]]
    return dict(zip(DOUBLE_EXP_PARAMS, popt)), dict(zip(DOUBLE_EXP_PARAMS, perr))


# -- the routine ---------------------------------------------------------------
def _pulse_dim(da):
    dims = [d for d in da.dims if d != "trainId"]
    if len(dims) > 1:
        raise ToolBoxValueError(f"{da.name!r} has dims {da.dims}; expected (trainId, pulse)")
    return dims[0] if dims else None


def _match_delay(delay, ref, dim):
    """The delay on the same (trainId, pulse) grid as ``ref`` (the pumped
    pulses): a per-train delay is broadcast; a pulse-resolved one on another
    pulse dimension (e.g. the BAM-corrected delay on ``sa3_pId``) is matched
    to the pumped pulses in order."""
    delay = delay.sel(trainId=ref.trainId)
    ddim = _pulse_dim(delay)
    if ddim is None:
        return xr.broadcast(delay, ref)[0].transpose(*ref.dims)
    if ddim == dim:
        return delay.sel({dim: ref[dim]})
    if delay.sizes[ddim] < ref.sizes[dim]:
        raise ToolBoxValueError(
            f"the delay has {delay.sizes[ddim]} pulses ({ddim}) but there are "
            f"{ref.sizes[dim]} pumped pulses ({dim}); pass a per-train delay or one "
            "value per pumped pulse"
        )
    vals = delay.isel({ddim: slice(0, ref.sizes[dim])}).values
    return ref.copy(data=vals)


def reflectivity(
    data,
    Iokey="FastADC5peaks",
    Irkey="FastADC3peaks",
    delaykey="PP800_DelayLine",
    binWidth=0.05,
    positionToDelay=True,
    origin=None,
    invert=False,
    pumpedOnly=False,
    alternateTrains=False,
    pumpOnEven=True,
    Ioweights=False,
    plot=True,
    plotErrors=True,
    units="mm",
    xlabel=None,
):
    """Computes the reflectivity R = 100*(Ir/Io[pumped] / Ir/Io[unpumped] - 1)
    as a function of delay. Delay can be a motor position in mm or an
    optical delay in ps, with possibility to convert from position to delay.
    The default scheme is alternating pulses pumped/unpumped/... in each
    train, also possible are alternating trains and pumped only. A double
    exponential (default) and a step function are fitted to the binned curve.

    Parameters
    ----------
    data: xarray Dataset
        Dataset containing the Io, Ir and delay data
    Iokey: str
        Name of the Io variable
    Irkey: str
        Name of the Ir variable
    delaykey: str
        Name of the delay variable (motor position in mm or optical delay in
        ps); per train, or per pulse (e.g. BAM-corrected: matched to the
        pumped pulses in order)
    binWidth: float
        width of bin in units of delay variable
    positionToDelay: bool
        If True, adds a time axis converted from position axis according to
        origin and invert parameters. Ignored if origin is None.
    origin: float
        Position of time overlap, shown as a vertical line. Used if
        positionToDelay is True to convert position to time axis.
    invert: bool
        Used if positionToDelay is True to convert position to time axis.
    pumpedOnly: bool
        Assumes that all trains and pulses are pumped. In this case, Delta R
        is defined as Ir/Io.
    alternateTrains: bool
        If True, assumes that trains alternate between pumped and unpumped
        data.
    pumpOnEven: bool
        Only used if alternateTrains=True. If True, even trains are pumped,
        if False, odd trains are pumped.
    Ioweights: bool
        If True, computes the ratio of the means instead of the mean of the
        ratios Irkey/Iokey. Useful when dealing with large intensity
        variations.
    plot: bool
        If True, plots the results.
    plotErrors: bool
        If True, plots the 95% confidence interval.
    units: str
        units of the delay variable, for the plot ('mm' or 'ps').
    xlabel: str or None
        what the delay axis is, for the plot's x label (the unit is appended),
        e.g. ``"pump-probe delay, BAM-corrected"`` for a computed delay
        variable. None: the name of the plotted variable.

    Output
    ------
    xarray Dataset containing the binned Delta R (``deltaR``, %), standard
    deviation (``deltaR_std``), standard error (``deltaR_stderr``), counts,
    the mean delay of the shots of each bin (``delay_mean``, units of
    delaykey: the fits use it) and delays (``delay`` coordinate when
    converted), and the fitting results as
    attributes: ``fit_double_exp`` / ``fit_double_exp_err`` and ``fit_step`` /
    ``fit_step_err`` (dicts, in the units of the fitted axis, ``fit_axis``).
    """
    for key in (Iokey, Irkey, delaykey):
        if key not in data:
            raise ToolBoxValueError(
                f"{key!r} is not in the dataset (variables: "
                f"{', '.join(map(str, data.data_vars))}); pass Iokey=, Irkey=, delaykey="
            )
    Io, Ir = data[Iokey], data[Irkey]
    if Io.dims != Ir.dims:
        raise ToolBoxValueError(
            f"{Iokey} {Io.dims} and {Irkey} {Ir.dims} must have the same dimensions"
        )
    dim = _pulse_dim(Io)
    if dim is None:
        Io, Ir = (
            Io.expand_dims(_pulse="pulse").transpose("trainId", "_pulse"),
            Ir.expand_dims(_pulse="pulse").transpose("trainId", "_pulse"),
        )
        dim = "_pulse"
    if pumpedOnly:
        pIo, pIr = Io, Ir
        ref = None
    elif alternateTrains:
        tid = Io.trainId.values
        p = 0 if pumpOnEven else 1
        pumped, unpumped = tid[tid % 2 == p], tid[tid % 2 != p]
        # each pumped train is referenced to the nearest unpumped train
        if not len(pumped) or not len(unpumped):
            raise ToolBoxValueError("alternateTrains=True needs both even and odd trains")
        j = np.clip(np.searchsorted(unpumped, pumped), 0, len(unpumped) - 1)
        pIo, pIr = Io.sel(trainId=pumped), Ir.sel(trainId=pumped)
        uIo = Io.sel(trainId=unpumped[j]).assign_coords(trainId=pumped)
        uIr = Ir.sel(trainId=unpumped[j]).assign_coords(trainId=pumped)
        ref = (uIo, uIr)
    else:
        n = Io.sizes[dim] // 2
        if n == 0:
            raise ToolBoxValueError(
                f"alternating pumped/unpumped pulses need at least 2 pulses per train on "
                f"{dim}, got {Io.sizes[dim]}; pass pumpedOnly=True or alternateTrains=True"
            )
        pIo, pIr = Io.isel({dim: slice(0, 2 * n, 2)}), Ir.isel({dim: slice(0, 2 * n, 2)})
        uIo = Io.isel({dim: slice(1, 2 * n, 2)}).assign_coords({dim: pIo[dim].values})
        uIr = Ir.isel({dim: slice(1, 2 * n, 2)}).assign_coords({dim: pIo[dim].values})
        ref = (uIo, uIr)
    delay = _match_delay(data[delaykey], pIo, dim)

    pr = (pIr / pIo).values
    ur = (ref[1] / ref[0]).values if ref is not None else None
    d = delay.values
    lo, hi = np.nanmin(d), np.nanmax(d)
    edges = np.arange(lo, hi + binWidth, binWidth)
    if len(edges) < 2:
        edges = np.array([lo, lo + binWidth])
    idx = np.clip(np.digitize(d, edges) - 1, 0, len(edges) - 2)
    nb = len(edges) - 1
    ok = np.isfinite(pr) & np.isfinite(d)
    if ur is not None:
        ok &= np.isfinite(ur)
    counts = np.bincount(idx[ok], minlength=nb).astype(float)
    i = idx[ok]

    def bsum(v):
        return np.bincount(i, v[ok], nb)

    with np.errstate(invalid="ignore", divide="ignore"):
        if ur is None:  # pumped only: Ir / Io itself
            vals = pr
            mean = bsum(pIr.values) / bsum(pIo.values) if Ioweights else bsum(vals) / counts
        else:
            vals = 100 * (pr / ur - 1)
            if Ioweights:  # ratio of the means
                mean = 100 * (
                    (bsum(pIr.values) / bsum(pIo.values))
                    / (bsum(ref[1].values) / bsum(ref[0].values))
                    - 1
                )
            else:
                mean = bsum(vals) / counts
        m = bsum(vals) / counts
        std = np.sqrt(
            np.maximum(bsum(vals**2) / counts - m**2, 0) * counts / np.maximum(counts - 1, 1)
        )
        stderr = std / np.sqrt(counts)
        dmean = bsum(d) / counts  # where the shots of each bin really are
    centers = 0.5 * (edges[:-1] + edges[1:])
    keep = counts > 0
    ds = xr.Dataset(
        {
            "deltaR": (delaykey, mean[keep]),
            "deltaR_std": (delaykey, std[keep]),
            "deltaR_stderr": (delaykey, stderr[keep]),
            "counts": (delaykey, counts[keep].astype(int)),
            "delay_mean": (delaykey, dmean[keep]),
        },
        coords={delaykey: centers[keep]},
    )
    ds["deltaR"].attrs["units"] = "%" if ur is not None else "Ir/Io"
    axis, xunits = delaykey, units
    if positionToDelay and origin is not None:
        delay = _position_to_delay(ds[delaykey].values, origin, invert)
        ds = ds.assign_coords(delay=(delaykey, np.asarray(delay)))
        ds["delay"].attrs["units"] = "ps"
        axis, xunits = "delay", "ps"
    # the fits use the mean delay of each bin's shots, not the bin centre
    x = ds["delay_mean"].values
    if axis == "delay":
        x = np.asarray(_position_to_delay(x, origin, invert))
    # fit weights: one pooled standard deviation over sqrt(counts) (the
    # per-bin std of a few shots is too noisy to weight by)
    cnt = ds["counts"].values
    good = cnt > 1
    pooled = np.sqrt(
        np.nansum((ds["deltaR_std"].values[good] ** 2) * (cnt[good] - 1))
        / max(np.sum(cnt[good] - 1), 1)
    )
    err = pooled / np.sqrt(np.maximum(cnt, 1))
    fit_de, fit_de_err = fit_double_exp(x[good], ds["deltaR"].values[good], err[good])
    fit_st, fit_st_err = fit_step(x[good], ds["deltaR"].values[good], err[good])
    ds.attrs.update(
        fit_axis=axis,
        fit_units=xunits,
        scheme="pumpedOnly"
        if pumpedOnly
        else "alternateTrains"
        if alternateTrains
        else "alternatePulses",
    )
    for name, (p, e) in {
        "fit_double_exp": (fit_de, fit_de_err),
        "fit_step": (fit_st, fit_st_err),
    }.items():
        if p is not None:
            ds.attrs[name] = {k: float(v) for k, v in p.items()}
            ds.attrs[name + "_err"] = {k: float(v) for k, v in e.items()}
    if plot:
        _plot(ds, axis, xunits, origin if axis == delaykey else 0.0, plotErrors, xlabel)
    return ds


def _plot(ds, axis, xunits, origin, plotErrors, xlabel=None):
    import matplotlib.pyplot as plt  # heavy: only for plots

    fig, ax = plt.subplots(figsize=(8, 4.5))
    x, y = ds[axis].values, ds["deltaR"].values
    ax.plot(x, y, "o-", ms=3, lw=0.8, label="data")
    if plotErrors:
        e = 1.96 * ds["deltaR_stderr"].values
        ax.fill_between(x, y - e, y + e, alpha=0.3, label="95% confidence")
    xs = np.linspace(x.min(), x.max(), 600)
    if "fit_double_exp" in ds.attrs:
        p = ds.attrs["fit_double_exp"]
        ax.plot(
            xs,
            double_exp_step(xs, *[p[k] for k in DOUBLE_EXP_PARAMS]),
            "r",
            label=f"double exp.: t0 = {p['t0']:.3f}, tau1 = {p['tau1']:.3f}, "
            f"tau2 = {p['tau2']:.3f} {xunits}",
        )
    if "fit_step" in ds.attrs:
        p = ds.attrs["fit_step"]
        ax.plot(
            xs,
            erf_step(xs, *[p[k] for k in STEP_PARAMS]),
            "k--",
            lw=0.8,
            label=f"step: t0 = {p['t0']:.3f}, sigma = {p['sigma']:.3f} {xunits}",
        )
    if origin is not None:
        ax.axvline(origin, color="grey", ls=":")
    ax.set_xlabel(f"{xlabel or axis} [{xunits}]")
    ax.set_ylabel(r"$\Delta R$ [%]" if ds["deltaR"].attrs.get("units") == "%" else "Ir/Io")
    ax.set_title("transient reflectivity")
    ax.legend(fontsize="small")
    return fig
