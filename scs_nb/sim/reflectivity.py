"""Transient reflectivity: the PP laser probes a sample pumped by the FEL.

Physics and layout
------------------
* Pulse pattern: the PP laser fires every 24 slots (2 n pulses), the FEL on
  every other laser pulse (n pulses): laser pulses 0, 2, 4, ... are pumped,
  1, 3, 5, ... unpumped (the ToolBox's default scheme). With
  ``alternate_trains=True`` laser and FEL share n slots and the FEL is on in
  even trains only (``reflectivity(..., alternateTrains=True)``).
* The delay line is stepped; the pump-probe delay of a pumped pulse is
  ``t = 2 (pos - t0_mm) / c - bam`` (ps), ``bam`` the FEL arrival time of that
  pulse as the BAM1932S records it (drift over the run plus jitter per bunch):
  a FEL pulse arriving later shortens the delay.
* Response: ``Delta R / R (%) = (a1 exp(-t/tau1) + a2 exp(-t/tau2)) H(t)``
  convolved with a Gaussian of rms ``sigma_ps`` (the intrinsic rise) —
  ``scs_nb.routines.reflectivity.double_exp_step`` with c = 0.
* FastADC channel 5 (``FastADC5peaks``, Io) sees the laser pulse energy,
  channel 3 (``FastADC3peaks``, Ir) ``reflectance * Io * (1 + DeltaR/100)``;
  both with the FastADC on-board integration noise.

``truth['reflectivity']``: t0_mm, t0_ps (the delay of overlap relative to
position 0 at zero BAM), sigma_ps, a1, tau1_ps, a2, tau2_ps, BAM drift and
jitter, and the per-train, per-pumped-pulse true delays.
"""

from __future__ import annotations

import numpy as np

from ..facility import C_MM_PER_PS
from ..routines.reflectivity import double_exp_step
from . import bam, digitizers, slow, timing
from .beamline import add_beamline
from .registry import scenario

BAM_NAME = "BAM1932S"


def response(t_ps, a1, tau1, a2, tau2, sigma):
    """Injected relative reflectivity change vs delay (double-exponential step).

    Parameters
    ----------
    t_ps : float or array of float
        Delay from time zero in ps.
    a1, a2 : float
        Amplitudes of the fast and slow components.
    tau1, tau2 : float
        Their decay times in ps.
    sigma : float
        Rise time (Gaussian sigma) in ps.

    Returns
    -------
    numpy.ndarray of float
        Delta R / R.
    """
    return double_exp_step(t_ps, 0.0, sigma, a1, tau1, a2, tau2, 0.0)


def add_reflectivity(
    run,
    t0_mm,
    sigma_ps,
    a1,
    tau1,
    a2,
    tau2,
    reflectance=0.5,
    io_amplitude=20000.0,
    io_jitter=0.05,
    pos=None,
):
    """Write the FastADC Io / Ir photodiodes on the PP-laser pulses (see the module).

    Parameters
    ----------
    run : SimRun
        The run being built (after the BAM ``BAM_NAME``).
    t0_mm : float
        Delay-line position of time zero in mm.
    sigma_ps : float
        Rise time (Gaussian sigma) in ps.
    a1, a2 : float
        Amplitudes (%) of the fast and slow components.
    tau1, tau2 : float
        Their decay times in ps.
    reflectance : float
        Ir / Io without pump.
    io_amplitude : float
        Mean Io peak integral in ADC units.
    io_jitter : float
        Relative rms pulse-to-pulse jitter of Io.
    pos : array of float
        Delay-line position per train in mm.

    Returns
    -------
    list of list of float
        Per train, the true delays (ps) of the pumped laser pulses.
    """
    pat = run.pattern
    n = run.ntrains
    rng = run.rng_for("reflectivity laser")
    arrival_fs = run.truth["bam"][BAM_NAME]["sa3_arrival_fs"]
    io_amps, ir_amps, delays = [], [], []
    for i in range(n):
        ppl = np.asarray(pat.ppl[i])
        fel = set(np.asarray(pat.sase3[i]).tolist())
        io = io_amplitude * (1 + io_jitter * rng.standard_normal(len(ppl)))
        pumped = np.array([s in fel for s in ppl])
        bam_ps = np.asarray(arrival_fs[i], float) / 1000.0  # one per FEL pulse, in order
        t = np.full(len(ppl), np.nan)
        t[pumped] = 2 * (pos[i] - t0_mm) / C_MM_PER_PS - bam_ps[: pumped.sum()]
        dr = np.where(
            pumped, response(np.nan_to_num(t, nan=-1e3), a1, tau1, a2, tau2, sigma_ps), 0.0
        )
        io_amps.append(io)
        ir_amps.append(reflectance * io * (1 + dr / 100))
        delays.append(t[pumped].tolist())
    chans = []
    for num, amps, desc in (
        (5, io_amps, "Io: PP laser before the sample"),
        (3, ir_amps, "Ir: PP laser reflected by the sample"),
    ):
        ch = digitizers._Channel(
            f"FastADC{num}",
            f"channel_{num}",
            "FastADC",
            "scs_ppl",
            pat.ppl,
            amps,
            False,
            1.0,
            desc,
        )
        ch.key = f"channel_{num}"
        chans.append(ch)
    slots = digitizers._union(list(pat.ppl))
    digitizers._board(run, "FastADC", digitizers.FADC, chans, slots)
    truth = run.truth.setdefault("digitizers", {})
    for ch in chans:
        truth[ch.name] = digitizers._truth(ch, f"{digitizers.FADC}:{ch.key}.output", "FastADC")
    return delays


@scenario("reflectivity", trains=300)
def reflectivity_scan(
    run,
    t0_mm=0.15,
    sigma_ps=0.06,
    a1=-3.0,
    tau1_ps=0.25,
    a2=-1.5,
    tau2_ps=2.0,
    start=0.0,
    stop=1.0,
    nsteps=101,
    npumped=10,
    bam_drift_fs=250.0,
    bam_jitter_fs=120.0,
    alternate_trains=False,
):
    """Transient reflectivity delay scan: FastADC5 = Io, FastADC3 = Ir on the PP laser.

    PP laser every 24 slots (20 pulses), FEL on every other laser pulse;
    response -(3 exp(-t/0.25 ps) + 1.5 exp(-t/2 ps)) % with 60 fs rise, time
    zero at 0.15 mm; BAM1932S with 250 fs drift and 120 fs jitter. Ground
    truth: ``run.truth['reflectivity']`` (see the module) and
    ``run.truth['scan']`` with the delay-line set-points (mm).

    Parameters
    ----------
    run : SimRun
        The run being built.
    t0_mm : float
        Delay-line position of time zero in mm.
    sigma_ps : float
        Rise time (Gaussian sigma) in ps.
    a1, a2 : float
        Amplitudes (%) of the fast and slow components.
    tau1_ps, tau2_ps : float
        Their decay times in ps.
    start, stop : float
        First and last delay-line position in mm.
    nsteps : int
        Number of positions.
    npumped : int
        Pumped (FEL) pulses per train.
    bam_drift_fs, bam_jitter_fs : float
        Drift over the run and rms jitter of the BAM in fs.
    alternate_trains : bool
        Every laser pulse pumped in even trains, none in odd trains (instead
        of every other pulse pumped).
    """
    npumped = int(npumped)
    if alternate_trains:
        # every laser pulse pumped in even trains (train id), none in odd trains
        pat = timing.PulsePattern.constant(
            run.ntrains, sase3=(npumped, 1000, 48), ppl=(npumped, 1000, 48)
        )
        pat.set_trains("sase3", run.train_ids % 2 == 1, None)
    else:
        pat = timing.PulsePattern.constant(
            run.ntrains, sase3=(npumped, 1000, 48), ppl=(2 * npumped, 1000, 24)
        )
    pos = slow.steps(run.ntrains, np.linspace(start, stop, int(nsteps)))
    add_beamline(
        run, pat, delay_mm=pos, bams=(), digitizers={"fel_pd_channel": None, "ppl_channel": None}
    )
    bam.add_bam(
        run, BAM_NAME, drift_fs=bam_drift_fs, jitter_fs=bam_jitter_fs, offset_fs=-bam_drift_fs / 2
    )
    delays = add_reflectivity(run, t0_mm, sigma_ps, a1, tau1_ps, a2, tau2_ps, pos=pos)
    run.truth["reflectivity"] = {
        "t0_mm": t0_mm,
        "t0_ps": 2 * t0_mm / C_MM_PER_PS,
        "sigma_ps": sigma_ps,
        "a1": a1,
        "tau1_ps": tau1_ps,
        "a2": a2,
        "tau2_ps": tau2_ps,
        "Io": "FastADC5peaks",
        "Ir": "FastADC3peaks",
        "bam": BAM_NAME,
        "bam_drift_fs": bam_drift_fs,
        "bam_jitter_fs": bam_jitter_fs,
        "delay_ps": delays,
        "model": "(a1 exp(-t/tau1) + a2 exp(-t/tau2)) H(t) * Gaussian(sigma_ps), "
        "t = 2 (pos - t0_mm)/c - BAM",
    }
    run.truth["scan"] = {
        "mnemonic": "PP800_DelayLine",
        "setpoints": np.linspace(start, stop, int(nsteps)).tolist(),
    }
