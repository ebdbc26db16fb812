"""Slow (CONTROL) devices: monochromator, undulator, delay line, phase
shifter, scanner motors, magnet supply.

Each takes a set-point per train (a scan) and writes the readback with a small
encoder noise; the set-points are the ground truth of the scan, and the values
written (readbacks) are kept in ``truth['readback'][mnemonic]``.
"""

from __future__ import annotations

import numpy as np

from ..facility.sources import DELAY_LINE, MONO, PHASE_SHIFTER
from ..facility.sources import UND as UNDULATOR
from ..mnemonics import alternatives
from .writer import ControlSource


def _source(mnemonic):
    return alternatives(mnemonic)[0]["source"]


SCANNER_X = _source("scannerX")
SCANNER_Y = _source("scannerY")
MAGNET = _source("magnet")


def steps(ntrains, values):
    """Set-points held for equal numbers of trains: a step scan.

    Parameters
    ----------
    ntrains : int
        Number of trains of the run.
    values : sequence of float
        The set-points, in scan order.

    Returns
    -------
    numpy.ndarray of float
        One set-point per train.
    """
    values = np.asarray(values, float)
    idx = np.minimum((np.arange(ntrains) * len(values)) // ntrains, len(values) - 1)
    return values[idx]


def _per_train(run, value):
    v = np.asarray(value, float)
    return np.full(run.ntrains, float(v)) if v.ndim == 0 else v


def _readback(run, name, setpoint, noise):
    return setpoint + noise * run.rng_for(name).standard_normal(run.ntrains)


def _record(run, mnemonic, values):
    """Store the values written for ``mnemonic`` (as written, after the cast
    to the file dtype) in ``truth['readback']``, so loading can be checked
    exactly."""
    run.truth.setdefault("readback", {})[mnemonic] = np.asarray(values).tolist()
    return values


def add_mono(run, energy_ev=930.0, noise=0.01):
    """Add the soft X-ray monochromator (mnemonics ``nrj``, ``nrj_target``).

    Parameters
    ----------
    run : SimRun
        The run being built.
    energy_ev : float or array of float
        Set-point in eV: one value, or one per train (a scan).
    noise : float
        Standard deviation of the readback's encoder noise, in eV.

    Notes
    -----
    The set-points go to ``run.truth['nrj_eV']``.
    """
    target = _per_train(run, energy_ev)
    actual = _readback(run, MONO, target, noise)
    run.add(
        ControlSource(
            MONO,
            "SoftMonoPhotonEnergy",
            {
                "actualEnergy": _record(run, "nrj", actual.astype(np.float32)),
                "targetEnergy": _record(run, "nrj_target", target.astype(np.float32)),
            },
            units={"actualEnergy": ("eV", ""), "targetEnergy": ("eV", "")},
        )
    )
    run.truth["nrj_eV"] = target.tolist()
    return actual


def add_undulator(run, energy_ev=930.0, noise=0.05):
    """Add the SASE3 undulator photon energy (mnemonic ``UND``).

    Parameters
    ----------
    run : SimRun
        The run being built.
    energy_ev : float or array of float
        Set-point in eV: one value, or one per train (a scan).
    noise : float
        Standard deviation of the readback's encoder noise, in eV.

    Notes
    -----
    The set-points go to ``run.truth['undulator_eV']``.
    """
    target = _per_train(run, energy_ev)
    run.add(
        ControlSource(
            UNDULATOR,
            "UndulatorPhotonEnergy",
            {
                "actualPosition": _record(
                    run, "UND", _readback(run, UNDULATOR, target, noise).astype(np.float32)
                )
            },
            units={"actualPosition": ("eV", "")},
        )
    )
    run.truth["undulator_eV"] = target.tolist()


def add_delay_line(run, position_mm=0.0, noise=1e-4):
    """Add the PP800 delay line (mnemonic ``PP800_DelayLine``).

    Parameters
    ----------
    run : SimRun
        The run being built.
    position_mm : float or array of float
        Set-point in mm: one value, or one per train (a scan).
    noise : float
        Standard deviation of the readback's encoder noise, in mm.

    Returns
    -------
    numpy.ndarray of float
        The set-point per train (mm).

    Notes
    -----
    The set-points go to ``run.truth['delay_line_mm']``.
    """
    target = _per_train(run, position_mm)
    run.add(
        ControlSource(
            DELAY_LINE,
            "DelayLine",
            {
                "AActualPosition": _record(
                    run, "PP800_DelayLine", _readback(run, DELAY_LINE, target, noise)
                ),
                "ATargetPosition": target,
            },
            units={"AActualPosition": ("m", "m")},
        )
    )
    run.truth["delay_line_mm"] = target.tolist()
    return target


def add_phase_shifter(run, position_ps=0.0, noise=1e-4):
    """Add the PP laser phase shifter (mnemonic ``PP800_PhaseShifter``).

    Parameters
    ----------
    run : SimRun
        The run being built.
    position_ps : float or array of float
        Set-point in ps: one value, or one per train (a scan).
    noise : float
        Standard deviation of the readback's encoder noise, in ps.

    Notes
    -----
    The set-points go to ``run.truth['phase_shifter_ps']``.
    """
    target = _per_train(run, position_ps)
    run.add(
        ControlSource(
            PHASE_SHIFTER,
            "DoocsPhaseShifter",
            {
                "actualPosition": _record(
                    run, "PP800_PhaseShifter", _readback(run, PHASE_SHIFTER, target, noise)
                )
            },
            units={"actualPosition": ("s", "p")},
        )
    )
    run.truth["phase_shifter_ps"] = target.tolist()


def add_scanner(run, x_mm=0.0, y_mm=0.0, noise=1e-4):
    """Add the sample scanner motors (mnemonics ``scannerX``, ``scannerY``).

    Parameters
    ----------
    run : SimRun
        The run being built.
    x_mm, y_mm : float or array of float
        Set-points in mm: one value, or one per train (a scan).
    noise : float
        Standard deviation of the readbacks' encoder noise, in mm.

    Notes
    -----
    The set-points go to ``run.truth['scannerX_mm']`` and ``['scannerY_mm']``.
    """
    for dev, cls, value, key in (
        (SCANNER_X, "LinearMotor", x_mm, "scannerX_mm"),
        (SCANNER_Y, "Motor", y_mm, "scannerY_mm"),
    ):
        target = _per_train(run, value)
        actual = _record(run, key[:-3], _readback(run, dev, target, noise))
        run.add(
            ControlSource(
                dev,
                cls,
                {"actualPosition": actual, "targetPosition": target},
                units={"actualPosition": ("m", "m")},
            )
        )
        run.truth[key] = target.tolist()


def add_magnet(run, current_a=0.0, noise=1e-3):
    """Add the magnet power supply (mnemonic ``magnet``).

    Parameters
    ----------
    run : SimRun
        The run being built.
    current_a : float or array of float
        Set-point in A: one value, or one per train (a scan).
    noise : float
        Standard deviation of the readback's encoder noise, in A.

    Notes
    -----
    The set-points go to ``run.truth['magnet_A']``.
    """
    target = _per_train(run, current_a)
    run.add(
        ControlSource(
            MAGNET,
            "PowerSupply",
            {
                "actualCurrent": _record(
                    run, "magnet", _readback(run, MAGNET, target, noise).astype(np.float32)
                )
            },
            units={"actualCurrent": ("A", "")},
        )
    )
    run.truth["magnet_A"] = target.tolist()
