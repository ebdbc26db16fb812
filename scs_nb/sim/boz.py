"""BOZ: one DSSC module seeing the three beams of a beam-splitting off-axis zone plate.

The zone plate splits the SASE3 beam into its -1st (``n``), 0th (``0``) and +1st
(``p``) orders, which cross three membranes and land side by side on one DSSC
module (written with the file layout and dark model of ``sim.dssc``). Per frame
(pulse energy ``E`` µJ, pointing jitter ``(dx, dy)`` pixels)::

    phot_b(x, y) ~ Poisson(E * photons_per_uJ * B(x - x_b - dx, y - y_b - dy) * z_b(x, y) * T_b)
    s            = dark(x, y, cell) + phot / gain + N(0, noise)       (linear ADU; gain in ph/ADU)
    raw          = clip(round(N(s)), 0, 511)                          (9-bit ADC, non-linear)

``B = exp(-((x/Rx)^2 + (y/Ry)^2)^2 / 2)`` is the footprint (a super-Gaussian: the
image of the zone plate aperture, with steep edges), the same for the three beams; ``z_0 = 1`` and
``z_n``, ``z_p`` are the flat-field planes ``z = -(a x + b y + d) / c`` in pixel
coordinates relative to the ROI centre (x along the 512 axis, in mm: column
offset * 0.236, y: row offset * 0.204), mirror images of each other
(``x -> -x``). ``N`` is the inverse of the injected non-linearity lookup table
``F_true[v] = v + dev(v)`` (the correction: raw value -> linear ADU), so a perfect
correction is ``F_true``. Intra-darks: frame 2k sees pulse k, frame 2k+1 is dark.
``T_b`` is 1 for the empty membranes; for the sample runs ``T_0 = 1`` (the
reference membrane) while ``n`` crosses the unpumped and ``p`` the pumped sample:
``T = exp(-mu(E_ph - shift * r(t)))``, ``mu(E) = pre + jump * (1/2 + atan((E - e0)/w)/pi)``,
``r(t) = H(t) exp(-t / tau)`` (t: true delay in ps). Pixels more than 8 pixels away
from the beams' ROIs see the dark only and are drawn from a bank of pre-rendered
dark frames per memory cell (up to 32, none repeated within 32 trains; the ROI pixels
get fresh noise in every frame).
A few bad pixels (noise 25 ADU, same in every run) are listed in the truth.
"""

from __future__ import annotations

import numpy as np

from ..facility import DSSC_ADC_MAX as ADC_MAX
from ..facility import DSSC_MODULE_SHAPE as MODULE_SHAPE
from ..facility import DSSC_PIXEL_SIZE_M
from ..facility.sources import dssc_module_source as module_source
from ..routines.laser import delayToPosition, positionToDelay
from . import slow, timing
from .beamline import add_beamline
from .dssc import _frame_labels, _sase3_slots, _true_energies, dark_offsets
from .registry import scenario
from .writer import InstrumentSource

PIX_MM = (DSSC_PIXEL_SIZE_M[0] * 1e3, DSSC_PIXEL_SIZE_M[1] * 1e3)  # (x, y) pitch, mm

#: beams: centre column, centre row (module pixels)
BEAM_X = {"n": 100, "0": 256, "p": 412}
BEAM_Y = 64
#: footprint radii (pixels, x along the 512 axis, y along the 128 axis)
RADIUS_PX = (20.0, 16.0)
#: flat-field plane of 'n' as [a, b, c, d] (a x + b y + c z + d = 0, x/y in mm)
PLANE_N = [0.012, -0.008, -1.0, 0.85]
#: the non-linearity: dev(v) = A1 sin(2 pi v / 512) + A2 sin(6 pi v / 512 + 0.7), ADU
NL_AMPLITUDES = (9.0, 3.0)

EDGE = {
    "e0_eV": 707.0,
    "width_eV": 1.0,
    "pre": 0.2,
    "jump": 0.8,
    "shift_eV": 0.6,
    "tau_ps": 2.0,
    "t0_ps": 0.0,
}


def plane_z(plane, x_mm, y_mm, mirror=False):
    """Height of the flat-field plane ``a x + b y + c z + d = 0`` at (x, y).

    Parameters
    ----------
    plane : sequence of 4 float
        ``(a, b, c, d)``.
    x_mm, y_mm : float or array of float
        Position on the module in mm.
    mirror : bool
        Mirror x (the second beam's ROI is mirrored).

    Returns
    -------
    numpy.ndarray of float
        ``z = -(a x + b y + d) / c``.
    """
    a, b, c, d = plane
    x = -np.asarray(x_mm) if mirror else np.asarray(x_mm)
    return -(a * x + b * np.asarray(y_mm) + d) / c


def true_lut(amplitudes=NL_AMPLITUDES):
    """The correction of the injected 9-bit non-linearity, ``F_true[v] = v + dev(v)``.

    Parameters
    ----------
    amplitudes : pair of float
        ``(A1, A2)`` in ADU of ``dev(v) = A1 sin(2 pi v / 512) + A2 sin(6 pi v
        / 512 + 0.7)``.

    Returns
    -------
    numpy.ndarray of float, shape (512,)
        ``F_true[v]`` (ADU) for the raw values ``v = 0..511``.
    """
    v = np.arange(ADC_MAX + 1, dtype=float)
    a1, a2 = amplitudes
    return v + a1 * np.sin(2 * np.pi * v / 512) + a2 * np.sin(6 * np.pi * v / 512 + 0.7)


_ADC_RES = 64  # table steps per ADU of the inverse lookup
_ADC_LO = -64.0


def adc_table(lut):
    """Tabulate the rounded inverse of a lookup table (exact to 1/64 ADU).

    Parameters
    ----------
    lut : numpy.ndarray of float
        The correction ``F_true[v]`` (ADU) of the raw values ``v``, increasing
        (see ``true_lut``).

    Returns
    -------
    numpy.ndarray of uint16
        Entry ``i``: the raw value of the linear signal ``_ADC_LO + i /
        _ADC_RES`` (ADU), clipped to ``0..ADC_MAX``.
    """
    s = _ADC_LO + np.arange(int((lut[-1] + 64 - _ADC_LO) * _ADC_RES)) / _ADC_RES
    v = np.interp(s, lut, np.arange(lut.size, dtype=float))
    return np.clip(np.floor(v + 0.5), 0, ADC_MAX).astype(np.uint16)


def _adc(s, table):
    """Raw 9-bit values of linear signals s (through ``adc_table``)."""
    i = ((s - _ADC_LO) * _ADC_RES).astype(np.int32)
    np.clip(i, 0, table.size - 1, out=i)
    return table[i]


def mu_edge(energy_ev, edge=EDGE):
    """Absorption of the sample around its edge: an arctan step.

    Parameters
    ----------
    energy_ev : float or array of float
        Photon energy in eV.
    edge : dict
        ``pre``, ``jump`` (absorption), ``e0_eV``, ``width_eV`` (eV).

    Returns
    -------
    numpy.ndarray of float
        The absorption ``mu * thickness`` (dimensionless).
    """
    e = np.asarray(energy_ev, float)
    return edge["pre"] + edge["jump"] * (
        0.5 + np.arctan((e - edge["e0_eV"]) / edge["width_eV"]) / np.pi
    )


def pump_response(delay_ps, edge=EDGE):
    """Pump effect vs delay: 0 before time zero, then ``exp(-t / tau)``.

    Parameters
    ----------
    delay_ps : float or array of float
        True pump-probe delay in ps.
    edge : dict
        ``t0_ps`` (time zero) and ``tau_ps`` (decay), in ps.

    Returns
    -------
    numpy.ndarray of float
        Relative response, 0..1.
    """
    t = np.asarray(delay_ps, float) - edge["t0_ps"]
    return np.where(t >= 0, np.exp(-np.clip(t, 0, None) / edge["tau_ps"]), 0.0)


def transmissions(energy_ev, delay_ps, edge=EDGE):
    """Transmissions of the unpumped and the pumped sample.

    Parameters
    ----------
    energy_ev : float or array of float
        Photon energy in eV.
    delay_ps : float or array of float
        True pump-probe delay in ps.
    edge : dict
        The edge (see ``mu_edge``) and ``shift_eV``, the edge shift of the
        pumped sample at full pump response.

    Returns
    -------
    T_n, T_p : numpy.ndarray of float
        Transmission (0..1) of the unpumped and the pumped sample.
    """
    tn = np.exp(-mu_edge(energy_ev, edge))
    tp = np.exp(
        -mu_edge(
            np.asarray(energy_ev, float) - edge["shift_eV"] * pump_response(delay_ps, edge), edge
        )
    )
    return tn, tp


def footprint(dx, dy):
    """The beam footprint, a super-Gaussian of radii ``RADIUS_PX``.

    Parameters
    ----------
    dx, dy : float or array of float
        Offsets from the beam centre in px (x along the 512 axis, y along the
        128 axis).

    Returns
    -------
    numpy.ndarray of float
        Relative intensity, 1 at the centre.
    """
    u = (np.asarray(dx) / RADIUS_PX[0]) ** 2 + (np.asarray(dy) / RADIUS_PX[1]) ** 2
    return np.exp(-0.5 * u * u)


def rois_truth(extent=2.0):
    """The beams' extent as ROIs, ``extent`` radii from their centres.

    Parameters
    ----------
    extent : float
        Half-size of the ROIs in footprint radii (2: footprint e^-8).

    Returns
    -------
    dict
        Beam ('n', '0', 'p') -> ROI ``{'xl', 'xh', 'yl', 'yh'}`` in module px
        (upper bounds exclusive).
    """
    hx, hy = int(np.ceil(extent * RADIUS_PX[0])), int(np.ceil(extent * RADIUS_PX[1]))
    return {
        b: {"xl": x - hx, "xh": x + hx + 1, "yl": BEAM_Y - hy, "yh": BEAM_Y + hy + 1}
        for b, x in BEAM_X.items()
    }


def add_boz(
    run,
    module=15,
    intra_darks=True,
    energies_uj=None,
    transmission=None,
    dark_only=False,
    photons_per_uJ=1.9,
    gain=3.0,
    noise=0.7,
    jitter_px=2.0,
    plane=PLANE_N,
    nl_amplitudes=NL_AMPLITUDES,
    dark_seed=1234,
    nbad=25,
    trains_per_file=250,
):
    """Add one DSSC module with the three BOZ beams to a simulated run.

    Parameters
    ----------
    run : SimRun
        The run being built (``run.pattern`` gives the SASE3 pulses).
    module : int
        DSSC module number, 0..15.
    intra_darks : bool
        Every second frame is a dark (two frames per pulse).
    energies_uj : sequence of array of float, optional
        SASE3 pulse energies in µJ, one array per train; default 500 µJ.
    transmission : pair of array of float, optional
        Per-train transmissions ``(T_n, T_p)`` of the samples in the n and p
        beams; None: empty membranes, T = 1.
    dark_only : bool
        X-rays off: every frame is a dark.
    photons_per_uJ : float
        Photons of the footprint peak of the 0th order per µJ of pulse energy.
    gain : float
        Photons per ADU bin.
    noise : float
        Read noise in ADU (bad pixels: 25 ADU).
    jitter_px : float
        Rms beam pointing jitter in px.
    plane : sequence of 4 float
        Flat-field plane ``(a, b, c, d)`` of the n beam (x, y in mm); the p
        beam sees it mirrored.
    nl_amplitudes : pair of float
        Amplitudes (ADU) of the non-linearity (see ``true_lut``).
    dark_seed : int
        Seed of the dark offsets and bad pixels (the same in every run).
    nbad : int
        Number of noisy pixels.
    trains_per_file : int
        Trains per sequence file of the module.

    Returns
    -------
    dict
        The ground truth, also stored in ``run.truth['boz']``: ROIs (px),
        planes, LUT (ADU), gain (photons/ADU), dark means (ADU), bad pixels,
        ``T_n`` / ``T_p``, ...
    """
    pat = run.pattern
    n = run.ntrains
    npulse = len(pat.sase3[0])
    fpp = 2 if intra_darks else 1
    frames = npulse * fpp
    energies = (
        np.asarray([np.asarray(e, float) for e in energies_uj])
        if energies_uj is not None
        else np.full((n, npulse), 500.0)
    )
    tn, tp = (
        (np.ones(n), np.ones(n))
        if transmission is None
        else (np.asarray(transmission[0], float), np.asarray(transmission[1], float))
    )
    lut = true_lut(nl_amplitudes)
    table = adc_table(lut)
    rng_j = run.rng_for("BOZ pointing")
    jitter = rng_j.normal(0, jitter_px, (n, npulse, 2))
    pix, cell = dark_offsets(dark_seed, module, frames)
    # bad pixels (noisy, from the same seed as the dark: the same in every run)
    rng_b = np.random.default_rng([int(dark_seed), 4241, int(module)])
    bad = rng_b.choice(MODULE_SHAPE[0] * MODULE_SHAPE[1], int(nbad), replace=False)
    noise_map = np.full(MODULE_SHAPE[0] * MODULE_SHAPE[1], float(noise), np.float32)
    noise_map[bad] = 25.0
    yy, xx = np.mgrid[0 : MODULE_SHAPE[0], 0 : MODULE_SHAPE[1]]
    rois = rois_truth()
    # flat field per pixel (1 outside n/p), pixel coordinates relative to the ROI centres
    zmap = np.ones(MODULE_SHAPE)
    for b, mirror in (("n", False), ("p", True)):
        r = rois[b]
        sl = (slice(r["yl"], r["yh"]), slice(r["xl"], r["xh"]))
        xmm = (xx[sl] - BEAM_X[b]) * PIX_MM[0]
        ymm = (yy[sl] - BEAM_Y) * PIX_MM[1]
        zmap[sl] = plane_z(plane, xmm, ymm, mirror)
    truth = {
        "module": int(module),
        "source": module_source(module),
        "frames_per_train": frames,
        "npulses": npulse,
        "intra_darks": bool(intra_darks),
        "dark_only": bool(dark_only),
        "frame_pattern": ["dark"] * frames
        if dark_only
        else _frame_labels(np.zeros(npulse, bool), fpp),
        "gain_ph_per_adu": float(gain),
        "photons_per_uJ": float(photons_per_uJ),
        "noise_adu": float(noise),
        "jitter_px": float(jitter_px),
        "radius_px": list(RADIUS_PX),
        "beam_x": BEAM_X,
        "beam_y": BEAM_Y,
        "rois": rois,
        "plane_n": list(plane),
        "plane_p_mirror": True,
        "pixel_mm": list(PIX_MM),
        "lut": lut.tolist(),
        "nl_amplitudes": list(nl_amplitudes),
        "adc_max": ADC_MAX,
        "dark_seed": dark_seed,
        "dark_mean_adu": (float(pix.mean()) + cell).tolist(),
        "T_n": tn.tolist(),
        "T_p": tp.tolist(),
        "bad_pixels": np.stack(np.unravel_index(np.sort(bad), MODULE_SHAPE), 1).tolist(),
    }
    run.truth["boz"] = truth
    footprint_norm = float(footprint(*np.mgrid[-100:101, -100:101][::-1]).sum())
    truth["photons_per_uJ_beam0"] = float(photons_per_uJ * footprint_norm)
    bx = np.array([BEAM_X["n"], BEAM_X["0"], BEAM_X["p"]], float)
    # pixels near the beams (rendered with photons); the rest sees the dark only
    near = np.zeros(MODULE_SHAPE, bool)
    for r in rois.values():
        near[max(r["yl"] - 8, 0) : r["yh"] + 8, max(r["xl"] - 8, 0) : r["xh"] + 8] = True
    near_idx = np.flatnonzero(near)
    xn, yn = xx.ravel()[near_idx].astype(float), yy.ravel()[near_idx].astype(float)
    zn = zmap.ravel()[near_idx]
    owner = np.argmin(np.abs(xn[:, None] - bx[None]), axis=1)  # beam of each pixel
    pix_flat = pix.reshape(-1).astype(np.float32)
    rng = run.rng_for(f"BOZ DSSC module {module}")

    # pixels far from the beams: a bank of pre-rendered dark frames per memory cell
    far_idx = np.flatnonzero(~near.ravel())
    nbank = int(min(32, n))  # no repeat within a run of up to 32 trains
    bank = np.empty((frames, nbank, far_idx.size), np.uint16)
    for c in range(frames):
        z = rng.standard_normal((nbank, far_idx.size), dtype=np.float32)
        bank[c] = _adc(pix_flat[far_idx] + cell[c] + noise_map[far_idx] * z, table)
    pix_near = pix_flat[near_idx]
    noise_near = noise_map[near_idx]

    def fill(group, tix):
        nf = len(tix) * frames
        out = np.empty((nf, MODULE_SHAPE[0] * MODULE_SHAPE[1]), np.uint16)
        for j, i in enumerate(tix):
            s = rng.standard_normal((frames, near_idx.size), dtype=np.float32)
            s *= noise_near[None]
            s += pix_near[None]
            s += cell[:, None]
            if not dark_only:
                tb = np.array([tn[i], 1.0, tp[i]])[owner]
                for k in range(npulse):
                    dx, dy = jitter[i, k]
                    mu = (
                        energies[i, k]
                        * photons_per_uJ
                        * zn
                        * tb
                        * footprint(xn - bx[owner] - dx, yn - BEAM_Y - dy)
                    )
                    s[k * fpp] += rng.poisson(mu) * np.float32(1 / gain)
            blk = out[j * frames : (j + 1) * frames]
            blk[:, near_idx] = _adc(s, table)
            blk[:, far_idx] = bank[np.arange(frames), (int(i) + 3 * np.arange(frames)) % nbank]
        ids = np.tile(np.arange(frames), len(tix)).astype(np.uint64)[:, None]
        return {
            "image.data": out.reshape(nf, 1, *MODULE_SHAPE),
            "image.pulseId": ids,
            "image.cellId": ids.astype(np.uint16),
        }

    src = InstrumentSource(
        module_source(module),
        "DsscDetector",
        groups={
            "image": {
                "image.data": ((1,) + MODULE_SHAPE, np.uint16),
                "image.pulseId": ((1,), np.uint64),
                "image.cellId": ((1,), np.uint16),
            }
        },
        counts={"image": np.full(n, frames, np.uint64)},
        fill=fill,
        aggregator=f"DSSC{module:02d}",
        chunk_trains=max(1, 128 // frames),
    )
    src.trains_per_file = trains_per_file
    run.add(src)
    return truth


def _pattern(run, npulses):
    npulses = int(npulses)
    first, step = _sase3_slots(npulses)
    return timing.PulsePattern.constant(
        run.ntrains, sase3=(npulses, first, step), ppl=(npulses, first, step)
    )


# -- scenarios ---------------------------------------------------------------
@scenario("boz_dark", trains=20, large_trains=300)
def boz_dark(run, module=15, npulses=20, intra_darks=True, **kw):
    """BOZ dark run: one DSSC module (15), X-rays off, intra-darks.

    The dark offsets (ADU) of the BOZ membrane and sample runs (same
    ``dark_seed``), every second frame an intra-dark. Ground truth:
    ``run.truth['boz']`` (see ``add_boz``), ``dark_only`` True.

    Parameters
    ----------
    run : SimRun
        The run being built.
    module : int
        DSSC module number.
    npulses : int
        SASE3 pulses per train.
    intra_darks : bool
        Two frames per pulse, the second a dark.
    **kw
        Further options of ``add_boz`` (``gain``, ``photons_per_uJ``, ``noise``,
        ``jitter_px``, ...).
    """
    add_beamline(run, _pattern(run, npulses), digitizers=False)
    add_boz(run, int(module), bool(intra_darks), dark_only=True, **kw)


@scenario("boz_membranes", trains=50, large_trains=1000)
def boz_membranes(run, module=15, npulses=20, intra_darks=True, **kw):
    """BOZ on three empty membranes (T = 1): the n, 0, p beams on one DSSC module.

    Known flat-field planes, 9-bit non-linearity, gain 3 photons/ADU,
    pointing jitter (2 px rms), shot noise, intra-darks. Ground truth:
    ``run.truth['boz']`` (see ``add_boz``): ROIs (px), ``plane_n``, ``lut``
    (ADU), ``gain_ph_per_adu``, ``photons_per_uJ_beam0``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    module : int
        DSSC module number.
    npulses : int
        SASE3 pulses per train.
    intra_darks : bool
        Two frames per pulse, the second a dark.
    **kw
        Further options of ``add_boz`` (``gain``, ``photons_per_uJ``, ``noise``,
        ``jitter_px``, ...).
    """
    add_beamline(run, _pattern(run, npulses), digitizers=False)
    add_boz(run, int(module), bool(intra_darks), _true_energies(run), **kw)


@scenario("boz_energy_scan", trains=45, large_trains=600)
def boz_energy_scan(
    run, module=15, npulses=20, start=700.0, stop=714.0, nsteps=15, delay=1.0, **kw
):
    """BOZ sample energy scan across an absorption edge (e0 = 707 eV) at a 1 ps delay.

    700..714 eV in 15 steps at a fixed pump-probe delay: n crosses the
    unpumped sample, p the pumped one (edge shifted by 0.6 eV * exp(-t / 2
    ps)), 0 the reference membrane. Ground truth: ``run.truth['boz']`` (see
    ``add_boz``) with ``edge``, ``energy_eV`` and ``delay_ps`` per train;
    ``run.truth['scan']`` = ``{'mnemonic': 'nrj', 'setpoints': [eV, ...]}``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    module : int
        DSSC module number.
    npulses : int
        SASE3 pulses per train.
    start, stop : float
        First and last photon energy in eV.
    nsteps : int
        Number of energy steps.
    delay : float
        Pump-probe delay in ps.
    **kw
        Further options of ``add_boz`` (``gain``, ``photons_per_uJ``, ``noise``,
        ``jitter_px``, ...).
    """
    setpoints = np.linspace(start, stop, int(nsteps))
    nrj = slow.steps(run.ntrains, setpoints)
    add_beamline(
        run,
        _pattern(run, npulses),
        nrj=nrj,
        delay_mm=float(delayToPosition(float(delay))),
        digitizers=False,
    )
    e = np.asarray(run.truth["nrj_eV"], float)
    t = np.full(run.ntrains, float(delay))
    truth = add_boz(run, int(module), True, _true_energies(run), transmissions(e, t), **kw)
    truth.update(edge=EDGE, energy_eV=e.tolist(), delay_ps=t.tolist())
    run.truth["scan"] = {"mnemonic": "nrj", "setpoints": setpoints.tolist()}


@scenario("boz_delay_scan", trains=42, large_trains=600)
def boz_delay_scan(run, module=15, npulses=20, start=-1.0, stop=5.0, nsteps=7, energy=707.0, **kw):
    """BOZ sample delay scan at the edge (707 eV): delays -1..5 ps in 7 steps.

    p crosses the pumped sample (edge shift 0.6 eV, recovery 2 ps), n the
    unpumped one, 0 the reference membrane. Ground truth: ``run.truth['boz']``
    (see ``add_boz``) with ``edge``, ``energy_eV`` and ``delay_ps`` per train;
    ``run.truth['scan']`` with the delay-line ``setpoints`` (mm) and
    ``delay_ps``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    module : int
        DSSC module number.
    npulses : int
        SASE3 pulses per train.
    start, stop : float
        First and last pump-probe delay in ps.
    nsteps : int
        Number of delays.
    energy : float
        Photon energy in eV.
    **kw
        Further options of ``add_boz`` (``gain``, ``photons_per_uJ``, ``noise``,
        ``jitter_px``, ...).
    """
    setpoints = np.linspace(start, stop, int(nsteps))
    pos = delayToPosition(setpoints)
    add_beamline(
        run,
        _pattern(run, npulses),
        nrj=float(energy),
        delay_mm=slow.steps(run.ntrains, pos),
        digitizers=False,
    )
    t = positionToDelay(np.asarray(run.truth["delay_line_mm"], float))
    e = np.asarray(run.truth["nrj_eV"], float)
    truth = add_boz(run, int(module), True, _true_energies(run), transmissions(e, t), **kw)
    truth.update(edge=EDGE, energy_eV=e.tolist(), delay_ps=np.asarray(t).tolist())
    run.truth["scan"] = {
        "mnemonic": "PP800_DelayLine",
        "setpoints": pos.tolist(),
        "delay_ps": setpoints.tolist(),
    }
