"""The devices every simulated SCS run records, as one building block.

``add_beamline`` writes timing, XGMs, mono, undulator, delay line, phase
shifter, scanners, magnet, BAMs and digitizers; every scenario calls it and
then adds what its how-to measures. This module imports only the models of
these common devices, never a scenario module, so that any device module can
import it.
"""

from __future__ import annotations

from . import bam, slow, timing, xgm
from . import digitizers as dig


def add_beamline(
    run,
    pattern=None,
    nrj=930.0,
    delay_mm=0.0,
    xgm_mean_uj=500.0,
    xgm_calibration=1.0,
    bams=("BAM414", "BAM1932M", "BAM1932S"),
    scanner_x=0.0,
    scanner_y=0.0,
    magnet=0.0,
    table_pipeline=True,
    digitizers=True,
):
    """Add the devices every SCS run records to ``run``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    pattern : timing.PulsePattern, optional
        The bunch pattern; default ``PulsePattern.constant(run.ntrains)``.
    nrj : float or array of float
        Mono (and undulator) photon energy in eV: one value, or one per train.
    delay_mm : float or array of float
        PP800 delay-line position in mm: one value, or one per train.
    xgm_mean_uj : float
        Mean SASE3 pulse energy in µJ.
    xgm_calibration : float
        Factor by which the SCS XGM fast channel is uncalibrated relative to
        its slow photon flux (1: calibrated).
    bams : sequence of str
        Names of the bunch arrival monitors to write.
    scanner_x, scanner_y : float or array of float
        Sample scanner positions in mm: one value, or one per train.
    magnet : float or array of float
        Magnet current in A: one value, or one per train.
    table_pipeline : bool
        Write the bunch pattern table as pipeline data (True) or as a CONTROL
        key, as the older DAQ did (False).
    digitizers : bool or dict
        True: ADQ412 MCPs and FastADC photodiodes (see ``sim.digitizers``);
        False: none; a dict: options for ``digitizers.add_digitizers``.

    Returns
    -------
    list of numpy.ndarray
        The SASE3 pulse energies (µJ) the SCS XGM measured, one array per train (calibrated).
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
        dig.add_digitizers(run, energies, **(digitizers if isinstance(digitizers, dict) else {}))
    return measured
