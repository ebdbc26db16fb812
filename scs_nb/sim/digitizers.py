"""Digitizers: the ADQ412 (TIM / MCP channels) and the FastADC (photodiodes).

Physics and layout
------------------
* ADQ412 ``SCS_UTC1_ADQ/ADC/1:network``: 440 samples per 4.5 MHz slot. MCP
  pulses are negative-going on a baseline, with Gaussian electronic noise,
  quantised to int16. Channel letters: MCP1 -> D, MCP2 -> C, MCP3 -> B,
  MCP4 -> A. Keys ``digitizers.channel_1_X.raw.samples`` (raw trace) and
  ``digitizers.channel_1_X.apd.pulseIntegral`` (1000 on-board integrals).
* FastADC ``SCS_UTC1_MCP/ADC/1:channel_N.output``: 24 samples per slot, raw
  uint16 ``data.rawData`` with positive pulses, ``data.peaks`` (1000
  on-board integrals).
* One trigger per board: sample 0 of every channel of a board is
  ``LEAD[board]`` samples before the first slot of the board's pulses (the
  union over the run), so the trace covers only the pulses.
* Every pulse has a fixed asymmetric Gaussian shape whose samples sum to 1,
  scaled by its *integrated peak* A (ADC counts x samples). ``A`` is the
  ground truth: ``sum(baseline - trace)`` (ADQ412) or ``sum(trace - baseline)``
  (FastADC) over the pulse, without noise. It is proportional to the pulse
  energy (µJ, SASE3: the true XGM energies times a transmission; PPL: the
  laser pulse energy in relative units).
* On-board integration (apd / peaks): window k starts at
  ``initialDelay + k * pulsePeriod`` samples, ``numPulses`` windows starting at
  the board's first pulse; value = true integral of the pulse in that window
  (0 where no pulse) plus the noise that the window integration leaves.
  Its settings are CONTROL keys of ``SCS_UTC1_ADQ/ADC/1`` and
  ``SCS_UTC1_MCP/ADC/1`` (**inferred** names): ``<prefix>.initialDelay``,
  ``.peakSamples``, ``.baseStart``, ``.baseStop``, ``.pulsePeriod``,
  ``.numPulses``, and the RUN value ``<prefix>.description``, where prefix is
  ``board1.apd.channel_1_X`` (ADQ412) or ``channel_N`` (FastADC).

``truth['digitizers'][name]`` (name 'MCP2', 'FastADC5', ...) holds the source,
keys, bunch pattern, polarity, samples per slot and ``peaks`` (per train, one
integrated peak per pulse of the pattern, in pulse order).
"""

from __future__ import annotations

import zlib

import numpy as np

from ..facility import ADQ412_SAMPLES_PER_SLOT, FASTADC_SAMPLES_PER_SLOT, SLOT_RATE_HZ
from ..facility.sources import ADQ412 as ADQ
from ..facility.sources import FASTADC as FADC
from ..facility.sources import MCP_ADQ_LETTER as ADQ_CHANNELS
from .writer import ControlSource, InstrumentSource

SPS = {"ADQ412": ADQ412_SAMPLES_PER_SLOT, "FastADC": FASTADC_SAMPLES_PER_SLOT}
LEAD = {"ADQ412": 200, "FastADC": 10}  # samples before the first pulse's kernel
NOISE = {"ADQ412": 3.0, "FastADC": 4.0}  # electronic noise (counts rms)
BASELINE = {"ADQ412": 2000.0, "FastADC": 1000.0}
# pulse shape: (kernel length, centre index, rise sigma, fall sigma) in samples
SHAPE = {"ADQ412": (64, 16, 3.0, 6.0), "FastADC": (14, 4, 0.8, 1.6)}
NPEAKS = 1000
# on-board integration settings relative to the kernel start: pulse window
# [0, K) and a baseline window just before it
BASE_LEN = {"ADQ412": 100, "FastADC": 6}


def kernel(kind):
    """The pulse shape of a digitizer.

    Parameters
    ----------
    kind : {'ADQ412', 'FastADC'}
        The digitizer.

    Returns
    -------
    numpy.ndarray of float
        The shape in samples, summing to 1.
    """
    n, c, rise, fall = SHAPE[kind]
    t = np.arange(n) - c
    k = np.where(t < 0, np.exp(-0.5 * (t / rise) ** 2), np.exp(-0.5 * (t / fall) ** 2))
    return k / k.sum()


def _union(ids_per_train):
    nonempty = [np.asarray(x) for x in ids_per_train if len(x)]
    return np.unique(np.concatenate(nonempty)) if nonempty else np.zeros(0, np.int64)


def _amplitudes(ids_per_train, union, values):
    """(ntrains, len(union)) integrated peaks, 0 where a train has no pulse."""
    out = np.zeros((len(ids_per_train), len(union)))
    for i, (ids, v) in enumerate(zip(ids_per_train, values)):
        if len(ids):
            out[i, np.searchsorted(union, ids)] = v
    return out


class _Channel:
    def __init__(self, name, key_prefix, kind, loc, ids, amps, raw, polarity, description):
        self.name, self.prefix, self.kind, self.loc = name, key_prefix, kind, loc
        self.ids, self.amps, self.raw = ids, amps, raw
        self.polarity, self.description = polarity, description


def _board(run, kind, device, channels, board_slots, trains_per_chunk=32):
    """Write one board: an InstrumentSource per output channel (FastADC) or a
    single one (ADQ412), plus the CONTROL device with integration settings."""
    sps, lead = SPS[kind], LEAD[kind]
    k = kernel(kind)
    klen = len(k)
    s0 = int(board_slots[0]) if len(board_slots) else 0
    s1 = int(board_slots[-1]) if len(board_slots) else 0
    length = (s1 - s0) * sps + lead + max(sps, klen + 8)
    spacing = int(np.min(np.diff(board_slots))) if len(board_slots) > 1 else 1
    n = run.ntrains
    control = {}
    run_values = {}
    sources = {}
    for ch in channels:
        union = _union(ch.ids)
        ch.union = union
        ch.table = _amplitudes(ch.ids, union, ch.amps)  # (ntrains, nunion)
        # per-channel on-board integration settings: windows from the board's first slot
        cu = union if len(union) else np.array([s0])
        cspacing = int(np.min(np.diff(cu))) if len(cu) > 1 else spacing
        first = int(cu[0])
        nwin = int((cu[-1] - first) // cspacing + 1) if len(cu) else 0
        nwin = min(nwin, NPEAKS)
        start = (first - s0) * sps + lead
        ch.settings = {
            "initialDelay": start,
            "peakSamples": klen,
            "baseStart": start - BASE_LEN[kind] - 1,
            "baseStop": start - 1,
            "pulsePeriod": cspacing * sps,
            "numPulses": nwin,
        }
        for key, v in ch.settings.items():
            control[f"{ch.prefix}.{key}"] = np.full(n, v, np.int32)
        control[f"{ch.prefix}.enable"] = np.ones(n, bool)
        run_values[f"{ch.prefix}.description"] = ch.description
        # on-board integrals: windows k at first + k * cspacing slots
        win_slots = first + cspacing * np.arange(nwin)
        pos = np.searchsorted(union, win_slots)
        hit = (
            (pos < len(union)) & (union[np.minimum(pos, max(len(union) - 1, 0))] == win_slots)
            if len(union)
            else np.zeros(nwin, bool)
        )
        onboard = np.zeros((n, NPEAKS), np.float32)
        if nwin:
            vals = np.zeros((n, nwin))
            vals[:, hit] = ch.table[:, pos[hit]]
            sigma = NOISE[kind] * np.sqrt(klen + klen**2 / BASE_LEN[kind])
            vals += sigma * run.rng_for(f"{device} {ch.name} onboard").standard_normal(vals.shape)
            onboard[:, :nwin] = vals
        ch.onboard = onboard
    if kind == "ADQ412":
        # the board settings every real ADQ412 records (EXtra's AdqRawChannel reads them)
        control["board1.interleavedMode"] = np.zeros(n, bool)
        control["board1.sampleRate"] = np.full(n, sps * SLOT_RATE_HZ, np.float64)
        control["board1.enableRaw"] = np.ones(n, bool)
        for number in range(1, 5):
            control[f"board1.channel_{number}.offset"] = np.zeros(n, np.int32)
            control[f"board1.channel_{number}.enable"] = np.ones(n, bool)
    if kind == "ADQ412":
        groups = {"digitizers": {}}
        for ch in channels:
            if ch.raw:
                groups["digitizers"][f"{ch.key}.raw.samples"] = ((length,), np.int16)
            groups["digitizers"][f"{ch.key}.apd.pulseIntegral"] = ((NPEAKS,), np.float32)
        sources[device + ":network"] = (groups, channels)
    else:
        for ch in channels:
            keys = {"data.peaks": ((NPEAKS,), np.float32)}
            if ch.raw:
                keys["data.rawData"] = ((length,), np.uint16)
            sources[f"{device}:{ch.key}.output"] = ({"data": keys}, [ch])

    for name, (groups, chans) in sources.items():
        run.add(
            InstrumentSource(
                name,
                "AdqDigitizer" if kind == "ADQ412" else "FastAdc",
                groups,
                {g: np.ones(n, np.uint64) for g in groups},
                _make_fill(run, kind, name, chans, s0, length, k),
                chunk_trains=trains_per_chunk,
            )
        )
    run.add(
        ControlSource(
            device,
            "AdqDigitizer" if kind == "ADQ412" else "FastAdc",
            control,
            run_values=run_values,
        )
    )
    return s0, length


def _make_fill(run, kind, source, chans, s0, length, k):
    sps, lead = SPS[kind], LEAD[kind]
    base, noise = BASELINE[kind], NOISE[kind]
    klen = len(k)
    seed = [run.seed, run.run, zlib.crc32(source.encode())]

    def fill(group, tix):
        out = {}
        for ch in chans:
            out_key = f"{ch.key}.apd.pulseIntegral" if kind == "ADQ412" else "data.peaks"
            out[out_key] = ch.onboard[tix]
            if not ch.raw:
                continue
            rng = np.random.default_rng(seed + [zlib.crc32(ch.name.encode()), int(tix[0])])
            tr = rng.standard_normal((len(tix), length), dtype=np.float32)
            tr *= noise
            tr += base
            amps = ch.table[tix] * ch.polarity  # (nt, nunion)
            starts = (ch.union - s0) * sps + lead
            if len(starts):
                # add every pulse with one fancy-indexed update (kernels never
                # overlap: a kernel is shorter than one slot)
                idx = starts[:, None] + np.arange(klen)  # (nunion, klen)
                tr[:, idx.ravel()] += (
                    (amps[:, :, None] * k).reshape(len(tix), -1).astype(np.float32)
                )
            if kind == "ADQ412":
                out[f"{ch.key}.raw.samples"] = np.clip(np.rint(tr), -32768, 32767).astype(np.int16)
            else:
                out["data.rawData"] = np.clip(np.rint(tr), 0, 65535).astype(np.uint16)
        return out

    return fill


def add_digitizers(
    run,
    energies=None,
    transmission=1.0,
    mcp_gain=(20.0, 22.0, 18.0, 25.0),
    mcp_raw=("MCP2",),
    fel_pd_channel=4,
    fel_pd_gain=20.0,
    ppl_channel=5,
    ppl_amplitude=6000.0,
    ppl_jitter=0.02,
    fadc_raw=True,
):
    """Write the ADQ412 MCP channels on SASE3 pulses, FastADC FEL and PPL photodiodes.

    Parameters
    ----------
    run : SimRun
        The run being built (``run.pattern`` gives the pulses).
    energies : list of array of float, optional
        True SASE3 pulse energies in µJ per train (as the XGM model draws
        them); default 500 µJ. MCP and FEL-photodiode peaks are ``gain *
        energy * transmission`` (ADC units).
    transmission : float or array of float
        Scalar or per-train factor of the downstream detectors (e.g. a knife
        edge moving into the beam).
    mcp_gain : sequence of 4 float
        ADC units per µJ of MCP1..4.
    mcp_raw : sequence of str
        The MCP channels whose raw traces are recorded (traces are large: 440
        samples per slot); all record apd integrals.
    fel_pd_channel, ppl_channel : int or None
        FastADC channels of the FEL and PPL photodiodes (None: not recorded).
    fel_pd_gain : float
        ADC units per µJ of the FEL photodiode.
    ppl_amplitude : float
        Mean PPL photodiode peak in ADC units.
    ppl_jitter : float
        Relative rms jitter of the PPL peaks.
    fadc_raw : bool
        Record the FastADC raw traces (else only the peak integrals).

    Returns
    -------
    dict
        ``run.truth['digitizers']``: per channel (``'MCP2'``, ``'FastADC5'``,
        ...) the source, keys and injected peak integrals (ADC units).
    """
    pat = run.pattern
    n = run.ntrains
    if energies is None:
        energies = [np.full(len(x), 500.0) for x in pat.sase3]
    trans = np.broadcast_to(np.asarray(transmission, float), (n,))
    truth = run.truth.setdefault("digitizers", {})
    # --- ADQ412: MCP1..4 on SASE3 pulses
    chans = []
    for num, letter in ADQ_CHANNELS.items():
        name = f"MCP{num}"
        amps = [mcp_gain[num - 1] * np.asarray(e) * trans[i] for i, e in enumerate(energies)]
        ch = _Channel(
            name,
            f"board1.apd.channel_1_{letter}",
            "ADQ412",
            "sase3",
            pat.sase3,
            amps,
            name in mcp_raw,
            -1.0,
            f"{name} (TIM) MCP signal",
        )
        ch.key = f"digitizers.channel_1_{letter}"
        chans.append(ch)
    slots = _union(pat.sase3)
    _board(run, "ADQ412", ADQ, chans, slots)
    for ch in chans:
        truth[ch.name] = _truth(ch, ADQ + ":network", "ADQ412")
    # --- FastADC: FEL photodiode (SASE3) and PPL photodiode
    fchans = []
    if fel_pd_channel is not None:
        amps = [fel_pd_gain * np.asarray(e) * trans[i] for i, e in enumerate(energies)]
        ch = _Channel(
            f"FastADC{fel_pd_channel}",
            f"channel_{fel_pd_channel}",
            "FastADC",
            "sase3",
            pat.sase3,
            amps,
            fadc_raw,
            1.0,
            "FEL photodiode (downstream)",
        )
        ch.key = f"channel_{fel_pd_channel}"
        fchans.append(ch)
    if ppl_channel is not None:
        rng = run.rng_for("PPL pulses")
        amps = [ppl_amplitude * (1 + ppl_jitter * rng.standard_normal(len(x))) for x in pat.ppl]
        ch = _Channel(
            f"FastADC{ppl_channel}",
            f"channel_{ppl_channel}",
            "FastADC",
            "scs_ppl",
            pat.ppl,
            amps,
            fadc_raw,
            1.0,
            "PP laser photodiode",
        )
        ch.key = f"channel_{ppl_channel}"
        fchans.append(ch)
    if fchans:
        slots = _union(list(pat.sase3) + list(pat.ppl))
        _board(run, "FastADC", FADC, fchans, slots)
        for ch in fchans:
            truth[ch.name] = _truth(ch, f"{FADC}:{ch.key}.output", "FastADC")
    return truth


def _truth(ch, source, kind):
    if kind == "ADQ412":
        raw_key, peaks_key = f"{ch.key}.raw.samples", f"{ch.key}.apd.pulseIntegral"
    else:
        raw_key, peaks_key = "data.rawData", "data.peaks"
    return {
        "source": source,
        "kind": kind,
        "raw_key": raw_key if ch.raw else None,
        "onboard_key": peaks_key,
        "bunch_pattern": ch.loc,
        "polarity": "negative" if ch.polarity < 0 else "positive",
        "samples_per_slot": SPS[kind],
        "noise_counts": NOISE[kind],
        "onboard_settings": ch.settings,
        "peaks": [np.asarray(a, float).tolist() for a in ch.amps],
    }
