"""DSSC scattering time-delay: azimuthal integration of a binned delay dataset.

The ToolBox's "DSSC scattering time-delay" how-to: the binned DSSC data
(``bin_dssc(..., xaxis='delay', pattern=['pumped', 'unpumped'])``, opened with
``open_binned_dssc``: dims ``delay, pulse, module, x, y``, dask-backed) is
integrated with ``xr.apply_ufunc(..., dask='parallelized')`` (one task per
chunk of delays), giving I(delay, pulse, q); then

* ``delay_map``: the scattering change ΔI(q, delay) = I_pumped - I_unpumped
  and its relative form ΔI / (I_unpumped - background);
* ``q_traces``: the relative change integrated over q ranges vs delay;
* ``fit_recovery``: a step-and-exponential fit of a time trace,
  ``-depth * H(t - t0) * exp(-(t - t0) / tau)``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ....errors import ToolBoxValueError
from .integrate import integrate_azimuthal

__all__ = ["integrate_delay_scan", "delay_map", "q_traces", "fit_recovery", "recovery_model"]


def integrate_delay_scan(
    binned,
    geom=None,
    npt=200,
    unit="q_nm^-1",
    distance=0.5,
    energy=930.0,
    mask=None,
    radial_range=None,
    method="exact",
    chunks=None,
):
    """I(delay, pulse, q) of a binned DSSC dataset (or its ``data`` DataArray).

    The integration runs through ``xr.apply_ufunc`` with
    ``dask='parallelized'``: lazily, one task per chunk of the non-pixel dims
    (``chunks``, e.g. ``{'delay': 4}``; default: the dataset's own chunks).
    ``.compute()`` (or ``.load()``) runs it on the current dask scheduler.
    """
    data = binned["data"] if isinstance(binned, xr.Dataset) else binned
    if not isinstance(data, xr.DataArray) or "module" not in data.dims:
        raise ToolBoxValueError(
            "integrate_delay_scan needs the binned DSSC dataset "
            "(open_binned_dssc) or its 'data' DataArray with a 'module' dim"
        )
    if chunks:
        data = data.chunk(chunks)
    elif data.chunks is None:
        lead = [d for d in data.dims if d not in ("module",) + data.dims[-2:]]
        data = data.chunk({lead[0]: 1} if lead else {})
    ds = integrate_azimuthal(
        data,
        geom,
        npt=npt,
        unit=unit,
        distance=distance,
        energy=energy,
        mask=mask,
        radial_range=radial_range,
        method=method,
    )
    if isinstance(binned, xr.Dataset) and "hist" in binned:
        hist = binned["hist"]
        if "module" in hist.dims:
            hist = hist.max("module")
        ds["hist"] = hist
    return ds


def _radial_name(ds):
    for name in ("q", "2th", "r"):
        if name in ds.dims:
            return name
    raise ToolBoxValueError(f"no radial dim (q, 2th or r) in {tuple(ds.dims)}")


def delay_map(
    ds, pumped="pumped", unpumped="unpumped", background_range=None, reference_delays=None
):
    """ΔI(q, delay): ``dI`` = I_pumped - I_unpumped, ``I_off`` = I_unpumped and
    ``rel`` = dI / (I_unpumped - background), background = mean I_unpumped over
    ``background_range`` (radial unit; default none, 0); ``reference_delays``
    (low, high): subtract the mean ΔI of those delays (e.g. before time zero)."""
    I = ds["I"] if isinstance(ds, xr.Dataset) else ds
    if "pulse" not in I.dims:
        raise ToolBoxValueError(
            f"delay_map needs a 'pulse' dim with {pumped!r} and "
            f"{unpumped!r}; the data has dims {I.dims}"
        )
    labels = [str(p) for p in I["pulse"].values]
    for lab in (pumped, unpumped):
        if lab not in labels:
            raise ToolBoxValueError(
                f"pulse {lab!r} not in the data's pulses {labels}; pass "
                "pumped=/unpumped= naming them"
            )
    rad = _radial_name(I)
    on = I.sel(pulse=pumped)
    off = I.sel(pulse=unpumped)
    d = on - off
    if reference_delays is not None:
        lo, hi = reference_delays
        d = d - d.sel(delay=slice(lo, hi)).mean("delay")
    bg = 0.0
    if background_range is not None:
        bg = off.sel({rad: slice(*background_range)}).mean(rad)
    ring = off - bg
    out = xr.Dataset(
        {
            "dI": d,
            "I_off": off,
            "rel": d / ring,
            "background": bg if isinstance(bg, xr.DataArray) else xr.DataArray(bg),
        }
    )
    out["rel"].attrs["long_name"] = "ΔI / (I_unpumped - background)"
    out["dI"].attrs["long_name"] = "I_pumped - I_unpumped"
    return out


def q_traces(dmap, qranges):
    """Relative scattering change vs delay integrated over radial ranges:
    sum(dI) / sum(I_off - background) over each (low, high) of ``qranges``;
    a DataArray (qrange, delay) with a 'qrange' coordinate of labels."""
    rad = _radial_name(dmap)
    rows, labels = [], []
    ring = dmap["I_off"] - dmap["background"]
    for lo, hi in qranges:
        sl = {rad: slice(lo, hi)}
        n = dmap["dI"].sel(sl).sum(rad)
        rows.append(n / ring.sel(sl).mean("delay").sum(rad))
        labels.append(f"{lo:g}-{hi:g}")
    return xr.concat(rows, dim="qrange").assign_coords(qrange=labels)


def recovery_model(t, depth, tau, t0=0.0):
    """-depth * H(t - t0) * exp(-(t - t0) / tau)."""
    t = np.asarray(t, float) - t0
    return np.where(t >= 0, -depth * np.exp(-np.clip(t, 0, None) / tau), 0.0)


def fit_recovery(delay, trace, t0=0.0, sigma=None, exclude=0.3):
    """Fit ``recovery_model`` (depth, tau; t0 fixed) to a trace; the delays
    within ``exclude`` ps of t0 are left out (the binned step is not sharp).
    Returns {'depth', 'tau', 'depth_err', 'tau_err'}."""
    from scipy.optimize import curve_fit  # heavy: only for the fit

    t = np.asarray(delay, float)
    y = np.asarray(trace, float)
    ok = np.isfinite(y) & (np.abs(t - t0) > exclude)
    if ok.sum() < 3:
        raise ToolBoxValueError(
            f"fit_recovery needs >= 3 finite points away from t0={t0}; got {int(ok.sum())}"
        )
    s = None if sigma is None else np.asarray(sigma, float)[ok]
    after = ok & (t > t0)
    d0 = float(-np.nanmin(y[after])) if after.any() else 0.1
    p, cov = curve_fit(
        lambda x, d, tau: recovery_model(x, d, tau, t0),
        t[ok],
        y[ok],
        p0=[d0, max(1.0, 0.3 * np.ptp(t))],
        sigma=s,
        absolute_sigma=s is not None,
        bounds=([-10, 1e-3], [10, 1e4]),
    )
    err = np.sqrt(np.diag(cov))
    return {
        "depth": float(p[0]),
        "tau": float(p[1]),
        "depth_err": float(err[0]),
        "tau_err": float(err[1]),
    }
