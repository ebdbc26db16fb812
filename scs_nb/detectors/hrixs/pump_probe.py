"""Pumped vs unpumped hRIXS spectra: the XGM-normalised difference and the ratio in a window."""

from __future__ import annotations

import numpy as np

from ...errors import ToolBoxValueError

__all__ = ["pump_probe_ratio"]


def pump_probe_ratio(agg, window, dim="hRIXS_delay", pumped=None):
    """Pumped vs unpumped spectra of an aggregated delay scan and their ratio in a window.

    The spectra of the pumped (delay > 0) and unpumped (delay <= 0) bins are summed and
    divided by the summed XGM (``hRIXS_norm``). Errors are photon statistics: a double
    hit counts two photons, so the variance of a sum is photons + 2 x double hits
    (``dbl_spectrum`` when the aggregate has it).

    Parameters
    ----------
    agg : xarray.Dataset
        ``hRIXS.aggregate(centroided, dim)``: ``spectrum`` (photons) on ``(dim,
        energy)``, ``hRIXS_norm`` (XGM sum, µJ) on ``dim``, optional ``dbl_spectrum``.
    window : sequence of 2 float
        ``[low, high)`` energy window (eV) of the feature followed.
    dim : str
        The scan dimension (pump-probe delay, ps).
    pumped : array-like of bool, optional
        Which bins of ``dim`` are pumped (default delay > 0).

    Returns
    -------
    dict
        ``ratio``, ``error``: pumped/unpumped of the photons in the window, each per
        XGM µJ, with its standard error; ``pumped``, ``unpumped``: normalised spectra
        (photons / µJ on ``energy``); ``difference``, ``difference_error``: pumped -
        unpumped and its standard error per energy bin; ``n_pumped``, ``n_unpumped``:
        photons in the window.

    Raises
    ------
    ToolBoxValueError
        A missing variable, an empty pumped or unpumped set, or no photon in the
        window.
    """
    for var in ("spectrum", "hRIXS_norm"):
        if var not in agg:
            raise ToolBoxValueError(
                f"pump_probe_ratio needs {var!r} in the aggregate (hRIXS.aggregate); it has "
                f"{', '.join(agg.data_vars)}"
            )
    lo, hi = (float(w) for w in window)
    pumped = agg[dim] > 0 if pumped is None else np.asarray(pumped, bool)
    sel = {"pumped": pumped, "unpumped": ~pumped}
    dbl = agg["dbl_spectrum"] if "dbl_spectrum" in agg else 0 * agg["spectrum"]
    win = (agg["energy"] >= lo) & (agg["energy"] < hi)
    out = {}
    for name, s in sel.items():
        if not bool(np.any(s)):
            raise ToolBoxValueError(
                f"no {name} bin in {dim} = {agg[dim].values.tolist()}; pass pumped= to say "
                "which bins are pumped"
            )
        spec = agg["spectrum"].where(s).sum(dim)
        var = spec + 2 * dbl.where(s).sum(dim)
        norm = float(agg["hRIXS_norm"].where(s).sum())
        n = float(spec.where(win).sum())
        v = float(var.where(win).sum())
        if n <= 0:
            raise ToolBoxValueError(
                f"no {name} photon in the window {lo}..{hi} eV; choose a window inside "
                f"{float(agg['energy'].min()):.1f}..{float(agg['energy'].max()):.1f} eV"
            )
        out[name] = (spec / norm, var / norm**2, n, v, norm)
    (sp, vp, n_p, v_p, norm_p), (su, vu, n_u, v_u, norm_u) = out["pumped"], out["unpumped"]
    ratio = (n_p / norm_p) / (n_u / norm_u)
    return {
        "ratio": ratio,
        "error": ratio * np.sqrt(v_p / n_p**2 + v_u / n_u**2),
        "pumped": sp,
        "unpumped": su,
        "difference": sp - su,
        "difference_error": np.sqrt(vp + vu),
        "n_pumped": n_p,
        "n_unpumped": n_u,
    }
