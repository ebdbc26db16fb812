"""X-ray gas monitors: pulse-resolved energies aligned on the bunch pattern.

The fast XGM arrays hold the pulses of a train packed from index 0 (unused
entries hold 1.0). ``get_xgm`` replaces them by arrays on the pulse
dimension of the bunch pattern (``sa3_pId`` for ``*_SA3``, ``sa1_pId`` for
``*_SA1``, ``pId`` for ``*_XGM`` = all pulses), NaN where a train had no such
pulse, and warns when the number of pulses the XGM recorded disagrees with
the bunch pattern.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError
from ..mnemonics import alternatives, mnemonics, names_of_kind, present_in
from ..reader import read_loose
from . import bunch_pattern as bp
from .merge import merge_on_trains
from .source import from_memory, split_source

__all__ = ["get_xgm", "calibrate_xgm"]

XGM_MNEMONICS = names_of_kind("xgm")


def _xgm_location(name):
    """'sase3', 'sase1' or 'all' (every pulse): the table's location of an XGM mnemonic."""
    return alternatives(name)[0].get("location", "all")


def _split_locations(name, da, pids_of):
    """From an all-pulses XGM array (on ``pId``), the SASE3 and SASE1 arrays
    (``<XGM>_SA3`` on sa3_pId, ``<XGM>_SA1`` on sa1_pId) the ToolBox also gives;
    a location without pulses in the run is left out."""
    prefix = name.rsplit("_", 1)[0]
    out = {}
    for loc, suffix in (("sase3", "SA3"), ("sase1", "SA1")):
        target = f"{prefix}_{suffix}"
        p = pids_of(loc)
        if target not in mnemonics or p is None or not p.mask.any():
            continue
        dim = bp.pulse_dim(loc)
        sub = da.sel(pId=p.pids).rename(pId=dim)
        mask = xr.DataArray(
            p.mask, dims=("trainId", dim), coords={"trainId": p.trainId, dim: p.pids}
        )
        sub = sub.where(mask.reindex_like(sub, fill_value=False))
        sub.name = target
        sub.attrs.update(da.attrs, derived_from=name)
        out[target] = sub
    return out


def _pids_for(run, loc, bpt, mn):
    if loc != "all":
        return bp.pulse_ids(run, loc, bpt=bpt, run_mnemonics=mn, required=False)
    p1 = bp.pulse_ids(run, "sase1", bpt=bpt, run_mnemonics=mn, required=False)
    p3 = bp.pulse_ids(run, "sase3", bpt=bpt, run_mnemonics=mn, required=False)
    if p1 is None or p3 is None:
        return None
    tids, i1, i3 = np.intersect1d(p1.trainId, p3.trainId, return_indices=True)
    pids = np.union1d(p1.pids, p3.pids)
    mask = np.zeros((len(tids), len(pids)), bool)
    mask[:, np.searchsorted(pids, p1.pids)] |= p1.mask[i1]
    mask[:, np.searchsorted(pids, p3.pids)] |= p3.mask[i3]
    return bp.PulseIds(tids, pids, mask, "pId", "all", p3.source)


def get_xgm(run, mnemonics=None, merge_with=None, indices=slice(0, None)):
    """Load and/or compute XGM data. Sources can be loaded on the fly via the
    mnemonics argument, or processed from an existing dataset (merge_with).
    The bunch pattern table is used to assign the pulse id coordinates.

    Parameters
    ----------
    run: extra_data.DataCollection, scs_nb.live.Stream or xarray.Dataset
        DataCollection containing the xgm data; or a live Stream (its trains)
        or its dataset().
    mnemonics: str or list of str
        mnemonics for XGM, e.g. "SCS_SA3" or ["XTD10_XGM", "SCS_XGM"]. If None,
        the XGM variables of merge_with, else "SCS_SA3".
    merge_with: xarray Dataset
        If provided, the resulting Dataset will be merged with this one. The
        XGM variables of merge_with (if any) will also be computed and merged.
    indices: slice, list, 1D array
        Pulse indices of the XGM array in case the bunch pattern is missing.

    Returns
    -------
    xarray Dataset with pulse-resolved XGM variables aligned, merged with
    Dataset merge_with if provided.

    Example
    -------
    >>> import scs_nb as tb
    >>> run, ds = tb.load(2212, 213, 'SCS_SA3')
    >>> ds['SCS_SA3']
    """
    run, mem = split_source(run)
    if mem is not None:  # a live stream's trains, or a Dataset
        return from_memory(
            get_xgm,
            mem,
            mnemonics,
            merge_with,
            XGM_MNEMONICS,
            "XGMbunchId",
            ["SCS_SA3"],
            indices=indices,
        )
    if isinstance(mnemonics, str):
        mnemonics = [mnemonics]
    # the raw XGM variables already in merge_with are processed too
    raw_in_ds = (
        []
        if merge_with is None
        else [m for m in XGM_MNEMONICS if m in merge_with and "XGMbunchId" in merge_with[m].dims]
    )
    if mnemonics is None:
        mnemonics = raw_in_ds or (["SCS_SA3"] if merge_with is None else [])
    mnemonics = list(dict.fromkeys(list(mnemonics) + raw_in_ds))
    if not mnemonics:
        return merge_with
    mn = present_in(run) if run is not None else {}
    bpt = bp.load_bpt(run, merge_with, mn)
    pids_by_loc = {}  # pulse ids of each location, found once for all mnemonics

    def pids_of(loc):
        if loc not in pids_by_loc:
            pids_by_loc[loc] = _pids_for(run, loc, bpt, mn)
        return pids_by_loc[loc]

    out = {}
    for m in mnemonics:
        if m not in XGM_MNEMONICS:
            if (
                merge_with is not None
                and m in merge_with
                and "XGMbunchId" not in merge_with[m].dims
            ):
                continue  # already aligned
            raise ToolBoxValueError(
                f"{m!r} is not a pulse-resolved XGM mnemonic; pass one of "
                f"{', '.join(XGM_MNEMONICS)} (slow XGM values such as 'SCS_photonFlux' load "
                "with tb.load / tb.get_array)"
            )
        if merge_with is not None and m in merge_with:
            arr = merge_with[m]
        else:
            arr = read_loose(run, m)
        values = np.asarray(arr.values, float)
        values = np.where(values == 1.0, np.nan, values)  # unused entries hold 1.0
        tids = np.asarray(arr["trainId"].values)
        loc = _xgm_location(m)
        pids = pids_of(loc)
        if pids is None:
            sel = np.arange(values.shape[1])[indices]
            dim = "pId" if loc == "all" else bp.pulse_dim(loc)
            out[m] = xr.DataArray(
                values[:, sel], dims=("trainId", dim), coords={"trainId": tids, dim: sel}, name=m
            )
            continue
        da = bp.align_packed(values, tids, pids, m, keep_empty=True, check_count=True)
        da.attrs.update(units="uJ", pulse_ids_from=pids.source)
        out[m] = da
    for m in list(out):
        if _xgm_location(m) == "all" and "pId" in out[m].dims:
            for name, da in _split_locations(m, out[m], pids_of).items():
                out.setdefault(name, da)
    ds = xr.Dataset(out)
    return merge_on_trains(merge_with, ds, drop=list(out))


def calibrate_xgm(run, data, xgm="SCS", plot=False):
    """Calculates the calibration factor F between the photon flux (slow
    signal) and the fast signal (pulse-resolved) of the sase 3 pulses. The
    calibrated fast signal is equal to the uncalibrated one multiplied by F.

    Parameters
    ----------
    run: extra_data.DataCollection
    data: xarray Dataset
        dataset containing the pulse-resolved sase 3 signal, e.g. 'SCS_SA3'
        (loaded if absent).
    xgm: str
        one in {'XTD10', 'SCS'}
    plot: bool
        If True, shows a plot of the photon flux, averaged fast signal and
        calibrated fast signal.

    Returns
    -------
    F: float
        calibration factor F defined as: calibrated XGM [microJ] = F * fast
        XGM array ('SCS_SA3' or 'XTD10_SA3')
    """
    if xgm not in ("SCS", "XTD10"):
        raise ToolBoxValueError(f"xgm must be 'SCS' or 'XTD10', got {xgm!r}")
    name = f"{xgm}_SA3"
    if data is None or name not in data or "XGMbunchId" in data[name].dims:
        data = get_xgm(run, name, merge_with=data)
    fast = data[name]
    pdim = [d for d in fast.dims if d != "trainId"][0]
    flux_name = f"{xgm}_photonFlux"
    flux = data[flux_name] if flux_name in data else read_loose(run, flux_name)
    fast_mean = fast.mean(pdim, skipna=True)
    fast_mean, flux = xr.align(fast_mean, flux, join="inner")
    ok = np.isfinite(fast_mean.values) & (flux.values > 0)
    if not ok.any():
        raise ToolBoxValueError(
            f"no train has both {name} pulses and a positive {flux_name}: cannot calibrate"
        )
    F = float(np.mean(flux.values[ok]) / np.mean(fast_mean.values[ok]))
    if plot:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        t = fast_mean["trainId"].values
        ax.plot(t, flux.values, label=f"{flux_name} (slow)")
        ax.plot(t, fast_mean.values, label=f"{name} average (fast, uncalibrated)")
        ax.plot(t, F * fast_mean.values, ls="--", label=f"{name} x F, F = {F:.4g}")
        ax.set_xlabel("trainId")
        ax.set_ylabel("pulse energy [µJ]")
        ax.legend()
    return F
