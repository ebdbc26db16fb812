"""Scenarios of the pulse-resolved how-tos: pump-probe with PP-laser
photodiodes, knife-edge scan, TIM peak extraction (small and benchmark size).

Registered on import by ``registry.discover``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc

from . import slow, timing, undulator_cells
from .beamline import add_beamline
from .registry import scenario


@scenario("pump_probe")
def pump_probe(run, nsase3=20, nppl=10, start=-0.5, stop=0.5, nsteps=5):
    """SASE1, SASE3 and PP laser pulses with the delay line stepped over 5 positions.

    SASE1 (10 pulses from slot 200, step 4), SASE3 (20 pulses, slot 1000,
    step 24) and PP laser on every other FEL pulse (10 pulses, step 48); the
    delay line stepped in equal blocks of trains; ADQ412 MCPs, FastADC FEL and
    PPL photodiodes, two-colour undulator cells. Ground truth:
    ``run.truth['scan']`` = ``{'mnemonic': 'PP800_DelayLine', 'setpoints':
    [mm, ...]}``, ``run.truth['undulator_cells']`` and the ``basic`` keys.

    Parameters
    ----------
    run : SimRun
        The run being built.
    nsase3 : int
        SASE3 pulses per train.
    nppl : int
        Pump-probe laser pulses per train.
    start, stop : float
        First and last delay-line position in mm.
    nsteps : int
        Number of delay-line positions.
    """
    pat = timing.PulsePattern.constant(
        run.ntrains, sase3=(nsase3, 1000, 24), sase1=(10, 200, 4), ppl=(nppl, 1000, 48)
    )
    pos = np.linspace(start, stop, int(nsteps))
    add_beamline(run, pat, delay_mm=slow.steps(run.ntrains, pos))
    undulator_cells.add_undulator_cells(run)
    run.truth["scan"] = {"mnemonic": "PP800_DelayLine", "setpoints": pos.tolist()}


@scenario("knife_edge", trains=200)
def knife_edge(run, w0_mm=0.05, x0_mm=0.02, start=-0.15, stop=0.15, nsteps=31):
    """Knife edge on scannerX stepped across a Gaussian FEL beam (w0 = 50 µm).

    The beam has a 1/e² radius ``w0_mm`` and its centre at ``x0_mm``; the
    downstream MCPs and the FastADC4 photodiode see the transmitted fraction
    ``0.5 erfc(sqrt(2) (x - x0) / w0)``, 10 SASE3 pulses per train. Ground
    truth: ``run.truth['knife_edge']`` with ``w0_mm``, ``x0_mm``, the
    per-train ``transmission`` and the fit ``model``; the positions (mm) in
    ``run.truth['scannerX_mm']``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    w0_mm : float
        Beam radius at 1/e² in mm.
    x0_mm : float
        Beam centre in mm.
    start, stop : float
        First and last knife-edge position in mm.
    nsteps : int
        Number of positions.
    """
    pos = slow.steps(run.ntrains, np.linspace(start, stop, int(nsteps)))
    trans = 0.5 * erfc(np.sqrt(2) * (pos - x0_mm) / w0_mm)
    add_beamline(
        run,
        timing.PulsePattern.constant(run.ntrains, sase3=(10, 1000, 24)),
        scanner_x=pos,
        digitizers={"transmission": trans},
    )
    run.truth["knife_edge"] = {
        "axis": "scannerX",
        "signal": "FastADC4peaks",
        "w0_mm": w0_mm,
        "x0_mm": x0_mm,
        "transmission": trans.tolist(),
        "model": "a * erfc(sqrt(2) * (x - x0) / w0) + b",
    }


@scenario("tim_peaks", trains=100, large_trains=2000)
def tim_peaks(run, npulses=20, step=4):
    """TIM peak extraction: 20 SASE3 pulses at 1.1 MHz, MCP2 raw traces.

    ``npulses`` SASE3 pulses every ``step`` slots (step 4: 1.1 MHz), MCP2 raw
    traces (440 samples per slot) and apd integrals on all MCPs, no BAM.
    ``size='large'`` gives 2000 trains for ``benchmarks/peaks.py``. Ground
    truth: ``run.truth['digitizers']['MCP2']`` (the injected peak integrals,
    ADC units) and the ``basic`` keys.

    Parameters
    ----------
    run : SimRun
        The run being built.
    npulses : int
        SASE3 pulses per train.
    step : int
        Slots between two SASE3 pulses (4.5 MHz / step).
    """
    add_beamline(
        run,
        timing.PulsePattern.constant(run.ntrains, sase3=(npulses, 1000, step)),
        bams=(),
        digitizers={"mcp_raw": ("MCP2",), "fadc_raw": False},
    )
