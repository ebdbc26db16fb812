"""Scenarios: one function per kind of run a how-to needs.

Every scenario writes the common beamline (timing, XGMs, mono, undulator,
delay line, phase shifter, scanners, magnet, BAMs) through ``add_beamline`` and
varies what its how-to measures. What it injects goes into ``run.truth``.
Scenario modules of other areas (digitizers, DSSC, cameras, PES) register
themselves in the same way and are imported at the end of this module.
"""
from __future__ import annotations

import numpy as np

from .core import scenario
from . import bam, slow, timing, xgm


def add_beamline(run, pattern=None, nrj=930.0, delay_mm=0.0, xgm_mean_uj=500.0,
                 xgm_calibration=1.0, bams=("BAM414", "BAM1932M", "BAM1932S"),
                 scanner_x=0.0, scanner_y=0.0, magnet=0.0, table_pipeline=True,
                 digitizers=True):
    """The devices every SCS run records. Returns the SCS XGM SASE3 energies.

    digitizers: True (ADQ412 MCPs, FastADC photodiodes, see ``sim.digitizers``),
    False, or a dict of options for ``digitizers.add_digitizers``.
    """
    if pattern is None:
        pattern = timing.PulsePattern.constant(run.ntrains)
    timing.add_timing(run, pattern, pipeline=table_pipeline)
    energies = xgm.pulse_energies(run.rng_for("SASE3 pulses"), pattern.sase3, xgm_mean_uj)
    measured = xgm.add_xgm(run, "SCS", calibration=xgm_calibration, energies=energies)
    # the XTD10 XGM, upstream, sees the same pulses before the beamline transmission
    xgm.add_xgm(run, "XTD10", calibration=1.0, energies=[1.25 * e for e in energies])
    slow.add_mono(run, nrj)
    slow.add_undulator(run, nrj)
    slow.add_delay_line(run, delay_mm)
    slow.add_phase_shifter(run, 0.0)
    slow.add_scanner(run, scanner_x, scanner_y)
    slow.add_magnet(run, magnet)
    for name in bams:
        bam.add_bam(run, name)
    if digitizers:
        from . import digitizers as dig
        dig.add_digitizers(run, energies, **(digitizers if isinstance(digitizers, dict) else {}))
    return measured


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
    from .extra import add_mnemonics
    add_mnemonics(run, "all")


from . import dssc  # noqa: E402,F401  (DSSC scenarios, issue 4)
from . import pulse_scenarios  # noqa: E402,F401
