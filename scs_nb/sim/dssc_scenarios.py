"""DSSC scenarios: pump-probe delay scan, energy scan across a resonance, dark,
quadrant geometry, fine-delay setting.

The device model they drive, ``add_dssc``, and the expected signal are in ``sim.dssc``.
"""

from __future__ import annotations

import numpy as np

from ..facility import DSSC_QUAD_POS as QUAD_POS
from ..facility.sources import DSSC_FINE_DELAY_KEY, DSSC_PPT
from ..routines.laser import delayToPosition, positionToDelay
from . import slow, timing
from .beamline import add_beamline
from .dssc import (
    _modules_opt,
    _sase3_slots,
    _true_energies,
    add_dssc,
)
from .registry import scenario
from .writer import ControlSource


@scenario("dssc_delay_scan", trains=40, large_trains=400)
def dssc_delay_scan(
    run,
    modules="all",
    npulses=10,
    intra_darks=False,
    start=-1.0,
    stop=4.0,
    nsteps=11,
    bam="BAM1932M",
    **dssc,
):
    """DSSC pump-probe delay scan: two scattering rings drop on pumping and recover.

    SASE3 pulses with the pump laser on every second pulse (pattern
    pumped/unpumped), the delay line stepped over delays (-1..4 ps in 11
    steps); the rings (q = 0.38, 0.75 nm^-1) drop on pumping and recover
    exponentially. The true delay is the nominal one minus the BAM drift.
    Ground truth: ``run.truth['dssc']`` (see ``add_dssc``) with
    ``delay_nominal_ps``, ``delay_setpoints_ps`` and ``bam``;
    ``run.truth['scan']`` with the delay-line ``setpoints`` (mm) and
    ``delay_ps``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    modules : str or sequence of int
        DSSC modules: 'all', '0,1,...' or a list.
    npulses : int
        SASE3 pulses per train.
    intra_darks : bool
        Two frames per pulse, the second a dark.
    start, stop : float
        First and last nominal delay in ps.
    nsteps : int
        Number of delays.
    bam : str
        The BAM whose drift shifts the true delay.
    **dssc
        Further options of ``add_dssc`` (``gain``, ``noise``, ``rings``,
        ``photons_per_uJ``, ``distance_m``, ...).
    """
    npulses = int(npulses)
    first, step = _sase3_slots(npulses)
    pat = timing.PulsePattern.constant(
        run.ntrains, sase3=(npulses, first, step), ppl=((npulses + 1) // 2, first, 2 * step)
    )
    nominal = np.linspace(start, stop, int(nsteps))
    pos = delayToPosition(nominal)
    add_beamline(run, pat, delay_mm=slow.steps(run.ntrains, pos))
    nominal_ps = positionToDelay(np.asarray(run.truth["delay_line_mm"]))
    bam_ps = np.asarray(run.truth["bam"][bam]["drift_fs"]) * 1e-3
    true_delay = nominal_ps - bam_ps
    pumped = [np.isin(s, p) for s, p in zip(pat.sase3, pat.ppl)]
    truth = add_dssc(
        run,
        _modules_opt(modules),
        2 if intra_darks else 1,
        _true_energies(run),
        true_delay,
        pumped,
        **dssc,
    )
    truth["delay_nominal_ps"] = nominal_ps.tolist()
    truth["delay_setpoints_ps"] = nominal.tolist()
    truth["bam"] = bam
    run.truth["scan"] = {
        "mnemonic": "PP800_DelayLine",
        "setpoints": pos.tolist(),
        "delay_ps": nominal.tolist(),
    }


@scenario("dssc_energy_scan", trains=44, large_trains=440)
def dssc_energy_scan(run, modules="all", npulses=10, start=925.0, stop=935.0, nsteps=11, **dssc):
    """DSSC photon energy scan 925..935 eV across a resonance of the rings at 930 eV.

    The mono stepped in 11 steps; the scattering rings are resonant at 930 eV
    (Lorentzian, FWHM 3 eV, 3x at the peak). Ground truth:
    ``run.truth['dssc']`` (see ``add_dssc``) with ``resonance``;
    ``run.truth['scan']`` = ``{'mnemonic': 'nrj', 'setpoints': [eV, ...]}``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    modules : str or sequence of int
        DSSC modules: 'all', '0,1,...' or a list.
    npulses : int
        SASE3 pulses per train.
    start, stop : float
        First and last photon energy in eV.
    nsteps : int
        Number of energy steps.
    **dssc
        Further options of ``add_dssc`` (``gain``, ``noise``, ``rings``,
        ``photons_per_uJ``, ``distance_m``, ...).

    Returns
    -------
    dict
        ``run.truth['dssc']``.
    """
    pat = timing.PulsePattern.constant(run.ntrains, sase3=(int(npulses),) + _sase3_slots(npulses))
    setpoints = np.linspace(start, stop, int(nsteps))
    nrj = slow.steps(run.ntrains, setpoints)
    add_beamline(run, pat, nrj=nrj)
    dssc.setdefault("resonance_params", {"e0_eV": 930.0, "gamma_eV": 1.5, "strength": 2.0})
    truth = add_dssc(run, _modules_opt(modules), 1, _true_energies(run), energy_ev=nrj, **dssc)
    run.truth["scan"] = {"mnemonic": "nrj", "setpoints": setpoints.tolist()}
    return truth


@scenario("dssc_dark", trains=20, large_trains=200)
def dssc_dark(run, modules="all", npulses=10, intra_darks=False, **dssc):
    """DSSC dark run (X-rays blocked): same dark offsets as the data scenarios.

    Ground truth: ``run.truth['dssc']`` (see ``add_dssc``), ``dark_only``
    True; the offsets (ADU) follow from ``dark_offsets(dark_seed, module,
    frames)``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    modules : str or sequence of int
        DSSC modules: 'all', '0,1,...' or a list.
    npulses : int
        SASE3 pulses (frames) per train.
    intra_darks : bool
        Two frames per pulse.
    **dssc
        Further options of ``add_dssc`` (``gain``, ``noise``, ``rings``,
        ``photons_per_uJ``, ``distance_m``, ...).
    """
    pat = timing.PulsePattern.constant(run.ntrains, sase3=(int(npulses),) + _sase3_slots(npulses))
    add_beamline(run, pat)
    add_dssc(run, _modules_opt(modules), 2 if intra_darks else 1, dark_only=True, **dssc)


#: quadrant offsets (mm) of the ``dssc_geometry`` scenario: the true quadrant
#: positions are ``DSSC_QUAD_POS`` + these (about 1.5 to 4 pixels)
GEOMETRY_OFFSETS_MM = ((0.8, -0.5), (-0.6, 0.4), (0.5, 0.7), (-0.4, -0.9))


def _offsets_opt(offsets):
    if isinstance(offsets, str):
        vals = [float(v) for v in offsets.replace(";", ",").split(",") if v.strip()]
        offsets = list(zip(vals[0::2], vals[1::2]))
    off = np.asarray(offsets, float)
    if off.shape != (4, 2):
        raise ValueError(f"quad_offsets: 4 (dx, dy) pairs in mm, got {offsets!r}")
    return off


@scenario("dssc_geometry", trains=4, large_trains=40)
def dssc_geometry_scenario(run, modules="0,7,8,15", npulses=2, quad_offsets=None, **dssc):
    """DSSC quadrant geometry: one strong ring on quadrants moved by known offsets.

    One scattering ring (q = 0.5 nm^-1, 0.5 m, 930 eV) rendered on a geometry
    whose four quadrants are moved from the nominal ``DSSC_QUAD_POS`` by known
    offsets (mm, default (0.8, -0.5) (-0.6, 0.4) (0.5, 0.7) (-0.4, -0.9)).
    Ground truth: ``run.truth['dssc']['quad_offsets_mm']`` and
    ``['nominal_quad_pos']`` (mm).

    Parameters
    ----------
    run : SimRun
        The run being built.
    modules : str or sequence of int
        DSSC modules; default the inner one of each quadrant.
    npulses : int
        SASE3 pulses per train.
    quad_offsets : str or sequence of 4 (dx, dy) pairs, optional
        Quadrant offsets in mm, ``'dx0,dy0,dx1,dy1,...'`` on the command
        line; default ``GEOMETRY_OFFSETS_MM``.
    **dssc
        Further options of ``add_dssc`` (``gain``, ``noise``, ``rings``,
        ``photons_per_uJ``, ``distance_m``, ...).

    Returns
    -------
    dict
        ``run.truth['dssc']``.
    """
    off = _offsets_opt(GEOMETRY_OFFSETS_MM if quad_offsets is None else quad_offsets)
    quad = (np.asarray(QUAD_POS, float) + off).tolist()
    pat = timing.PulsePattern.constant(run.ntrains, sase3=(int(npulses),) + _sase3_slots(npulses))
    add_beamline(run, pat)
    dssc.setdefault(
        "rings",
        ({"q_nm": 0.5, "sigma_q_nm": 0.02, "amplitude": 2.0, "depth": 0.0, "tau_ps": 1.0},),
    )
    truth = add_dssc(run, _modules_opt(modules), 1, _true_energies(run), quad_pos=quad, **dssc)
    truth["quad_offsets_mm"] = off.tolist()
    truth["nominal_quad_pos"] = [list(q) for q in QUAD_POS]
    return truth


#: DSSC fine trigger delay response of the ``dssc_fine_delay`` scenario
#: (inferred model): the gain seen by the X-ray signal is
#: ``gain * exp(-0.5 ((fine_delay - optimum) / width) ** 2)``
FINE_DELAY_OPTIMUM = 38.0
FINE_DELAY_WIDTH = 9.0


def fine_delay_response(fine_delay, optimum=FINE_DELAY_OPTIMUM, width=FINE_DELAY_WIDTH):
    """Relative X-ray signal at a DSSC fine-delay setting (a Gaussian).

    Parameters
    ----------
    fine_delay, optimum, width : float
        Setting, best setting and width of the response, in fine-delay units.

    Returns
    -------
    float
        ``exp(-0.5 ((fine_delay - optimum) / width)**2)``, 0..1.
    """
    return float(np.exp(-0.5 * ((float(fine_delay) - optimum) / width) ** 2))


@scenario("dssc_fine_delay", trains=4, large_trains=40)
def dssc_fine_delay(
    run,
    fine_delay=38.0,
    optimum=FINE_DELAY_OPTIMUM,
    width=FINE_DELAY_WIDTH,
    modules="0",
    npulses=4,
    gain=2.0,
    **dssc,
):
    """DSSC fine trigger delay: one run at the fine delay setting ``fine_delay``.

    The setting is written by the PPT device (mnemonic ``DSSC_fineDelay``);
    the X-ray signal scales as ``exp(-0.5 ((fine_delay - optimum) / width)^2)``,
    optimum 38, width 9 (inferred model). Simulate runs at several settings to
    scan it. Ground truth: ``run.truth['dssc']`` with ``fine_delay``,
    ``fine_delay_optimum``, ``fine_delay_width`` and ``fine_delay_response``;
    ``run.truth['scan']`` with the setting.

    Parameters
    ----------
    run : SimRun
        The run being built.
    fine_delay : float
        The fine delay setting (fine-delay units).
    optimum, width : float
        Best setting and width of the response (fine-delay units).
    modules : str or sequence of int
        DSSC modules; default module 0.
    npulses : int
        SASE3 pulses per train.
    gain : float
        ADU per photon at the optimum.
    **dssc
        Further options of ``add_dssc`` (``gain``, ``noise``, ``rings``,
        ``photons_per_uJ``, ``distance_m``, ...).

    Returns
    -------
    dict
        ``run.truth['dssc']``.
    """
    pat = timing.PulsePattern.constant(run.ntrains, sase3=(int(npulses),) + _sase3_slots(npulses))
    add_beamline(run, pat)
    fd = float(fine_delay)
    run.add(
        ControlSource(
            DSSC_PPT, "DsscPpt", {DSSC_FINE_DELAY_KEY: np.full(run.ntrains, fd, np.float64)}
        )
    )
    resp = fine_delay_response(fd, float(optimum), float(width))
    truth = add_dssc(run, _modules_opt(modules), 1, _true_energies(run), gain=gain * resp, **dssc)
    truth.update(
        {
            "fine_delay": fd,
            "fine_delay_optimum": float(optimum),
            "fine_delay_width": float(width),
            "fine_delay_response": resp,
        }
    )
    run.truth["scan"] = {"mnemonic": "DSSC_fineDelay", "setpoints": [fd]}
    return truth
