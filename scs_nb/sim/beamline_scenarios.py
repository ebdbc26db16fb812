"""Scenarios of the beamline's point devices: constant settings, energy and
delay scans, a pulse-pattern change, an uncalibrated XGM, every mnemonic.

Each writes the common beamline through ``add_beamline`` and varies what its
how-to measures; what it injects goes into ``run.truth``.
"""

from __future__ import annotations

import numpy as np

from . import slow, timing
from .beamline import add_beamline
from .extra import add_mnemonics
from .registry import scenario


@scenario("basic")
def basic(run, npulses=20, nrj=930.0):
    """All SCS point devices at constant settings: SASE3 pulses, XGMs, mono, BAMs.

    ``npulses`` SASE3 pulses per train (slot 1000, step 24) and no SASE1
    pulses, the SCS and XTD10 XGMs (mean SASE3 pulse energy 500 µJ), mono and
    undulator at ``nrj``, delay line, phase shifter, scanners and magnet at 0,
    the three BAMs and the ADQ412 / FastADC digitizers. Ground truth: the
    common ``run.truth`` keys of ``add_beamline`` (``pattern``, ``xgm``
    (pulse energies in µJ), ``nrj_eV``, ``delay_line_mm``, ``bam`` (fs),
    ``digitizers``, ``readback``).

    Parameters
    ----------
    run : SimRun
        The run being built.
    npulses : int
        SASE3 pulses per train.
    nrj : float
        Mono and undulator photon energy in eV.
    """
    add_beamline(
        run, timing.PulsePattern.constant(run.ntrains, sase3=(npulses, 1000, 24)), nrj=nrj
    )


@scenario("energy_scan")
def energy_scan(run, start=920.0, stop=940.0, nsteps=11):
    """Mono energy stepped from 920 to 940 eV in 11 steps.

    The ``basic`` beamline (20 SASE3 pulses) with the mono and undulator
    energy stepped in equal blocks of trains. Ground truth:
    ``run.truth['scan']`` = ``{'mnemonic': 'nrj', 'setpoints': [eV, ...]}``
    and the per-train set-points in ``run.truth['nrj_eV']``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    start, stop : float
        First and last photon energy in eV.
    nsteps : int
        Number of energy steps.
    """
    setpoints = np.linspace(start, stop, int(nsteps))
    add_beamline(run, nrj=slow.steps(run.ntrains, setpoints))
    run.truth["scan"] = {"mnemonic": "nrj", "setpoints": setpoints.tolist()}


@scenario("delay_scan")
def delay_scan(run, start=-1.0, stop=1.0, nsteps=10):
    """Delay line stepped over 10 positions (mm), SASE3 + PPL pulses.

    20 SASE3 pulses (slot 1000, step 24) and 10 pump-probe laser pulses on
    every other one (step 48); the PP800 delay line stepped in equal blocks
    of trains. Ground truth: ``run.truth['scan']`` =
    ``{'mnemonic': 'PP800_DelayLine', 'setpoints': [mm, ...]}`` and the
    per-train positions in ``run.truth['delay_line_mm']``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    start, stop : float
        First and last delay-line position in mm.
    nsteps : int
        Number of positions.
    """
    pat = timing.PulsePattern.constant(run.ntrains, sase3=(20, 1000, 24), ppl=(10, 1000, 48))
    pos = np.linspace(start, stop, int(nsteps))
    add_beamline(run, pat, delay_mm=slow.steps(run.ntrains, pos))
    run.truth["scan"] = {"mnemonic": "PP800_DelayLine", "setpoints": pos.tolist()}


@scenario("pattern_change")
def pattern_change(run, before=20, after=10, empty_every=17):
    """SASE3 pulse count changes mid-run (20 -> 10 pulses), with empty trains.

    ``before`` SASE3 pulses (step 24) in the first half of the run, ``after``
    pulses (step 48) in the second, and no SASE3 pulse every ``empty_every``
    trains from train 5; the bunch pattern table is a CONTROL key, as the
    older DAQ wrote it. Ground truth: ``run.truth['pattern_change_train']``
    (the first train ID of the second half) and the per-train pattern in
    ``run.truth['pattern']``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    before, after : int
        SASE3 pulses per train before and after the change.
    empty_every : int
        Period, in trains, of the trains without SASE3 pulses.
    """
    pat = timing.PulsePattern.constant(run.ntrains, sase3=(before, 1000, 24))
    half = run.ntrains // 2
    pat.set_trains("sase3", slice(half, None), (after, 1000, 48))
    pat.set_trains("sase3", slice(5, None, int(empty_every)), None)
    add_beamline(run, pat, table_pipeline=False)
    run.truth["pattern_change_train"] = int(run.train_ids[half])


@scenario("xgm_calibration")
def xgm_calibration(run, factor=2.5):
    """XGM fast channel uncalibrated by a known factor F=2.5 relative to the slow flux.

    The ``basic`` beamline, with the SCS XGM's fast (pulse-resolved) channel
    divided by ``factor`` while its slow photon flux (µJ) stays calibrated.
    Ground truth: ``run.truth['xgm']['SCS']['calibration_factor']``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    factor : float
        The calibration factor F that ``calibrate_xgm`` should recover.
    """
    add_beamline(run, xgm_calibration=float(factor))


@scenario("all_mnemonics", trains=5, large_trains=50)
def all_mnemonics(run, npulses=20):
    """The basic run plus the source of every mnemonic of the table.

    Cameras, slits, attenuators, motors, all digitizer channels, ...: every
    mnemonic's source that the beamline does not write gets plausible data
    (see ``sim.extra``). Ground truth: the ``basic`` keys plus
    ``run.truth['extra_mnemonics']`` (the values written).

    Parameters
    ----------
    run : SimRun
        The run being built.
    npulses : int
        SASE3 pulses per train.
    """
    add_beamline(run, timing.PulsePattern.constant(run.ntrains, sase3=(npulses, 1000, 24)))
    add_mnemonics(run, "all")
