"""Digitizers: integrated peaks of the ADQ412 (TIM / MCP) and FastADC channels.

Peaks come either from the raw traces, integrated here, or from the
digitizer's on-board integration (``apd.pulseIntegral`` / ``data.peaks``).

Raw integration, for pulse k of a trace ``x``::

    peak_k = polarity * (sum(x[pulseStart + o_k : pulseStop + o_k])
                         - mean(x[baseStart + o_k : baseStop + o_k]) * (pulseStop - pulseStart))

Stops are exclusive. ``o_k`` is the sample offset of pulse k relative to the
first pulse: with a bunch pattern ``(pId_k - pId_0) * samples_per_slot`` (440
for the ADQ412, 24 for the FastADC), else ``k * period``. ``polarity`` is -1
for negative-going pulses (MCPs on the ADQ412), so that peaks are positive.
The integration is a numba kernel that reads only the windows of every
(train, pulse) of a chunk of traces; no Python loop over trains or pulses.

Which digitizer a mnemonic is, reading its raw traces (``get_dig_avg_trace``),
its on-board settings and the channels' descriptions
(``digitizer_signal_description``) are ``digitizer_channels``; this module
offers them too, as the ToolBox's ``detectors.digitizers`` does.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError
from ..mnemonics import present_in
from ..reader import lookup, read_loose
from . import bunch_pattern as bp
from .digitizer_channels import (
    DEFAULT_POLARITY,
    SAMPLES_PER_SLOT,
    _counterpart,
    _digitizer_mnemonics,
    _digitizer_vars,
    _is_raw,
    _iter_raw,
    _onboard_settings,
    _resolve_digitizer,
    digitizer_kind,
    digitizer_signal_description,
    get_dig_avg_trace,
    peaks_name,
)
from .merge import merge_on_trains
from .peak_integration import PARAM_KEYS, find_integ_params, peaks_from_raw_trace
from .peak_integration import check_params as _check_params
from .source import cached_rows, in_memory_alt, processed_in_memory, split_source

__all__ = [
    "get_peaks",
    "get_dig_avg_trace",
    "check_peak_params",
    "get_tim_peaks",
    "get_laser_peaks",
    "get_digitizer_peaks",
    "digitizer_signal_description",
    "find_integ_params",
    "peaks_from_raw_trace",
]


def _raw_peaks(run, alt, data, params, offsets, polarity):
    """Peaks from traces in memory (data) or read chunk by chunk from run."""
    args = (
        params["pulseStart"],
        params["pulseStop"],
        params["baseStart"],
        params["baseStop"],
        offsets,
        polarity,
    )
    if data is not None:
        tids = np.asarray(data["trainId"].values)
        return tids, peaks_from_raw_trace(np.asarray(data.values), *args)
    tids, out = [], []
    for t, arr in _iter_raw(run, alt):
        tids.append(t)
        out.append(peaks_from_raw_trace(arr, *args))
    if not tids:
        return np.zeros(0, np.uint64), np.zeros((0, len(offsets)))
    return np.concatenate(tids), np.concatenate(out)


def _resolve(run, mem, mnemonic):
    """(name, alternative, digitizer kind) of a channel, in a run or in memory."""
    if mem is None:
        return _resolve_digitizer(run, mnemonic)
    name, alt = in_memory_alt(mem, mnemonic)
    return name, alt, digitizer_kind(alt)


def _cached_raw_peaks(cache, name, data, params, offsets, polarity):
    """Peaks of the traces in ``data``, integrating only trains not integrated
    before with the same windows (a live stream's trains)."""
    tids = np.asarray(data["trainId"].values)
    key = ("peaks", name, tuple(sorted(params.items())), tuple(np.asarray(offsets).tolist()))
    key = key + (polarity,)

    def compute(mask):
        new = data.isel(trainId=np.flatnonzero(mask))
        return _raw_peaks(None, None, new, params, offsets, polarity)[1]

    return tids, cached_rows(cache, key, tids, compute)


def _pattern(run, bunchPattern, bpt, merge_with):
    if bunchPattern is None or str(bunchPattern) == "None":
        return None
    loc = bp.location(bunchPattern)
    return bp.pulse_ids(run, loc, bpt=bpt, merge_with=merge_with, required=False)


def get_peaks(
    run,
    data,
    mnemonic,
    useRaw=True,
    autoFind=True,
    integParams=None,
    bunchPattern="sase3",
    bpt=None,
    extra_dim=None,
    indices=None,
    keepAllSase=True,
):
    """Extract peaks from one source (channel) of a digitizer.

    Parameters
    ----------
    run: extra_data.DataCollection
        DataCollection containing the digitizer data
    data: xarray DataArray or str
        array containing the raw traces or peak-integrated values from the
        digitizer. If str, must be one of the ToolBox mnemonics. If None, the
        data is loaded via the mnemonic (raw traces are read in chunks).
    mnemonic: str or dict
        ToolBox mnemonic or dict with source and key as in {'source':
        'SCS_UTC1_ADQ/ADC/1:network', 'key': 'digitizers.channel_1_A.raw.samples'}
    useRaw: bool
        If True, extract peaks from raw traces. If False, uses the APD (or
        peaks) data from the digitizer.
    autoFind: bool
        If True, finds integration parameters by inspecting the average raw
        trace. Only valid if useRaw is True.
    integParams: dict
        integration parameters for raw traces: 'pulseStart', 'pulseStop',
        'baseStart', 'baseStop', 'period', 'npulses' (sample indices of the
        first pulse; stops exclusive). Not used if autoFind is True. All keys
        are required when the bunch pattern is missing. Optional 'polarity'
        (-1 for negative-going pulses; default: -1 for ADQ412, +1 for FastADC).
    bunchPattern: str
        match the peaks to the bunch pattern: 'sase1', 'sase3', 'scs_ppl', or
        None. This dictates the name of the pulse ID coordinates: 'sa1_pId',
        'sa3_pId' or 'ol_pId'.
    bpt: xarray DataArray
        bunch pattern table
    extra_dim: str
        Name given to the dimension along the peaks. If None, the name is
        given according to the bunchPattern.
    indices: array, slice
        indices from the peak-integrated data to retrieve. Only required when
        bunch pattern is missing and useRaw is False.
    keepAllSase: bool
        keep trains without pulses at bunchPattern (all NaN).

    Returns
    -------
    xarray.DataArray containing digitizer peaks with pulse coordinates
    """
    run, mem = split_source(run)
    if isinstance(data, str):
        mnemonic = data if mnemonic is None else mnemonic
        data = None
    name, alt, kind = _resolve(run, mem, mnemonic)
    if mem is not None and data is None:
        done = processed_in_memory(mem, name)
        if done is not None:  # integrated already (a stream's dataset(), as load gives it)
            return done
        if name not in mem.data and _counterpart(name, useRaw) in mem.data:
            name, alt, kind = _resolve(run, mem, _counterpart(name, useRaw))
            useRaw = _is_raw(alt)
        if name not in mem.data:
            raise ToolBoxValueError(
                f"{name!r} is not in the data in memory, which holds "
                f"{', '.join(map(str, mem.data.data_vars))}; add it to the stream's fields"
            )
        data = mem.data[name]
    if _is_raw(alt) != bool(useRaw) and data is None:
        name, alt, kind = _resolve_digitizer(run, _counterpart(name, useRaw))
    sps = SAMPLES_PER_SLOT[kind]
    if mem is not None and bpt is None:
        bpt = bp.load_bpt(None, mem.data)
    pids = _pattern(run, bunchPattern, bpt, None)
    if (
        bunchPattern not in (None, "None")
        and pids is None
        and indices is None
        and (not useRaw or (autoFind is False and integParams is None))
    ):
        raise ToolBoxValueError(
            f"{name}: the run has no bunch pattern (table or decoder) to align the peaks on; "
            "pass `indices` (peak indices to keep) or bunchPattern=None with full integParams"
        )
    out_name = peaks_name(name)
    if useRaw:
        polarity = DEFAULT_POLARITY[kind]
        cache = mem.cache if mem is not None else None
        if autoFind and cache is not None and ("integ", name) in cache:
            params, polarity = cache["integ", name]  # windows found once for the stream
        elif autoFind:
            avg = (
                data.mean("trainId")
                if data is not None
                else get_dig_avg_trace(run, alt, ntrains=200)
            )
            params, polarity = find_integ_params(avg.values, sps)
            if cache is not None:
                cache["integ", name] = (params, polarity)
        else:
            if integParams is None:
                raise ToolBoxValueError(
                    f"autoFind=False needs integParams, a dict with {list(PARAM_KEYS)}"
                )
            need = PARAM_KEYS if pids is None else PARAM_KEYS[:4]
            params = _check_params(integParams, need)
            polarity = params.pop("polarity", polarity)
        if pids is not None and len(pids.pids):
            offsets = (pids.pids - pids.pids[0]) * sps
        else:
            offsets = np.arange(int(params["npulses"])) * int(params["period"])
        if cache is not None:
            tids, values = _cached_raw_peaks(cache, name, data, params, offsets, polarity)
        else:
            tids, values = _raw_peaks(run, alt, data, params, offsets, polarity)
    else:
        if data is None:
            data = read_loose(run, alt, name=name)
        tids = np.asarray(data["trainId"].values)
        values = np.asarray(data.values, float)
        params = (
            _check_params(integParams, ("period",))
            if integParams
            else (_onboard_settings(run, alt) if run is not None else None)
        )
        if pids is not None and len(pids.pids):
            period = (
                int(params["period"])
                if params
                else sps * int(np.min(np.diff(pids.pids)) if len(pids.pids) > 1 else 1)
            )
            rel = (pids.pids - pids.pids[0]) * sps
            if np.any(rel % period):
                warnings.warn(
                    f"{name}: the on-board integration period ({period} samples) "
                    "does not match the bunch pattern; pulses between windows are "
                    "NaN",
                    stacklevel=2,
                )
            cols = rel // period
            nwin = int(params["npulses"]) if params and "npulses" in params else values.shape[1]
            good = (rel % period == 0) & (cols < min(nwin, values.shape[1]))
            values = np.where(good[None], values[:, np.clip(cols, 0, values.shape[1] - 1)], np.nan)
        else:
            sel = np.arange(values.shape[1])[indices if indices is not None else slice(None)]
            values = values[:, sel]
            offsets = sel
    if pids is not None and len(pids.pids):
        da = bp.align_slots(
            values, tids, pids, out_name, np.arange(len(pids.pids)), keep_empty=keepAllSase
        )
        if extra_dim:
            da = da.rename({pids.dim: extra_dim})
    else:
        dim = extra_dim or (
            bp.pulse_dim(bunchPattern) if bunchPattern not in (None, "None") else "pulseId"
        )
        coord = np.arange(values.shape[1]) if useRaw else offsets
        da = xr.DataArray(
            values, dims=("trainId", dim), coords={"trainId": tids, dim: coord}, name=out_name
        )
    da.attrs.update({k: int(v) for k, v in (params or {}).items() if k in PARAM_KEYS})
    da.attrs["digitizer"] = kind
    da.attrs["source"] = "raw traces" if useRaw else "on-board integration"
    return da


# -- plots and checks --------------------------------------------------------
def check_peak_params(
    run,
    mnemonic,
    raw_trace=None,
    ntrains=200,
    params=None,
    plot=True,
    show_all=False,
    bunchPattern="sase3",
):
    """Checks and plots the peak parameters (pulse window and baseline window
    of a raw digitizer trace) used to compute the peak integration. These
    parameters are either set by the digitizer peak-integration settings
    (mnemonic of on-board peaks such as 'MCP2apd'), or determined by the peak
    finding algorithm (raw mnemonic such as 'MCP2raw'), or given in params.

    Parameters
    ----------
    run: extra_data.DataCollection
    mnemonic: str
        ToolBox mnemonic of the digitizer data, e.g. 'MCP2apd'.
    raw_trace: optional, 1D numpy array or xarray DataArray
        Raw trace to display. If None, the average raw trace over ntrains of
        the corresponding channel is loaded.
    ntrains: optional, int
        Number of trains for the average raw trace.
    params: dict
        integration parameters to inspect instead.
    plot: bool
        If True, displays the raw trace and peak integration regions.
    show_all: bool
        If True, displays the entire raw trace and all integration regions;
        else the first and last pulse according to the bunchPattern.
    bunchPattern: optional, str
        Checks the bunch pattern against the digitizer peak parameters and
        shows potential mismatch.

    Returns
    -------
    dict of peak integration parameters
    """
    name, alt, kind = _resolve_digitizer(run, mnemonic)
    sps = SAMPLES_PER_SLOT[kind]
    trace = None
    if raw_trace is not None:
        trace = np.asarray(raw_trace, float)
    elif plot or (params is None and _is_raw(alt)):
        try:
            trace = get_dig_avg_trace(run, name, ntrains).values
        except ToolBoxValueError:
            trace = None
    if params is None:
        if _is_raw(alt):
            params, _ = find_integ_params(trace, sps)
            origin = "found in the average trace"
        else:
            params = _onboard_settings(run, alt)
            origin = "digitizer settings"
            if params is None:
                raise ToolBoxValueError(
                    f"{name}: no on-board integration settings in the "
                    "run; pass params or a raw mnemonic"
                )
    else:
        params = _check_params(params)
        origin = "given"
    pids = _pattern(run, bunchPattern, None, None)
    msg = [f"{name} integration parameters ({origin}): {params}"]
    if pids is not None and len(pids.pids):
        n_bp = len(pids.pids)
        period_bp = int(np.min(np.diff(pids.pids)) * sps) if n_bp > 1 else params["period"]
        if n_bp > 1 and period_bp != params["period"]:
            msg.append(
                f"mismatch: the {bunchPattern} pattern has a period of {period_bp} "
                f"samples, the parameters {params['period']}"
            )
        if params["npulses"] != n_bp:
            msg.append(
                f"mismatch: the {bunchPattern} pattern has {n_bp} pulses, the "
                f"parameters {params['npulses']}"
            )
        offsets = (pids.pids - pids.pids[0]) * sps
    else:
        offsets = np.arange(params["npulses"]) * params["period"]
    print("\n".join(msg))
    if plot and trace is not None:
        import matplotlib.pyplot as plt

        views = (
            [(0, len(trace))]
            if show_all or len(offsets) < 2
            else [
                (
                    max(0, offsets[i] + params["baseStart"] - params["period"] // 4),
                    min(len(trace), offsets[i] + params["pulseStop"] + params["period"] // 4),
                )
                for i in (0, -1)
            ]
        )
        fig, axes = plt.subplots(1, len(views), figsize=(4.5 * len(views), 3.2), squeeze=False)
        for ax, (lo, hi), title in zip(axes[0], views, ("first pulse", "last pulse")):
            x = np.arange(lo, hi)
            ax.plot(x, trace[lo:hi], color="k", lw=0.8)
            for o in offsets:
                if o + params["pulseStop"] < lo or o + params["baseStart"] > hi:
                    continue
                ax.axvspan(
                    o + params["pulseStart"], o + params["pulseStop"], color="C0", alpha=0.3
                )
                ax.axvspan(o + params["baseStart"], o + params["baseStop"], color="C1", alpha=0.3)
            ax.set_xlabel("sample")
            ax.set_title(f"{name}: " + (title if len(views) > 1 else "all pulses"))
        axes[0][0].set_ylabel("ADC counts (average)")
        from matplotlib.patches import Patch

        axes[0][-1].legend(
            [Patch(color="C0", alpha=0.3), Patch(color="C1", alpha=0.3)],
            ["pulse window", "baseline window"],
            fontsize="small",
        )
    return params


# -- dataset-level API -------------------------------------------------------
def _bp_for(bunchPattern, name):
    if isinstance(bunchPattern, dict):
        for key in (name, peaks_name(name), re.sub(r"(raw|apd|peaks)$", "", name)):
            if key in bunchPattern:
                return bunchPattern[key]
        return "sase3"
    return bunchPattern


def get_digitizer_peaks(
    run, mnemonic, merge_with=None, bunchPattern="sase3", integParams=None, keepAllSase=False
):
    """Automatically computes digitizer peaks. A source can be loaded on the
    fly via the mnemonic argument, or processed from an existing data set
    (merge_with). The bunch pattern table is used to assign the pulse id
    coordinates.

    Parameters
    ----------
    run: extra_data.DataCollection
    mnemonic: str or list of str
        mnemonic for FastADC or ADQ412, e.g. "FastADC5raw" or "MCP3apd". The
        data is either loaded from the DataCollection or taken from merge_with.
    merge_with: xarray Dataset
        If provided, the resulting Dataset will be merged with this one.
    bunchPattern: str or dict
        'sase1' or 'sase3' or 'scs_ppl', 'None', or {mnemonic: pattern}.
    integParams: dict
        raw trace integration parameters (see get_peaks). If None, computed
        automatically.
    keepAllSase: bool
        Only relevant in case of sase-dedicated trains. If True, all trains
        are kept, else only those with pulses of the bunchPattern.

    Returns
    -------
    xarray Dataset with digitizer peak variables. Raw variables are
    substituted by the peak calculated values (e.g. "FastADC2raw" becomes
    "FastADC2peaks").
    """
    run, mem = split_source(run)
    names = [mnemonic] if isinstance(mnemonic, (str, dict)) else list(mnemonic or [])
    out = {}
    drop = []
    bpt = None
    bpt_loaded = False  # the table is read once, for the first channel that needs it
    for m in names:
        if mem is not None:
            name, alt = in_memory_alt(mem, m)
        else:
            name = m if isinstance(m, str) else lookup(run, m)[0]
        data = (
            merge_with[name]
            if merge_with is not None and isinstance(m, str) and name in merge_with
            else None
        )
        if mem is None:
            _, alt, _ = (
                _resolve_digitizer(run, m)
                if data is None or run is not None
                else (name, None, None)
            )
        raw = _is_raw(alt) if alt is not None else name.endswith("raw")
        pattern = _bp_for(bunchPattern, name)
        if pattern not in (None, "None") and not bpt_loaded:
            bpt, bpt_loaded = bp.load_bpt(run, merge_with), True
            if bpt is None and mem is not None:
                bpt = bp.load_bpt(None, mem.data)
        da = get_peaks(
            mem if mem is not None else run,
            data,
            m,
            useRaw=raw,
            autoFind=integParams is None,
            integParams=integParams,
            bunchPattern=pattern,
            bpt=bpt if pattern not in (None, "None") else None,
            keepAllSase=keepAllSase,
        )
        out[da.name] = da
        if data is not None:
            drop.append(name)
    ds = xr.Dataset(out) if len(out) == 1 else _merge_peaks(out)
    return merge_on_trains(merge_with, ds, drop=drop)


def _merge_peaks(arrays):
    return xr.merge(list(arrays.values()), join="outer")


def get_tim_peaks(
    run, mnemonic=None, merge_with=None, bunchPattern="sase3", integParams=None, keepAllSase=False
):
    """Automatically computes TIM peaks. Sources can be loaded on the fly via
    the mnemonics argument, or processed from an existing data set
    (merge_with). The bunch pattern table is used to assign the pulse id
    coordinates.

    Parameters
    ----------
    run: extra_data.DataCollection
    mnemonic: str or list of str
        mnemonics for TIM, e.g. "MCP2apd" or "MCP2raw". If None, the TIM
        variables of merge_with, else "MCP2apd".
    merge_with: xarray Dataset
        the TIM variables of merge_with (if any) are also computed and merged.
    bunchPattern: str
        'sase1' or 'sase3' or 'scs_ppl'; pulse dim 'sa1_pId', 'sa3_pId', 'ol_pId'.
    integParams: dict
        raw trace integration parameters; if None, found automatically.
    keepAllSase: bool
        If True, all trains are kept, else only those with pulses of the
        bunchPattern.

    Returns
    -------
    xarray Dataset with TIM variables substituted by the peak calculated
    values (e.g. "MCP2raw" becomes "MCP2peaks"), merged with merge_with.
    """
    run, mem = split_source(run)
    names = [mnemonic] if isinstance(mnemonic, str) else list(mnemonic or [])
    names += _digitizer_vars(merge_with, "ADQ412")
    if not names and mem is not None:
        names = _digitizer_vars(mem.data, "ADQ412")
    if not names:
        names = ["MCP2apd"]
    return get_digitizer_peaks(
        mem if mem is not None else run,
        list(dict.fromkeys(names)),
        merge_with,
        bunchPattern,
        integParams,
        keepAllSase,
    )


def get_laser_peaks(run, mnemonic=None, merge_with=None, bunchPattern="scs_ppl", integParams=None):
    """Extracts laser photodiode signal (peak intensity) from Fast ADC
    digitizer. Sources can be loaded on the fly via the mnemonics argument,
    and/or processed from an existing data set (merge_with). The PP laser
    bunch pattern is used to assign the pulse id coordinates.

    Parameters
    ----------
    run: extra_data.DataCollection
    mnemonic: str
        mnemonic for FastADC corresponding to laser signal, e.g.
        "FastADC5peaks" or "FastADC5raw". If None, the FastADC variables of
        merge_with, else the FastADC channel whose signal description names
        the PP laser.
    merge_with: xarray Dataset
    bunchPattern: str
        'sase1' or 'sase3' or 'scs_ppl'.
    integParams: dict
        raw trace integration parameters; if None, found automatically.

    Returns
    -------
    xarray Dataset with the Fast ADC variables substituted by the peak
    calculated values (e.g. "FastADC5raw" becomes "FastADC5peaks").
    """
    run, mem = split_source(run)
    names = [mnemonic] if isinstance(mnemonic, str) else list(mnemonic or [])
    names += _digitizer_vars(merge_with, "FastADC")
    if not names and mem is not None:
        names = _digitizer_vars(mem.data, "FastADC")
    if not names:
        desc = digitizer_signal_description(run)
        mn = None
        for dig, chans in desc.items():
            for ch, text in chans.items():
                if dig.startswith("FastADC") and "laser" in str(text).lower():
                    mn = present_in(run) if mn is None else mn
                    names.append(f"{ch}raw" if f"{ch}raw" in mn else f"{ch}peaks")
        if not names:
            raise ToolBoxValueError(
                "no FastADC channel is described as a laser photodiode in this run; pass "
                f"mnemonic=, one of {', '.join(_digitizer_mnemonics(run)) or 'none'}"
            )
    return get_digitizer_peaks(
        mem if mem is not None else run,
        list(dict.fromkeys(names)),
        merge_with,
        bunchPattern,
        integParams,
        keepAllSase=True,
    )
