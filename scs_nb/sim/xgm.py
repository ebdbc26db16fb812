"""X-ray gas monitors (SCS and XTD10): fast pulse energies and slow flux.

Physics: SASE pulse energies follow a gamma distribution (M modes), the
monitor adds relative electronic noise. The fast channel of the DOOCS server
is written uncalibrated: ``fast = measured / F``; the slow ``photonFlux`` is
the train-averaged measured energy, so ``calibrate_xgm`` must recover ``F``.
Unused entries of the fast arrays hold 1.0, as the real device writes.
"""

from __future__ import annotations

import numpy as np

from ..facility import sources
from .writer import ControlSource, instrument_from_arrays

XGMS = sources.XGM
NFAST = 1000
UJ = ("J", "u")


def pulse_energies(rng, pattern_ids, mean_uj=500.0, modes=25, pulse_slope=0.0):
    """Draw true SASE pulse energies (gamma-distributed, ``modes`` modes).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    pattern_ids : list of array of int
        Pulse slots per train (only their number is used).
    mean_uj : float
        Mean pulse energy in µJ.
    modes : float
        Number of SASE modes (relative rms ``1 / sqrt(modes)``).
    pulse_slope : float
        Relative increase of the mean from the first to the last pulse.

    Returns
    -------
    list of numpy.ndarray of float
        Pulse energies in µJ, one array per train, matching the pattern.
    """
    out = []
    for ids in pattern_ids:
        n = len(ids)
        shape = 1 + pulse_slope * np.arange(n) / max(n, 1)
        out.append(mean_uj * shape * rng.gamma(modes, 1 / modes, n))
    return out


def add_xgm(
    run,
    which="SCS",
    mean_uj=500.0,
    calibration=1.0,
    noise=0.01,
    modes=25,
    pulse_slope=0.0,
    energies=None,
):
    """Add one XGM (fast channel and slow device).

    Parameters
    ----------
    run : SimRun
        The run being built (``run.pattern`` gives the pulses).
    which : str
        The XGM, a key of ``XGMS`` ('SCS', 'XTD10').
    mean_uj : float
        Mean SASE3 pulse energy in µJ (when ``energies`` is None).
    calibration : float
        Factor by which the fast channel is uncalibrated (1: calibrated).
    noise : float
        Relative rms measurement noise.
    modes, pulse_slope : float
        See ``pulse_energies`` (when ``energies`` is None).
    energies : list of array of float, optional
        Pulse energies in µJ per train to use instead of drawing them (so
        that several monitors see the same pulses).

    Returns
    -------
    list of numpy.ndarray of float
        The measured (calibrated) SASE3 energies in µJ per train; the truth
        goes to ``run.truth['xgm'][which]``.
    """
    dev = XGMS[which]
    rng = run.rng_for(dev)
    pat = run.pattern
    if energies is None:
        energies = pulse_energies(
            run.rng_for("SASE3 pulses"), pat.sase3, mean_uj, modes, pulse_slope
        )
    measured = [e * (1 + noise * rng.standard_normal(len(e))) for e in energies]
    sa1 = [np.abs(0.5 * noise * mean_uj * rng.standard_normal(len(x))) for x in pat.sase1]
    n = run.ntrains
    fast_all = np.ones((n, NFAST), np.float32)
    fast_sa3 = np.ones((n, NFAST), np.float32)
    fast_sa1 = np.ones((n, NFAST), np.float32)
    for i in range(n):
        m3 = (measured[i] / calibration).astype(np.float32)
        m1 = (sa1[i] / calibration).astype(np.float32)
        fast_sa3[i, : len(m3)] = m3
        fast_sa1[i, : len(m1)] = m1
        # all pulses in bunch order
        slots = np.concatenate([pat.sase3[i], pat.sase1[i]])
        vals = np.concatenate([m3, m1])
        order = np.argsort(slots, kind="stable")
        fast_all[i, : len(vals)] = vals[order]
    keys = {
        "data.intensityTD": fast_all,
        "data.intensitySa3TD": fast_sa3,
        "data.intensitySa1TD": fast_sa1,
    }
    run.add(
        instrument_from_arrays(
            dev + ":output",
            "DoocsXGM",
            {"data": keys},
            {"data": np.ones(n)},
            units={k: UJ for k in keys},
        )
    )
    flux = np.array([m.mean() if len(m) else 0.0 for m in measured], np.float32)
    slow = {
        "pulseEnergy.photonFlux": flux,
        "pulseEnergy.numberOfSa3BunchesActual": np.array([len(x) for x in pat.sase3], np.float32),
        "pulseEnergy.numberOfSa1BunchesActual": np.array([len(x) for x in pat.sase1], np.float32),
        "pulseEnergy.wavelengthUsed": np.full(n, 1.5, np.float32),
        "beamPosition.ixPos": (0.1 * rng.standard_normal(n)).astype(np.float32),
        "beamPosition.iyPos": (0.1 * rng.standard_normal(n)).astype(np.float32),
    }
    run.add(ControlSource(dev, "DoocsXGM", slow, units={"pulseEnergy.photonFlux": UJ}))
    run.truth.setdefault("xgm", {})[which] = {
        "source": dev,
        "calibration_factor": calibration,
        "sa3_energy_uJ": [m.astype(np.float32).tolist() for m in measured],
        "sa3_fast_raw": [(m / calibration).astype(np.float32).tolist() for m in measured],
        "true_sa3_energy_uJ": [e.tolist() for e in energies],
        "photonFlux_uJ": flux.tolist(),
    }
    return measured
