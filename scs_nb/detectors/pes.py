"""Photo-electron spectrometer (``toolbox_scs.detectors.pes``).

Time-of-flight spectra are cut from the raw ADQ412 traces of the PES
digitizer (``PES_1Araw`` ... ``PES_4Draw``), one spectrum per SASE3 pulse,
aligned by pulse id with the bunch pattern (``scs_nb.pulses.bunch_pattern``).
Traces are read in bounded chunks of trains and cut by a numba kernel. The
spectrometer settings (gas, retardation voltages of the MPOD) are run values.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..atomic import replacing
from ..errors import ToolBoxPathError, ToolBoxValueError
from ..facility import (
    ADQ412_SAMPLES_PER_SLOT,
    PES_BINDING_EV,
    SLOT_RATE_HZ,
    find_proposal,
    proposal_subdir,
    validate_proposal,
    validate_run,
)
from ..facility import sources as S
from ..load import open_run
from ..mnemonics import kind_of, mnemonics, present_in
from ..pulses import bunch_pattern as bp
from ..pulses.merge import merge_on_trains
from ..reader import lookup, run_values

__all__ = [
    "get_pes_tof",
    "get_pes_params",
    "save_pes_avg_traces",
    "load_pes_avg_traces",
    "find_pes_peaks",
]

_CHUNK_BYTES = 64 * 2**20


# -- channels -----------------------------------------------------------------
def _channel_of(name):
    """'PES_2Araw', '2A', '2a' -> '2A' (or None)."""
    s = str(name).upper()
    if s.startswith("PES_"):
        s = s[4:]
    if s.endswith("RAW"):
        s = s[:-3]
    return s if s in S.PES_RV_KEY else None


def _mnemonic_of(channel):
    ch = _channel_of(channel)
    if ch is None:
        raise ToolBoxValueError(
            f"unknown PES channel {channel!r}; pass a channel '1A'...'4D' or a mnemonic "
            f"'PES_1Araw'...'PES_4Draw'"
        )
    return f"PES_{ch}raw"


def _resolve(run, mnemonic):
    name, alt = lookup(run, mnemonic)
    if kind_of(alt) != "pes_raw":
        pes = sorted(m for m in mnemonics if kind_of(mnemonics[m][0]) == "pes_raw")
        raise ToolBoxValueError(
            f"{name!r} is not a PES channel (kind {kind_of(alt)!r}); pass one of {', '.join(pes)}"
        )
    return name, alt


def _samples_per_slot(run, alt):
    """440 samples per 4.5 MHz slot, doubled when the board is interleaved
    (RUN value ``board<N>.interleavedMode`` of the digitizer)."""
    dev = alt["source"].split(":")[0]
    board = alt["key"].split(".")[1].split("_")[1]  # digitizers.channel_<b>_<L>...
    sps = ADQ412_SAMPLES_PER_SLOT
    try:
        if dev in run.control_sources:
            rv = run_values(run, dev)
            key = f"board{board}.interleavedMode"
            if rv.get(key, rv.get(key + ".value", False)):
                sps *= 2
    except Exception:  # pragma: no cover - no RUN section
        pass
    return sps


# -- the kernel -----------------------------------------------------------------
_KERNEL = None


def _cut(traces, offsets, mask, width, bstart, bwidth, subtract, out):
    """out[t, k, :] = traces[t, offsets[k]:offsets[k] + width] (minus the mean
    of traces[t, offsets[k] + bstart : ... + bwidth]), NaN where mask is False."""
    for t in range(traces.shape[0]):
        for k in range(offsets.shape[0]):
            if not mask[t, k]:
                for i in range(width):
                    out[t, k, i] = np.nan
                continue
            o = offsets[k]
            b = 0.0
            if subtract:
                for i in range(bstart + o, bstart + o + bwidth):
                    b += traces[t, i]
                b /= bwidth
            for i in range(width):
                out[t, k, i] = traces[t, o + i] - b


def _kernel():
    global _KERNEL
    if _KERNEL is None:
        import numba  # heavy (LLVM): loaded on the first spectra only

        _KERNEL = numba.njit(cache=True, nogil=True)(_cut)
    return _KERNEL


# -- ToolBox API ------------------------------------------------------------------
def get_pes_tof(
    proposal,
    runNB,
    mnemonic,
    start=0,
    origin=None,
    width=None,
    subtract_baseline=False,
    baseStart=None,
    baseWidth=40,
    merge_with=None,
):
    """Extracts time-of-flight spectra from raw digitizer traces. The spectra
    are aligned by pulse Id using the SASE 3 bunch pattern. If origin is not
    None, a time coordinate in nanoseconds 'time_ns' is computed and added to
    the DataArray.

    Parameters
    ----------
    proposal : int
        The proposal number (or an extra_data DataCollection, then runNB is
        ignored).
    runNB : int
        The run number.
    mnemonic : str
        mnemonic for PES, e.g. "PES_2Araw".
    start : int
        starting sample of the first spectrum in the raw trace.
    origin : int
        sample of the trace that corresponds to time-of-flight origin, also
        called prompt, counted from the start of each spectrum. Used to
        compute the 'time_ns' coordinates. If None, computation of 'time_ns'
        is skipped.
    width : int
        number of samples per spectra. If None, the number of samples for
        4.5 MHz repetition rate is used.
    subtract_baseline : bool
        If True, subtract baseline defined by baseStart and baseWidth to each
        spectrum.
    baseStart : int
        starting sample of the baseline, counted like ``start`` (for the
        first pulse; shifted with each pulse like the spectra). Default:
        ``start``.
    baseWidth : int
        number of samples to average (starting from baseStart) for baseline
        calculation.
    merge_with : xarray.Dataset
        If provided, the resulting Dataset will be merged with this one.

    Returns
    -------
    pes : xarray.DataArray
        DataArray containing the PES time-of-flight spectra, named
        ``<mnemonic without 'raw'>tof`` (e.g. 'PES_2Atof'), dims
        (trainId, sa3_pId, sampleId); or merge_with with it merged.
    """
    run = proposal if hasattr(proposal, "all_sources") else open_run(proposal, runNB)
    name, alt = _resolve(run, mnemonic)
    kd = run[alt["source"], alt["key"]]
    sps = _samples_per_slot(run, alt)
    width = int(sps if width is None else width)
    start, baseWidth = int(start), int(baseWidth)
    baseStart = start if baseStart is None else int(baseStart)
    if width <= 0 or start < 0 or baseWidth <= 0:
        raise ToolBoxValueError(
            f"start (>= 0), width and baseWidth (> 0) must be sensible, got "
            f"start={start}, width={width}, baseWidth={baseWidth}"
        )
    pids = bp.pulse_ids(run, "sase3", merge_with=merge_with)
    if not len(pids.pids):
        raise ToolBoxValueError(f"{name}: the run has no SASE3 pulses in its bunch pattern")
    offsets = (pids.pids - pids.pids[0]) * sps + start
    nsamples = int(kd.entry_shape[0])
    need = max(
        int(offsets[-1]) + width,
        int(offsets[-1]) + baseStart - start + baseWidth if subtract_baseline else 0,
    )
    if need > nsamples or (subtract_baseline and baseStart < 0):
        raise ToolBoxValueError(
            f"{name}: {len(offsets)} spectra of {width} samples from sample {start} (pulses "
            f"every {sps} samples x slot spacing) need {need} samples but the trace has "
            f"{nsamples}; pass a smaller start or width"
        )
    tid_index = {int(t): i for i, t in enumerate(pids.trainId)}
    kernel = _kernel()
    per_train = max(1, nsamples * kd.dtype.itemsize)
    tids, parts = [], []
    from tqdm.auto import tqdm  # loads ipywidgets in a notebook: only when cutting spectra

    chunks = list(kd.split_trains(trains_per_part=max(1, _CHUNK_BYTES // per_train)))
    for part in tqdm(chunks, desc=f"{name} spectra", disable=len(chunks) < 4):
        t = np.asarray(part.train_id_coordinates())
        keep = np.array([int(x) in tid_index for x in t], bool)
        if not keep.any():
            continue
        arr = part.ndarray()[keep]
        t = t[keep]
        mask = pids.mask[[tid_index[int(x)] for x in t]]
        out = np.empty((len(t), len(offsets), width), np.float32)
        kernel(
            np.ascontiguousarray(arr),
            offsets.astype(np.int64),
            mask,
            width,
            baseStart - start,
            baseWidth,
            bool(subtract_baseline),
            out,
        )
        tids.append(t)
        parts.append(out)
    if not parts:
        raise ToolBoxValueError(f"{name}: no train has both a trace and a bunch pattern")
    coords = {"trainId": np.concatenate(tids), pids.dim: pids.pids, "sampleId": np.arange(width)}
    if origin is not None:
        rate_ghz = sps * SLOT_RATE_HZ / 1e9
        coords["time_ns"] = ("sampleId", (np.arange(width) - float(origin)) / rate_ghz)
    tof = name[:-3] + "tof" if name.endswith("raw") else name + "_tof"
    da = xr.DataArray(
        np.concatenate(parts),
        dims=("trainId", pids.dim, "sampleId"),
        coords=coords,
        name=tof,
        attrs={
            "source": alt["source"],
            "key": alt["key"],
            "start": start,
            "width": width,
            "samples_per_slot": sps,
            "baseline_subtracted": int(bool(subtract_baseline)),
        },
    )
    if merge_with is not None:
        return merge_on_trains(merge_with, da, drop=[name])
    return da


def get_pes_params(run, channel=None):
    """Extract PES parameters for a given extra_data DataCollection.
    Parameters are gas, binding energy, retardation voltages or all voltages
    of the MPOD.

    Parameters
    ----------
    run : extra_data.DataCollection
        DataCollection containing the digitizer data
    channel : str
        Channel name or PES mnemonic, e.g. '2A' or 'PES_1Craw'. If None, or
        if the channel is not found in the data, the retardation voltage for
        all channels is retrieved.

    Returns
    -------
    params : dict
        'gas' (name of the gas whose valve is open, or None),
        'binding_energy' (eV, or None), 'ret_voltage' (V: a float for the
        channel, else a dict channel -> V) and 'mpod_voltages' (every MPOD
        ``channels.U<n>.voltage``, V).
    """
    params = {"gas": None, "binding_energy": None}
    mn = present_in(run)
    for gas in PES_BINDING_EV:
        if f"PES_{gas}" in mn:
            alt = mn[f"PES_{gas}"]
            vals = run[alt["source"], alt["key"]].ndarray()
            if len(vals) and bool(vals[0]):
                params.update(gas=gas, binding_energy=PES_BINDING_EV[gas])
                break
    volts = {}
    if S.PES_MPOD in run.control_sources:
        rv = run_values(run, S.PES_MPOD)
        for k, v in rv.items():
            if k.startswith("channels.U") and k.endswith(".voltage.value"):
                volts[k[: -len(".value")]] = float(v)
        if not volts:  # older files without RUN values: the first train's values
            src = run[S.PES_MPOD]
            for k in src.keys():
                if k.startswith("channels.U") and k.endswith(".voltage.value"):
                    volts[k[: -len(".value")]] = float(src[k].ndarray()[0])
    params["mpod_voltages"] = volts
    ch = _channel_of(channel) if channel is not None else None
    if ch is not None and S.PES_RV_KEY[ch] in volts:
        params["ret_voltage"] = volts[S.PES_RV_KEY[ch]]
    else:
        params["ret_voltage"] = {c: volts[k] for c, k in S.PES_RV_KEY.items() if k in volts}
    return params


def _channels(run, channels):
    if channels is None:
        found = [m for m, alt in present_in(run).items() if kind_of(alt) == "pes_raw"]
        if not found:
            raise ToolBoxValueError("this run has no PES channel (PES_1Araw ... PES_4Draw)")
        return sorted(found)
    if isinstance(channels, str):
        channels = [channels]
    return [_mnemonic_of(c) for c in channels]


def _pes_path(proposal, runNB, subdir):
    r = validate_run(runNB)
    folder = proposal_subdir(find_proposal(proposal), subdir)
    return folder / f"r{r:04d}" / f"r{r:04d}-pes-data.h5"


def save_pes_avg_traces(
    proposal, runNB, channels=None, subdir="usr/processed_runs", overwrite=False
):
    """Save average traces of PES into an h5 file.

    Parameters
    ----------
    proposal : int
        The proposal number.
    runNB : int
        The run number.
    channels : str or list
        The PES channels or mnemonics, e.g. '2A', ['2A', '3C'],
        ['PES_1Araw', 'PES_4Draw', '3B']. Default: all channels of the run.
    subdir : str
        subdirectory, relative to the proposal folder (not in ``raw/`` or ``proc/``, no
        ``..``). The data is stored in
        <proposal path>/<subdir>/r{runNB:04d}/r{runNB:04d}-pes-data.h5
    overwrite : bool
        replace an existing file (otherwise an existing file is an error).

    Returns
    -------
    path : str
        The file written (atomically: a temporary file renamed).
    """
    run = open_run(proposal, runNB)
    path = _pes_path(proposal, runNB, subdir)
    if path.exists() and not overwrite:
        raise ToolBoxPathError(f"{path} exists; pass overwrite=True to replace it")
    ds = xr.Dataset()
    for m in _channels(run, channels):
        name, alt = _resolve(run, m)
        kd = run[alt["source"], alt["key"]]
        total, count = None, 0
        per_train = max(1, int(kd.entry_shape[0]) * kd.dtype.itemsize)
        for part in kd.split_trains(trains_per_part=max(1, _CHUNK_BYTES // per_train)):
            a = part.ndarray()
            s = a.sum(0, dtype=np.float64)
            total = s if total is None else total + s
            count += len(a)
        if not count:
            raise ToolBoxValueError(f"{name}: no trains with data")
        ds[name] = xr.DataArray(
            (total / count).astype(np.float32),
            dims=("sampleId",),
            attrs={"ntrains": count, "source": alt["source"], "key": alt["key"]},
        )
    p = get_pes_params(run)
    ds.attrs.update(
        proposal=validate_proposal(proposal),
        runNB=validate_run(runNB),
        gas=str(p["gas"]),
        binding_energy=float(p["binding_energy"] or np.nan),
    )
    with replacing(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return str(path)


def load_pes_avg_traces(proposal, runNB, channels=None, subdir="usr/processed_runs"):
    """Load existing PES average traces.

    Parameters
    ----------
    proposal : int
        The proposal number.
    runNB : int
        The run number.
    channels : str or list
        The PES channels or mnemonics, e.g. '2A', ['2A', '3C'],
        ['PES_1Araw', 'PES_4Draw', '3B']. Default: all saved channels.
    subdir : str
        subdirectory. The data is stored in
        <proposal path>/<subdir>/r{runNB:04d}/r{runNB:04d}-pes-data.h5

    Returns
    -------
    ds : xarray.Dataset
        The average traces (ADC counts), one variable per channel.
    """
    path = _pes_path(proposal, runNB, subdir)
    if not path.is_file():
        raise ToolBoxPathError(
            f"no PES average traces at {path}; create them with "
            f"save_pes_avg_traces({proposal}, {runNB})"
        )
    with xr.open_dataset(path, engine="h5netcdf") as f:
        ds = f.load()
    if channels is not None:
        want = [_mnemonic_of(c) for c in ([channels] if isinstance(channels, str) else channels)]
        missing = [w for w in want if w not in ds]
        if missing:
            raise ToolBoxValueError(
                f"{', '.join(missing)} not saved in {path} (saved: "
                f"{', '.join(map(str, ds.data_vars))})"
            )
        ds = ds[want]
    return ds


def find_pes_peaks(spectrum, npeaks=3, window=12, min_separation=5.0):
    """The strongest peaks of a PES time-of-flight spectrum, fitted with Gaussians.

    Peaks are taken one after another at the maximum of what is left, each fitted
    with ``a exp(-(x - p)² / 2s²) + c`` on ``±window`` samples, and the region
    within ``min_separation`` widths (+3 samples) of it removed.

    Parameters
    ----------
    spectrum : xarray.DataArray or array-like
        One spectrum on ``sampleId`` (positive-going peaks: invert electron
        spectra first); a ``time_ns`` coordinate gives positions in ns too.
    npeaks : int
        How many peaks to look for.
    window : int
        Half width of the fit window (samples).
    min_separation : float
        Widths around a found peak excluded from the next search.

    Returns
    -------
    pandas.DataFrame
        One row per peak in order of position: ``position (sample)``, ``sigma
        (samples)``, ``amplitude``, and ``position (ns)``, ``sigma (ns)`` when the
        spectrum has ``time_ns``.
    """
    import pandas as pd  # pandas loads slowly; only this summary needs it
    from scipy.optimize import curve_fit  # scipy.optimize loads slowly

    def gauss(x, a, p, s, c):
        return a * np.exp(-0.5 * ((x - p) / s) ** 2) + c

    s = np.asarray(getattr(spectrum, "values", spectrum), float)
    x = np.arange(s.size, dtype=float)
    rest = s.copy()
    found = []
    for _ in range(int(npeaks)):
        k = int(np.nanargmax(rest))
        win = np.abs(x - k) < window
        try:
            popt, _ = curve_fit(gauss, x[win], s[win], p0=[s[k], k, 2, 0])
        except RuntimeError:  # no peak shape left
            break
        found.append(popt)
        rest[np.abs(x - popt[1]) < min_separation * abs(popt[2]) + 3] = -np.inf
    found.sort(key=lambda p: p[1])
    table = pd.DataFrame(
        {
            "position (sample)": [p[1] for p in found],
            "sigma (samples)": [abs(p[2]) for p in found],
            "amplitude": [p[0] for p in found],
        }
    )
    if hasattr(spectrum, "coords") and "time_ns" in spectrum.coords:
        t = np.asarray(spectrum["time_ns"].values, float)
        dt = float(np.mean(np.diff(t))) if t.size > 1 else 0.0
        table["position (ns)"] = np.interp(table["position (sample)"], x, t)
        table["sigma (ns)"] = table["sigma (samples)"] * abs(dt)
    return table
