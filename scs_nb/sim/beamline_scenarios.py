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


@scenario("basic", help="All SCS point devices at constant settings: 20 SASE3 pulses "
          "(slot 1000, step 24), 10 SASE1 pulses, XGMs, mono at 930 eV, BAMs.")
def basic(run, npulses=20, nrj=930.0):
    add_beamline(run, timing.PulsePattern.constant(run.ntrains, sase3=(npulses, 1000, 24)),
                 nrj=nrj)


@scenario("energy_scan", help="Mono energy stepped from 920 to 940 eV in 11 steps.")
def energy_scan(run, start=920.0, stop=940.0, nsteps=11):
    setpoints = np.linspace(start, stop, int(nsteps))
    add_beamline(run, nrj=slow.steps(run.ntrains, setpoints))
    run.truth["scan"] = {"mnemonic": "nrj", "setpoints": setpoints.tolist()}


@scenario("delay_scan", help="Delay line stepped over 10 positions (mm), SASE3 + PPL pulses.")
def delay_scan(run, start=-1.0, stop=1.0, nsteps=10):
    pat = timing.PulsePattern.constant(run.ntrains, sase3=(20, 1000, 24),
                                       ppl=(10, 1000, 48))
    pos = np.linspace(start, stop, int(nsteps))
    add_beamline(run, pat, delay_mm=slow.steps(run.ntrains, pos))
    run.truth["scan"] = {"mnemonic": "PP800_DelayLine", "setpoints": pos.tolist()}


@scenario("pattern_change", help="SASE3 pulse count changes mid-run (20 -> 10 pulses), "
          "with a few trains without SASE3 pulses; the table is a CONTROL key (older DAQ).")
def pattern_change(run, before=20, after=10, empty_every=17):
    pat = timing.PulsePattern.constant(run.ntrains, sase3=(before, 1000, 24))
    half = run.ntrains // 2
    pat.set_trains("sase3", slice(half, None), (after, 1000, 48))
    pat.set_trains("sase3", slice(5, None, int(empty_every)), None)
    add_beamline(run, pat, table_pipeline=False)
    run.truth["pattern_change_train"] = int(run.train_ids[half])


@scenario("xgm_calibration", help="XGM fast channel uncalibrated by a known factor F=2.5 "
          "relative to the slow photon flux.")
def xgm_calibration(run, factor=2.5):
    add_beamline(run, xgm_calibration=float(factor))


@scenario("all_mnemonics", help="The basic run plus the source of every mnemonic of the "
          "table (cameras, slits, attenuators, motors, all digitizer channels, ...).",
          trains=5, large_trains=50)
def all_mnemonics(run, npulses=20):
    add_beamline(run, timing.PulsePattern.constant(run.ntrains, sase3=(npulses, 1000, 24)))
    add_mnemonics(run, "all")

