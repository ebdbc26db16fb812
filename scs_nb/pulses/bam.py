"""Bunch arrival monitors: arrival times per pulse, aligned on the bunch pattern.

``data.absoluteTD`` holds one value per electron bunch at index 2 x slot. The
values are read in fs (newer DAQ) or ps (legacy) according to the dataset's
``metricPrefixSymbol`` and returned in ps, as the ToolBox does.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError
from ..mnemonics import names_of_kind, present_in
from ..reader import lookup, read_loose, run_value
from . import bunch_pattern as bp
from .merge import merge_on_trains
from .source import from_memory, split_source

__all__ = ["get_bam", "get_bam_params"]

BAM_MNEMONICS = names_of_kind("bam")


def _to_ps_factor(run, name):
    try:
        _, alt = lookup(run, name)
        prefix = run[alt["source"], alt["key"]].attributes().get("metricPrefixSymbol", "f")
    except Exception:
        prefix = "f"
    if isinstance(prefix, bytes):
        prefix = prefix.decode()
    return {"f": 1e-3, "p": 1.0, "n": 1e3}.get(prefix, 1e-3)


def get_bam(run, mnemonics=None, merge_with=None, bunchPattern="sase3", pulseIds=None):
    """Load beam arrival monitor (BAM) data and align their pulse ID according
    to the bunch pattern. Sources can be loaded on the fly via the mnemonics
    argument, or processed from an existing data set (merge_with).

    Parameters
    ----------
    run: extra_data.DataCollection, scs_nb.live.Stream or xarray.Dataset
        DataCollection containing the bam data; or a live Stream (its trains)
        or its dataset().
    mnemonics: str or list of str
        mnemonics for BAM, e.g. "BAM1932M" or ["BAM414", "BAM1932M"]. If None,
        the BAM variables of merge_with, else every BAM in the run.
    merge_with: xarray Dataset
        If provided, the resulting Dataset will be merged with this one.
    bunchPattern: str
        'sase1' or 'sase3' or 'scs_ppl': the pulse ID dimension will be named
        'sa1_pId', 'sa3_pId' or 'ol_pId', respectively.
    pulseIds: list, 1D array
        Pulse Ids. If None, they are taken from the bunch pattern.

    Returns
    -------
    xarray Dataset with pulse-resolved BAM variables (ps) aligned, merged with
    Dataset merge_with if provided.
    """
    run, mem = split_source(run)
    if mem is not None:  # a live stream's trains, or a Dataset
        return from_memory(
            get_bam,
            mem,
            mnemonics,
            merge_with,
            BAM_MNEMONICS,
            "BAMbunchId",
            bunchPattern=bunchPattern,
            pulseIds=pulseIds,
        )
    if isinstance(mnemonics, str):
        mnemonics = [mnemonics]
    raw_in_ds = (
        []
        if merge_with is None
        else [m for m in BAM_MNEMONICS if m in merge_with and "BAMbunchId" in merge_with[m].dims]
    )
    mn = present_in(run) if run is not None else {}
    if mnemonics is None:
        mnemonics = raw_in_ds or (
            [m for m in BAM_MNEMONICS if m in mn] if merge_with is None else []
        )
    mnemonics = list(dict.fromkeys(list(mnemonics) + raw_in_ds))
    if not mnemonics:
        if merge_with is None:
            raise ToolBoxValueError(
                f"no BAM in this run; BAM mnemonics: {', '.join(BAM_MNEMONICS)}"
            )
        return merge_with
    for m in mnemonics:
        if m not in BAM_MNEMONICS and not isinstance(m, dict):
            raise ToolBoxValueError(
                f"{m!r} is not a BAM mnemonic; pass one of {', '.join(BAM_MNEMONICS)}"
            )
    loc = bp.location(bunchPattern)
    if pulseIds is None:
        pids = bp.pulse_ids(run, loc, merge_with=merge_with, run_mnemonics=mn)
    out = {}
    for m in mnemonics:
        arr = merge_with[m] if merge_with is not None and m in merge_with else read_loose(run, m)
        tids = np.asarray(arr["trainId"].values)
        values = np.asarray(arr.values, float) * _to_ps_factor(run, m)
        if pulseIds is not None:
            ids = np.asarray(pulseIds, int)
            dim = bp.pulse_dim(loc)
            cols = 2 * ids
            if cols.max(initial=0) >= values.shape[1]:
                raise ToolBoxValueError(
                    f"pulseIds up to {ids.max()} exceed the {m} array "
                    f"({values.shape[1]} entries, 2 per slot)"
                )
            da = xr.DataArray(
                values[:, cols], dims=("trainId", dim), coords={"trainId": tids, dim: ids}, name=m
            )
        else:
            cols = 2 * pids.pids
            if len(cols) and cols.max() >= values.shape[1]:
                raise ToolBoxValueError(
                    f"{m}: pulse ids up to {pids.pids.max()} exceed the array "
                    f"({values.shape[1]} entries, 2 per slot)"
                )
            da = bp.align_slots(values, tids, pids, m, cols, keep_empty=True)
        da.attrs["units"] = "ps"
        out[m] = da
    return merge_on_trains(merge_with, xr.Dataset(out), drop=list(out))


def get_bam_params(run, mnemo_or_source="BAM1932S"):
    """Extract the run values of bamStatus[1-3] and bamError.

    Parameters
    ----------
    run: extra_data.DataCollection
    mnemo_or_source: str
        mnemonic of the BAM, e.g. 'BAM414', or source name, e.g.
        'SCS_ILH_LAS/DOOCS/BAM_414_B2'.

    Returns
    -------
    params: dict
        the extracted parameters (run values: they do not reflect changes
        during the run).
    """
    if mnemo_or_source in BAM_MNEMONICS:
        src = lookup(run, mnemo_or_source)[1]["source"].split(":")[0]
    else:
        src = mnemo_or_source.split(":")[0]
    if src not in run.control_sources:
        raise ToolBoxValueError(
            f"BAM device {src!r} is not in this run; pass a BAM mnemonic "
            f"({', '.join(BAM_MNEMONICS)}) or one of: "
            f"{', '.join(s for s in sorted(run.control_sources) if 'BAM' in s) or 'none'}"
        )
    params = {}
    for key in ("bamStatus1", "bamStatus2", "bamStatus3", "bamError"):
        try:
            v = run_value(run, src, key)
            params[key] = v.item() if hasattr(v, "item") else v
        except Exception:
            continue
    return params
