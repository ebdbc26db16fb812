"""The photo-electron spectrometer (PES) of SASE3: time-of-flight traces.

Physics and layout
------------------
* 16 flight tubes read by four ADQ412 boards of ``SA3_XTD10_PES/ADC/1``
  (``:network``, keys ``digitizers.channel_{1-4}_{A-D}.raw.samples``, int16,
  not interleaved: 440 samples per 4.5 MHz slot, 1.986 GS/s). Sample ``LEAD``
  of every trace is the start of the first SASE3 pulse's spectrum; pulse k
  (slot s_k) starts ``(s_k - s_0) * 440`` samples later.
* A gas (Ne by default, valve ``PES_Ne`` open) is photo-ionised by the SASE3
  pulses of energy ``hv`` (the mono): lines of kinetic energy
  ``hv - E_binding``; tube ``ch`` retards them by ``RV[ch]`` (MPOD
  ``channels.U{n}.voltage``, a CONTROL value, and a RUN value). An electron of
  energy ``E - RV`` reaches the detector after ``L / v`` (L = 0.3 m): the
  peak sits at ``origin + tof * rate`` samples after the spectrum start, a
  Gaussian of ``sigma = 1.2 + 0.02 * (position - origin)`` samples. A prompt
  peak (scattered photons) marks the origin.
* Peaks are negative-going (MCP signal) on a baseline of 0 with 2.5 counts of
  Gaussian noise; amplitudes scale with the SASE pulse energy.

``truth['pes']``: rv per channel, the lines, and per channel the peak
positions (samples from the spectrum start, fractional), sigmas and mean
amplitudes; ``start`` and ``origin`` to pass to ``get_pes_tof``.
"""

from __future__ import annotations

import zlib

import numpy as np

from ..facility import ADQ412_SAMPLES_PER_SLOT, PES_BINDING_EV, SLOT_RATE_HZ
from ..facility import sources as S
from . import timing
from .beamline import add_beamline
from .registry import scenario
from .writer import ControlSource, InstrumentSource

# The digitizer as the real one: ADQ412 boards, not interleaved, 440 samples per 4.5 MHz
# slot (1.98 GS/s; devices.md), int16 traces of one length for the whole run that reach
# from the trigger to the end of the last SASE3 spectrum. Inferred from the ToolBox's own
# example, get_pes_tof(..., 'PES_2Araw', start=2557, origin=76): the first spectrum starts
# at sample 2557 of the trace and its prompt is sample 76 of a spectrum.
LEAD = 2557  # samples before the first spectrum (inferred)
ORIGIN = 76  # prompt: sample of each spectrum at t = 0 (inferred)
TAIL = 60  # samples after the last spectrum
LENGTH_M = 0.3  # flight length
NOISE = 2.5
M_E_EV = 510998.95  # electron rest energy (eV), non-relativistic TOF below
C_M_S = 299792458.0
RATE_GHZ = ADQ412_SAMPLES_PER_SLOT * SLOT_RATE_HZ / 1e9


def tof_samples(ekin_ev):
    """Flight time of an electron in samples after the prompt (non-relativistic).

    Parameters
    ----------
    ekin_ev : float or array of float
        Kinetic energy in eV.

    Returns
    -------
    numpy.ndarray of float
        Samples (fractional) at ``RATE_GHZ``.
    """
    v = C_M_S * np.sqrt(2 * np.asarray(ekin_ev, float) / M_E_EV)
    return LENGTH_M / v * 1e9 * RATE_GHZ


def trace_length(pattern) -> int:
    """Samples per train of the simulated PES traces (one length for the whole run).

    Parameters
    ----------
    pattern : timing.PulsePattern or None
        The run's pulse pattern.

    Returns
    -------
    int
        ``LEAD`` + 440 samples per 4.5 MHz slot from the first to the last SASE3 slot
        of the run + ``TAIL``; a single spectrum's worth when there is no SASE3 pulse.
    """
    slots = [np.asarray(x) for x in getattr(pattern, "sase3", []) if len(x)]
    span = int(np.ptp(np.concatenate(slots))) + 1 if slots else 1
    return LEAD + span * ADQ412_SAMPLES_PER_SLOT + TAIL


def channel_rv(rv_by_letter=(0.0, 10.0, 20.0, 30.0)):
    """Retardation voltage of every PES tube, by the letter of its channel.

    Parameters
    ----------
    rv_by_letter : sequence of 4 float
        Retardation voltage in V of the channels A, B, C, D.

    Returns
    -------
    dict
        Channel name -> retardation voltage (V).
    """
    return {ch: float(rv_by_letter["ABCD".index(ch[1])]) for ch in S.PES_RV_KEY}


def add_pes(run, energies, hv, gas="Ne", lines=None, rv=None, channels=None):
    """Write the PES digitizer, the MPOD voltages and the gas valves.

    Parameters
    ----------
    run : SimRun
        The run being built (``run.pattern`` gives the SASE3 pulses).
    energies : list of array of float
        SASE3 pulse energies in µJ, one array per train.
    hv : float
        Photon energy in eV.
    gas : str
        The gas whose valve is open (a key of ``PES_BINDING_EV``).
    lines : dict, optional
        ``{name: (binding energy eV, relative intensity)}``; default the
        gas's 1s line.
    rv : dict, optional
        ``{channel: retardation voltage V}``; default ``channel_rv()``.
    channels : sequence of str, optional
        Which tubes record traces; default all 16.

    Returns
    -------
    None
        The ground truth goes to ``run.truth['pes']`` (peak positions in
        samples, sigmas, amplitudes in counts, rv in V, ...).
    """
    pat = run.pattern
    n = run.ntrains
    sps = ADQ412_SAMPLES_PER_SLOT
    lines = lines or {"1s": (PES_BINDING_EV[gas], 1.0)}
    rv = rv or channel_rv()
    channels = list(channels or S.PES_RV_KEY)
    union = np.unique(np.concatenate([np.asarray(x) for x in pat.sase3 if len(x)]))
    s0 = int(union[0])
    length = trace_length(pat)
    peaks = {}
    for ch in channels:
        pos, sig, amp = [], [], []
        # prompt peak at the origin, then one peak per line with E > RV
        pos.append(float(ORIGIN)), sig.append(1.0), amp.append(15.0)
        for _name, (eb, rel) in lines.items():
            e = hv - eb - rv[ch]
            if e <= 0.5:
                continue
            p = ORIGIN + float(tof_samples(e))
            if p > sps - 10:
                continue
            pos.append(p), sig.append(1.2 + 0.02 * (p - ORIGIN)), amp.append(300.0 * rel)
        peaks[ch] = {"position": pos, "sigma": sig, "amplitude": amp}
    seed = [run.seed, run.run, zlib.crc32(b"PES")]
    e_scale = [np.asarray(e) / 500.0 for e in energies]
    x = np.arange(sps, dtype=np.float32)
    shapes = {
        ch: sum(
            -a * np.exp(-0.5 * ((x - p) / s) ** 2) for p, s, a in zip(*peaks[ch].values())
        ).astype(np.float32)
        for ch in channels
    }

    def fill(group, tix):
        rng = np.random.default_rng(seed + [int(tix[0])])
        out = {}
        for ch in channels:
            tr = NOISE * rng.standard_normal((len(tix), length), dtype=np.float32)
            for j, i in enumerate(tix):
                for k, slot in enumerate(pat.sase3[i]):
                    o = LEAD + (int(slot) - s0) * sps
                    tr[j, o : o + sps] += e_scale[i][k] * shapes[ch]
            out[f"digitizers.channel_{ch[0]}_{ch[1]}.raw.samples"] = np.clip(
                np.rint(tr), -32768, 32767
            ).astype(np.int16)
        return out

    keys = {
        f"digitizers.channel_{ch[0]}_{ch[1]}.raw.samples": ((length,), np.int16) for ch in channels
    }
    run.add(
        InstrumentSource(
            S.PES_ADQ + ":network",
            "AdqDigitizer",
            {"digitizers": keys},
            {"digitizers": np.ones(n, np.uint64)},
            fill,
            chunk_trains=16,
        )
    )
    board_rv = {f"board{b}.interleavedMode": False for b in (1, 2, 3, 4)}
    run.add(
        ControlSource(
            S.PES_ADQ,
            "AdqDigitizer",
            {f"board{b}.enable": np.ones(n, bool) for b in (1, 2, 3, 4)},
            run_values=board_rv,
        )
    )
    volts = {S.PES_RV_KEY[ch]: np.full(n, rv[ch], np.float32) for ch in S.PES_RV_KEY}
    run.add(
        ControlSource(S.PES_MPOD, "MpodCrate", volts, units={k: ("V", "") for k in volts})
    )  # also RUN values
    for g, dev in S.PES_GAS_VALVE.items():
        run.add(ControlSource(dev, "Valve", {"isOpen": np.full(n, g == gas, bool)}))
    run.truth["pes"] = {
        "source": S.PES_ADQ + ":network",
        "gas": gas,
        "hv_eV": hv,
        "lines": {k: list(v) for k, v in lines.items()},
        "rv": rv,
        "start": LEAD,
        "origin": ORIGIN,
        "width": sps,
        "sampling_rate_GHz": RATE_GHZ,
        "flight_length_m": LENGTH_M,
        "noise_counts": NOISE,
        "peaks": peaks,
        "trace_length": length,
        "polarity": "negative",
    }


@scenario("pes", trains=40, large_trains=400)
def pes(run, hv=1000.0, npulses=10, gas="Ne", pattern_change=False):
    """PES time-of-flight traces on the 16 channels of SA3_XTD10_PES/ADC/1.

    Ne 1s and 2p lines at 1000 eV photon energy, 10 SASE3 pulses at 4.5 MHz,
    retardation 0/10/20/30 V on the A/B/C/D tubes. Ground truth:
    ``run.truth['pes']`` (see the module: peak positions in samples from the
    spectrum start, ``start`` and ``origin`` for ``get_pes_tof``).

    Parameters
    ----------
    run : SimRun
        The run being built.
    hv : float
        Photon energy in eV.
    npulses : int
        SASE3 pulses per train.
    gas : str
        The gas (Ne: 1s and 2p lines; others: the 1s line).
    pattern_change : bool
        In the second half of the run, every other slot and half the pulses.
    """
    pat = timing.PulsePattern.constant(run.ntrains, sase3=(int(npulses), 1000, 1))
    if pattern_change:  # second half of the run: every other slot, half the pulses
        pat.set_trains("sase3", slice(run.ntrains // 2, None), (int(npulses) // 2, 1000, 2))
    energies = add_beamline(run, pat, nrj=hv, digitizers=False, bams=())
    true_e = run.truth["xgm"]["SCS"]["true_sa3_energy_uJ"]
    add_pes(
        run,
        [np.asarray(e) for e in true_e],
        hv,
        gas,
        lines={"1s": (PES_BINDING_EV[gas], 1.0), "2p": (21.6, 0.6)} if gas == "Ne" else None,
    )
    del energies
