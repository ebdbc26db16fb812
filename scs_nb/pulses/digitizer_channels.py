"""Digitizer channels: which digitizer (ADQ412 or FastADC) a mnemonic is, its
raw traces, its on-board integration settings and the channels' descriptions.

* ``digitizer_kind``, ``peaks_name``: what a mnemonic is and the name of its peaks;
* ``get_dig_avg_trace``: the average raw trace, read in bounded-memory chunks;
* the on-board settings (run values of the device): the windows the digitizer
  integrates itself, the seed of ``get_peaks``;
* ``digitizer_signal_description``: the channels' description strings.

``digitizers`` builds the peaks on these; it also offers the ToolBox names
defined here.
"""

from __future__ import annotations

import re

import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError
from ..facility import ADQ412_SAMPLES_PER_SLOT, FASTADC_SAMPLES_PER_SLOT, sources
from ..mnemonics import alternatives, kind_of, mnemonics, present_in
from ..reader import lookup, run_value, run_values

__all__ = [
    "SAMPLES_PER_SLOT",
    "DEFAULT_POLARITY",
    "DIGITIZER_DEVICES",
    "digitizer_kind",
    "peaks_name",
    "get_dig_avg_trace",
    "digitizer_signal_description",
]

SAMPLES_PER_SLOT = {"ADQ412": ADQ412_SAMPLES_PER_SLOT, "FastADC": FASTADC_SAMPLES_PER_SLOT}
DEFAULT_POLARITY = {"ADQ412": -1, "FastADC": 1}
DIGITIZER_DEVICES = sources.DIGITIZERS
_ADQ_LETTER_TO_MCP = {letter: n for n, letter in sources.MCP_ADQ_LETTER.items()}
_CHUNK_BYTES = 256 * 2**20


# -- what a mnemonic is ------------------------------------------------------
def digitizer_kind(alt) -> str:
    """'ADQ412' or 'FastADC': the table's ``digitizer`` of the mnemonic; for a
    custom dict, from its key (``*.raw.samples`` / ``.apd.``: ADQ412).

    Parameters
    ----------
    alt : dict
        A mnemonic's entry (``source``, ``key``, optionally ``digitizer``).

    Returns
    -------
    str
        'ADQ412' or 'FastADC'.

    Raises
    ------
    ToolBoxValueError
        The entry is not a digitizer channel.
    """
    if alt.get("digitizer"):
        return alt["digitizer"]
    src = alt["source"]
    if "ADQ" in src or ".raw.samples" in alt["key"] or ".apd." in alt["key"]:
        return "ADQ412"
    if "rawData" in alt["key"] or "data.peaks" in alt["key"] or "ADC" in src:
        return "FastADC"
    raise ToolBoxValueError(
        f"{alt['source']} {alt['key']} is not a digitizer channel (ADQ412 or FastADC)"
    )


def _is_raw(alt) -> bool:
    return alt["key"].endswith("raw.samples") or alt["key"].endswith("rawData")


def peaks_name(name: str) -> str:
    """'MCP2raw', 'MCP2apd' -> 'MCP2peaks'; 'FastADC5raw' -> 'FastADC5peaks'.

    Parameters
    ----------
    name : str
        A digitizer mnemonic.

    Returns
    -------
    str
        The name of its peaks variable.
    """
    return re.sub(r"(raw|apd|peaks)$", "", name) + "peaks"


def _counterpart(name, raw):
    base = re.sub(r"(raw|apd|peaks)$", "", name)
    if raw:
        return base + "raw"
    return base + ("apd" if base + "apd" in mnemonics else "peaks")


def _resolve_digitizer(run, mnemonic):
    try:
        name, alt = lookup(run, mnemonic)
    except ToolBoxValueError as err:
        raise ToolBoxValueError(
            f"digitizer channel {mnemonic!r} is not available: {err} Channels in this run: "
            f"{', '.join(_digitizer_mnemonics(run)) or 'none'}"
        ) from None
    try:
        kind = digitizer_kind(alt)
    except ToolBoxValueError:
        raise ToolBoxValueError(
            f"{name!r} is not a pulse-resolved digitizer channel; pass one of "
            f"{', '.join(_digitizer_mnemonics(run)) or 'MCP1apd..MCP4apd, FastADC0peaks..'}"
        ) from None
    return name, alt, kind


def _digitizer_mnemonics(run):
    return sorted(
        m
        for m, alt in present_in(run).items()
        if kind_of(alt) in ("digitizer_raw", "digitizer_peaks")
    )


# -- traces ------------------------------------------------------------------
def _iter_raw(run, alt, trains_bytes=_CHUNK_BYTES, kd=None):
    """(train ids, traces) chunks of a raw channel, bounded memory."""
    kd = run[alt["source"], alt["key"]] if kd is None else kd
    per_train = max(1, int(np.prod(kd.entry_shape)) * kd.dtype.itemsize)
    n = max(1, trains_bytes // per_train)
    for part in kd.split_trains(trains_per_part=n):
        yield np.asarray(part.train_id_coordinates()), part.ndarray()


def get_dig_avg_trace(run, mnemonic, ntrains=None):
    """Compute the average over ntrains evenly spaced across all trains of a
    digitizer trace.

    Parameters
    ----------
    run: extra_data.DataCollection
    mnemonic: str
        ToolBox mnemonic of the digitizer data, e.g. 'MCP2apd' (its raw trace
        'MCP2raw' is averaged).
    ntrains: int
        Number of trains used to calculate the average raw trace. If None,
        all trains are used.

    Returns
    -------
    trace: DataArray, the average digitizer trace
    """
    name, alt, kind = _resolve_digitizer(run, mnemonic)
    if not _is_raw(alt):
        name, alt, kind = _resolve_digitizer(run, _counterpart(name, True))
    kd = run[alt["source"], alt["key"]]
    dim = (alt.get("dim") or ["samplesId"])[0]
    total = None
    count = 0
    if ntrains is not None and ntrains < len(kd.train_ids):
        from extra_data import by_index

        idx = np.unique(np.linspace(0, len(kd.train_ids) - 1, int(max(ntrains, 1))).astype(int))
        kd = kd.select_trains(by_index[idx])
    for _, arr in _iter_raw(run, alt, kd=kd):
        s = arr.sum(0, dtype=np.float64)
        total = s if total is None else total + s
        count += len(arr)
    if not count:
        raise ToolBoxValueError(f"{name}: no trains with data")
    return xr.DataArray(
        total / count, dims=(dim,), name=name, attrs={"ntrains": count, "digitizer": kind}
    )


# -- finding the windows -----------------------------------------------------
def _onboard_settings(run, alt):
    """The digitizer's own integration settings (run values), seed keys."""
    dev, chan = alt["source"].split(":")
    if digitizer_kind(alt) == "ADQ412":
        m = re.search(r"channel_(\d)_([A-D])", alt["key"])
        prefix = f"board1.apd.channel_{m.group(1)}_{m.group(2)}" if m else None
    else:
        m = re.search(r"(channel_\d+)", chan)
        prefix = m.group(1) if m else None
    if prefix is None or dev not in run.control_sources:
        return None
    try:
        v = {
            k: int(run_value(run, dev, f"{prefix}.{k}"))
            for k in (
                "initialDelay",
                "peakSamples",
                "baseStart",
                "baseStop",
                "pulsePeriod",
                "numPulses",
            )
        }
    except Exception:
        return None
    return {
        "pulseStart": v["initialDelay"],
        "pulseStop": v["initialDelay"] + v["peakSamples"],
        "baseStart": v["baseStart"],
        "baseStop": v["baseStop"],
        "period": v["pulsePeriod"],
        "npulses": v["numPulses"],
    }


def _digitizer_vars(ds, digitizer):
    """Raw or on-board digitizer variables of ``ds`` (by the table) of one
    digitizer model ('ADQ412' for the MCPs, 'FastADC' for the photodiodes)."""
    if ds is None:
        return []

    def of_model(v):
        if v not in mnemonics:
            return False
        alt = alternatives(v)[0]
        return (
            kind_of(alt) in ("digitizer_raw", "digitizer_peaks")
            and digitizer_kind(alt) == digitizer
        )

    return [
        v
        for v in ds.data_vars
        if of_model(v)
        and any(d in ds[v].dims for d in ("samplesId", "fadc_samplesId", "apdId", "peakId"))
    ]


def digitizer_signal_description(run, digitizer=None):
    """Check for the existence of signal description and return all
    corresponding channels in a dictionary.

    Parameters
    ----------
    run: extra_data.DataCollection
    digitizer: str or list of str (default=None)
        Name of the digitizer: one in ['FastADC', 'FastADC2', 'ADQ412',
        'ADQ412_2']. If None, all digitizers are used.

    Returns
    -------
    dict: {digitizer: {channel: description}}, channels named as their
    mnemonics without suffix ('FastADC5', 'FastADC2_3', 'MCP2').
    """
    if digitizer is None or digitizer == "all":
        digitizer = list(DIGITIZER_DEVICES)
    if isinstance(digitizer, str):
        digitizer = [digitizer]
    bad = [d for d in digitizer if d not in DIGITIZER_DEVICES]
    if bad:
        raise ToolBoxValueError(
            f"unknown digitizer(s) {bad}; pass one of {list(DIGITIZER_DEVICES)}"
        )
    out = {}
    for dig in digitizer:
        dev = DIGITIZER_DEVICES[dig]
        if dev not in run.control_sources:
            continue
        chans = {}
        for key, text in run_values(run, dev).items():
            if not key.endswith("description.value"):
                continue
            k = key[: -len(".value")]
            text = text.decode() if isinstance(text, bytes) else str(text)
            if not text:
                continue
            m = re.search(r"channel_(\d)_([A-D])", k)
            if m and dig.startswith("ADQ"):
                ch = (
                    f"MCP{_ADQ_LETTER_TO_MCP[m.group(2)]}"
                    if dig == "ADQ412"
                    else f"ADQ412_2_{m.group(1)}{m.group(2)}"
                )
            else:
                n = re.search(r"channel_(\d+)", k)
                if not n:
                    continue
                ch = f"FastADC{n.group(1)}" if dig == "FastADC" else f"FastADC2_{n.group(1)}"
            chans[ch] = text
        if chans:
            out[dig] = chans
    return out
