"""DSSC 1M detector: 16 modules of 128 x 512 hexagonal pixels, 9-bit ADC.

One output channel per module, ``SCS_DET_DSSC1M-1/DET/{m}CH0:xtdf``, written to
its own file set ``RAW-R####-DSSC{m:02d}-S#####.h5`` as the DAQ does, with group
``image``: ``image.data`` uint16 (frames, 1, 128, 512), ``image.pulseId`` uint64
(frames, 1), ``image.cellId`` uint16 (frames, 1) and ``image.trainId``.

Physics of one frame (module m, train i, frame k)::

    photons ~ Poisson(E_ik * photons_per_uJ * (background + sum_r A_r f_r P_r(q)))
    ADU     = clip(round(dark_m(k) + gain * photons + N(0, noise)), 0, 511)

``E_ik`` is the true SASE3 pulse energy of the pulse seen by frame k (the SCS XGM
measures it with 1 % noise), ``P_r(q)`` a Gaussian scattering ring at a known
momentum transfer ``q`` (pixel q from ``extra_geom.DSSC_1MGeometry`` and the
sample-detector distance), ``A_r`` its amplitude (resonant in photon energy for
the energy scan) and ``f_r`` the pump-probe response, 1 for unpumped frames and
``1 - depth_r * H(t - t0) * exp(-(t - t0) / tau_r)`` for pumped frames at the
true delay ``t`` = delay line in ps - BAM arrival time (ps). The dark offset
``dark_m(k)`` = per-pixel offset + per-memory-cell offset, drawn from a seed that
does not depend on the run, so dark runs and data runs share it.

Large runs are written chunk by chunk; above ``exact_limit`` frames per module
the photon and electronic noise come from a small bank of pre-drawn normal
frames (Gaussian approximation of Poisson, same mean and variance) so that
multi-GB benchmark runs are simulated at memory speed.

The scenarios that drive this model are in ``sim.dssc_scenarios``.
"""

from __future__ import annotations

import math

import numpy as np

from ..facility import DSSC_ADC_MAX as ADC_MAX
from ..facility import DSSC_MODULE_SHAPE as MODULE_SHAPE
from ..facility import DSSC_NMODULES as NMODULES
from ..facility import DSSC_QUAD_POS as QUAD_POS
from ..facility import HC_EV_NM, dssc_geometry
from ..facility.sources import DSSC_MODULE
from ..facility.sources import dssc_module_source as module_source
from .writer import InstrumentSource

NPIX = MODULE_SHAPE[0] * MODULE_SHAPE[1]

DEFAULT_RINGS = (
    {"q_nm": 0.38, "sigma_q_nm": 0.03, "amplitude": 1.0, "depth": 0.4, "tau_ps": 1.5},
    {"q_nm": 0.75, "sigma_q_nm": 0.05, "amplitude": 0.6, "depth": 0.25, "tau_ps": 4.0},
)


# -- geometry and the scattering pattern -------------------------------------
_GEOM_CACHE: dict = {}


def pixel_radius(quad_pos=None):
    """Distance of every pixel centre from the beam.

    Parameters
    ----------
    quad_pos : sequence of 4 (x, y) pairs, optional
        Quadrant positions in mm; default the facility's ``DSSC_QUAD_POS``.

    Returns
    -------
    numpy.ndarray of float32, shape (16, 128, 512)
        Radius in m (cached for the last geometry).
    """
    key = tuple(map(tuple, quad_pos or QUAD_POS))
    if key not in _GEOM_CACHE:
        geom = dssc_geometry(key)
        pos = geom.get_pixel_positions()
        _GEOM_CACHE.clear()
        _GEOM_CACHE[key] = np.hypot(pos[..., 0], pos[..., 1]).astype(np.float32)
    return _GEOM_CACHE[key]


def pixel_q(energy_ev, distance_m, quad_pos=None):
    """Momentum transfer of every pixel.

    Parameters
    ----------
    energy_ev : float
        Photon energy in eV.
    distance_m : float
        Sample-detector distance in m.
    quad_pos : sequence of 4 (x, y) pairs, optional
        Quadrant positions in mm (see ``pixel_radius``).

    Returns
    -------
    numpy.ndarray of float32, shape (16, 128, 512)
        q in nm^-1.
    """
    r = pixel_radius(quad_pos).astype(np.float64)
    lam = HC_EV_NM / float(energy_ev)
    theta = np.arctan(r / float(distance_m))
    return (4 * np.pi / lam * np.sin(theta / 2)).astype(np.float32)


def ring_profiles(truth_dssc: dict, energy_ev: float, modules=None):
    """Ring profiles P_r of the scattering rings at one photon energy.

    Parameters
    ----------
    truth_dssc : dict
        ``run.truth['dssc']`` (``rings``, ``distance_m``, ``quad_pos``).
    energy_ev : float
        Photon energy in eV.
    modules : sequence of int, optional
        Modules to return; default all 16.

    Returns
    -------
    numpy.ndarray of float32, shape (ring, module, 128, 512)
        Gaussian profiles in q, 1 at each ring's centre.
    """
    q = pixel_q(energy_ev, truth_dssc["distance_m"], truth_dssc["quad_pos"])
    if modules is not None:
        q = q[list(modules)]
    return np.stack(
        [np.exp(-0.5 * ((q - r["q_nm"]) / r["sigma_q_nm"]) ** 2) for r in truth_dssc["rings"]]
    ).astype(np.float32)


def ring_factor(ring: dict, delay_ps, pumped, t0_ps=0.0):
    """Pump-probe response f_r(t) of one ring.

    Parameters
    ----------
    ring : dict
        ``depth`` (relative drop) and ``tau_ps`` (recovery time, ps).
    delay_ps : float or array of float
        True pump-probe delay in ps.
    pumped : bool or array of bool
        Whether the frame is pumped.
    t0_ps : float
        Time zero in ps.

    Returns
    -------
    numpy.ndarray of float
        1 if not pumped, else ``1 - depth * H(t - t0) * exp(-(t - t0) / tau)``.
    """
    t = np.asarray(delay_ps, float) - t0_ps
    resp = np.where(t >= 0, np.exp(-np.clip(t, 0, None) / ring["tau_ps"]), 0.0)
    return np.where(np.asarray(pumped, bool), 1 - ring["depth"] * resp, 1.0)


def resonance(truth_dssc: dict, energy_ev):
    """Amplitude factor of the rings vs photon energy (a Lorentzian resonance).

    Parameters
    ----------
    truth_dssc : dict
        ``run.truth['dssc']``; its ``resonance`` (``e0_eV``, ``gamma_eV``,
        ``strength``) may be None (no resonance).
    energy_ev : float or array of float
        Photon energy in eV.

    Returns
    -------
    numpy.ndarray of float
        ``1 + strength / (1 + ((E - e0) / gamma)**2)``; 1 off resonance.
    """
    res = truth_dssc.get("resonance")
    if not res:
        return np.ones_like(np.asarray(energy_ev, float))
    x = (np.asarray(energy_ev, float) - res["e0_eV"]) / res["gamma_eV"]
    return 1 + res["strength"] / (1 + x**2)


def expected_photons_per_uj(
    truth_dssc: dict, module: int, delay_ps=0.0, pumped=False, energy_ev=None
):
    """Expected photons per µJ of pulse energy of every pixel of one module.

    Parameters
    ----------
    truth_dssc : dict
        ``run.truth['dssc']``.
    module : int
        DSSC module number.
    delay_ps : float
        True pump-probe delay of the frame in ps.
    pumped : bool
        Whether the frame is pumped.
    energy_ev : float, optional
        Photon energy in eV; default the run's first energy.

    Returns
    -------
    numpy.ndarray of float, shape (128, 512)
        Photons per µJ of each pixel.
    """
    e = truth_dssc["energies_eV"][0] if energy_ev is None else energy_ev
    prof = ring_profiles(truth_dssc, e, [module])[:, 0]
    img = np.full(MODULE_SHAPE, truth_dssc["background"], np.float64)
    amp = float(resonance(truth_dssc, e))
    for r, ring in enumerate(truth_dssc["rings"]):
        img += (
            ring["amplitude"]
            * amp
            * float(ring_factor(ring, delay_ps, pumped, truth_dssc["t0_ps"]))
            * prof[r]
        )
    return truth_dssc["photons_per_uJ"] * img


def expected_module_mean(
    truth_dssc: dict, module: int, delay_ps=0.0, pumped=False, energy_ev=None
):
    """Module-average of ``expected_photons_per_uj`` from the stored ring weights.

    No geometry is needed: the ring weights per module and energy are in the
    truth.

    Parameters
    ----------
    truth_dssc : dict
        ``run.truth['dssc']``.
    module : int
        DSSC module number.
    delay_ps : float or array of float
        True pump-probe delay in ps.
    pumped : bool or array of bool
        Whether the frames are pumped.
    energy_ev : float, optional
        Photon energy in eV (the nearest simulated one is used); default the
        run's first energy.

    Returns
    -------
    float or numpy.ndarray of float
        Photons per µJ, averaged over the 65536 pixels.
    """
    energies = truth_dssc["energies_eV"]
    e = energies[0] if energy_ev is None else energy_ev
    ie = int(np.argmin(np.abs(np.asarray(energies) - e)))
    idx = truth_dssc["modules"].index(int(module))
    w = truth_dssc["ring_weights"][idx][ie]
    amp = resonance(truth_dssc, e)
    total = truth_dssc["background"]
    for r, ring in enumerate(truth_dssc["rings"]):
        total = (
            total
            + ring["amplitude"]
            * amp
            * ring_factor(ring, delay_ps, pumped, truth_dssc["t0_ps"])
            * w[r]
        )
    return truth_dssc["photons_per_uJ"] * total


def dark_offsets(seed: int, module: int, frames: int, base=40.0, pixel_sigma=4.0, cell_sigma=2.0):
    """The dark offsets of one module (the same for every run of one seed).

    Parameters
    ----------
    seed : int
        Dark seed (``dark_seed`` of ``add_dssc`` / ``add_boz``).
    module : int
        DSSC module number.
    frames : int
        Number of memory cells used (at most 800).
    base, pixel_sigma, cell_sigma : float
        Mean offset, pixel-to-pixel and cell-to-cell spread in ADU.

    Returns
    -------
    pix : numpy.ndarray of float32, shape (128, 512)
        Per-pixel offset in ADU.
    cell : numpy.ndarray of float32, shape (frames,)
        Per-memory-cell offset in ADU.
    """
    rng = np.random.default_rng([int(seed), 7919, int(module)])
    pix = (base + pixel_sigma * rng.standard_normal(MODULE_SHAPE)).astype(np.float32)
    cell = (cell_sigma * rng.standard_normal(800)).astype(np.float32)[:frames]
    return pix, cell


# -- frame rendering ---------------------------------------------------------
_RENDER = None


def _render_kernel():
    """``_render_bank`` compiled with numba (or loaded from its cache) on first
    use, so that importing the simulator does not import numba."""
    global _RENDER
    if _RENDER is None:
        from numba import njit  # heavy: compiled on first render only

        _RENDER = njit(cache=True, nogil=True)(_render_bank)
    return _RENDER


def _render_bank(out, pix_dark, cell_dark, coef, profiles, bank, bank_rows, gain, noise_var):
    """out[k] = clip(round(dark + gain*mu + sqrt(gain^2 mu + noise^2) z)),
    mu = coef[k,0] + sum_r coef[k,r+1] * profiles[r]; z from the noise bank."""
    nframes = out.shape[0]
    npix = out.shape[1]
    nr = profiles.shape[0]
    g2 = gain * gain
    for k in range(nframes):
        z = bank[bank_rows[k]]
        cd = cell_dark[k]
        for p in range(npix):
            mu = coef[k, 0]
            for r in range(nr):
                mu += coef[k, r + 1] * profiles[r, p]
            v = pix_dark[p] + cd + gain * mu + math.sqrt(g2 * mu + noise_var) * z[p]
            v = math.floor(v + 0.5)
            if v < 0.0:
                v = 0.0
            elif v > 511.0:
                v = 511.0
            out[k, p] = np.uint16(v)


def add_dssc(
    run,
    modules=None,
    frames_per_pulse=1,
    energies_uj=None,
    delay_ps=None,
    pumped=None,
    energy_ev=930.0,
    rings=DEFAULT_RINGS,
    t0_ps=0.0,
    photons_per_uJ=0.04,
    background=0.1,
    gain=2.0,
    noise=1.5,
    distance_m=0.5,
    dark_seed=1234,
    dark_only=False,
    exact_limit=2000,
    bank_size=32,
    trains_per_file=250,
    resonance_params=None,
    quad_pos=None,
):
    """Add DSSC modules to a simulated run.

    ``run.pattern`` gives the SASE3 pulses; frame k of a train sees pulse k
    (``frames_per_pulse=2``: intra-darks, frame 2k sees pulse k and frame 2k+1
    is dark).

    Parameters
    ----------
    run : SimRun
        The run being built.
    modules : sequence of int, optional
        DSSC modules to write; default all 16.
    frames_per_pulse : int
        1, or 2 for intra-darks.
    energies_uj : list of array of float, optional
        True SASE3 pulse energies in µJ, one array per train.
    delay_ps : array of float, optional
        True pump-probe delay in ps, one per train.
    pumped : list of array of bool, optional
        Per train, whether each pulse is pumped.
    energy_ev : float or array of float
        Photon energy in eV: one value, or one per train.
    rings : sequence of dict
        Scattering rings: ``q_nm``, ``sigma_q_nm`` (nm^-1), ``amplitude``,
        ``depth``, ``tau_ps`` (ps).
    t0_ps : float
        Time zero in ps.
    photons_per_uJ : float
        Photons per µJ per pixel at ring amplitude 1.
    background : float
        Uniform background, in units of ring amplitude.
    gain : float
        ADU per photon.
    noise : float
        Read noise in ADU.
    distance_m : float
        Sample-detector distance in m.
    dark_seed : int
        Seed of the dark offsets (see ``dark_offsets``).
    dark_only : bool
        X-rays blocked: every frame is a dark.
    exact_limit : int
        Up to this many frames per module are rendered with fresh noise;
        larger runs draw the noise from a bank of ``bank_size`` frames.
    bank_size : int
        Number of noise frames of the bank.
    trains_per_file : int
        Trains per sequence file of a module.
    resonance_params : dict, optional
        ``e0_eV``, ``gamma_eV`` (eV) and ``strength`` of a resonance of the
        rings (see ``resonance``).
    quad_pos : sequence of 4 (x, y) pairs, optional
        True quadrant positions (mm) of the geometry the rings are rendered
        on; default the facility's ``DSSC_QUAD_POS``.

    Returns
    -------
    dict
        The model, also stored in ``run.truth['dssc']``.
    """
    modules = list(range(NMODULES)) if modules is None else [int(m) for m in modules]
    pat = run.pattern
    n = run.ntrains
    npulses = np.array([len(x) for x in pat.sase3])
    if len(set(npulses.tolist())) != 1:
        raise ValueError("the DSSC simulator needs the same number of SASE3 pulses per train")
    npulse = int(npulses[0])
    frames = npulse * int(frames_per_pulse)
    if frames < 1 or frames > 800:
        raise ValueError(f"DSSC records 1..800 frames per train, asked {frames}")
    if energies_uj is None:
        energies_uj = [np.full(npulse, 500.0)] * n
    energies = np.asarray([np.asarray(e, float) for e in energies_uj])  # (n, npulse)
    delay = np.zeros(n) if delay_ps is None else np.asarray(delay_ps, float)
    pump = np.zeros((n, npulse), bool) if pumped is None else np.asarray(pumped, bool)
    nrj = np.broadcast_to(np.asarray(energy_ev, float), (n,)).copy()
    rings = [dict(r) for r in rings]
    uniq_e = sorted(set(np.round(nrj, 6).tolist()))
    e_index = np.array([uniq_e.index(v) for v in np.round(nrj, 6).tolist()])
    truth = {
        "source": DSSC_MODULE,
        "modules": modules,
        "frames_per_train": frames,
        "npulses": npulse,
        "intra_darks": frames_per_pulse == 2,
        "frame_pattern": _frame_labels(pump[0], frames_per_pulse)
        if not dark_only
        else ["dark"] * frames,
        "gain_adu_per_photon": gain,
        "photons_per_uJ": photons_per_uJ,
        "background": background,
        "rings": rings,
        "t0_ps": t0_ps,
        "noise_adu": noise,
        "distance_m": distance_m,
        "quad_pos": [[float(v) for v in q] for q in (QUAD_POS if quad_pos is None else quad_pos)],
        "energies_eV": uniq_e,
        "dark_seed": dark_seed,
        "dark_only": bool(dark_only),
        "delay_ps": delay.tolist(),
        "energy_eV": nrj.tolist(),
        "adc_max": ADC_MAX,
        "resonance": resonance_params,
    }
    run.truth["dssc"] = truth
    # mean ring profile per module and energy: the module-average truth
    weights = [[None] * len(uniq_e) for _ in modules]
    prof_by_e = []
    for ie, e in enumerate(uniq_e):
        prof = ring_profiles(truth, e, modules)  # (ring, mod, 128, 512)
        prof_by_e.append(prof)
        for im in range(len(modules)):
            weights[im][ie] = prof[:, im].reshape(len(rings), -1).mean(axis=1).tolist()
    truth["ring_weights"] = weights
    darks = {m: dark_offsets(dark_seed, m, frames) for m in modules}
    truth["dark_mean_adu"] = {
        str(m): (float(darks[m][0].mean()) + darks[m][1]).tolist() for m in modules
    }
    use_bank = n * frames > exact_limit

    # per-frame coefficients: mu = c0 + sum_r c_r P_r
    nr = len(rings)
    amp = resonance(truth, nrj)  # (n,)
    coef = np.zeros((n, frames, nr + 1), np.float32)
    xfr = np.arange(0, frames, frames_per_pulse)  # X-ray frames
    if not dark_only:
        base = energies * photons_per_uJ  # (n, npulse)
        coef[:, xfr, 0] = base * background
        for r, ring in enumerate(rings):
            fac = ring_factor(ring, delay[:, None], pump, t0_ps)  # (n, npulse)
            coef[:, xfr, r + 1] = base * ring["amplitude"] * amp[:, None] * fac
    cells = np.arange(frames)

    def make_fill(m, im):
        pix, cell = darks[m]
        rng = run.rng_for(f"DSSC module {m}")
        bank = rng.standard_normal((bank_size, NPIX)).astype(np.float32) if use_bank else None
        pix_flat = pix.reshape(-1)

        def fill(group, tix):
            nf = len(tix) * frames
            out = np.empty((nf, NPIX), np.uint16)
            for j, i in enumerate(tix):
                prof = prof_by_e[e_index[i]][:, im].reshape(nr, -1)
                c = coef[i]
                sl = slice(j * frames, (j + 1) * frames)
                if use_bank:
                    rows = (np.arange(frames) * 7 + int(i) * 13) % bank_size
                    _render_kernel()(
                        out[sl],
                        pix_flat,
                        cell,
                        c.astype(np.float64),
                        prof,
                        bank,
                        rows,
                        float(gain),
                        float(noise) ** 2,
                    )
                else:
                    mu = c[:, :1] + c[:, 1:] @ prof  # (frames, npix)
                    ph = rng.poisson(np.clip(mu, 0, None))
                    v = (
                        pix_flat[None]
                        + cell[:, None]
                        + gain * ph
                        + noise * rng.standard_normal(mu.shape)
                    )
                    out[sl] = np.clip(np.floor(v + 0.5), 0, ADC_MAX).astype(np.uint16)
            ids = np.tile(cells, len(tix)).astype(np.uint64)[:, None]
            return {
                "image.data": out.reshape(nf, 1, *MODULE_SHAPE),
                "image.pulseId": ids,
                "image.cellId": ids.astype(np.uint16),
            }

        return fill

    counts = np.full(n, frames, np.uint64)
    chunk = max(1, (256 if not use_bank else 1024) // frames)
    for im, m in enumerate(modules):
        src = InstrumentSource(
            module_source(m),
            "DsscDetector",
            groups={
                "image": {
                    "image.data": ((1,) + MODULE_SHAPE, np.uint16),
                    "image.pulseId": ((1,), np.uint64),
                    "image.cellId": ((1,), np.uint16),
                }
            },
            counts={"image": counts},
            fill=make_fill(m, im),
            aggregator=f"DSSC{m:02d}",
            chunk_trains=chunk,
        )
        src.trains_per_file = trains_per_file
        run.add(src)
    return truth


def _frame_labels(pumped_pulses, frames_per_pulse):
    labels = []
    for p in pumped_pulses:
        labels.append("pumped" if p else "unpumped")
        if frames_per_pulse == 2:
            labels.append("intra_dark")
    return labels


def _modules_opt(modules):
    if modules is None or modules == "all":
        return list(range(NMODULES))
    if isinstance(modules, str):
        return [int(x) for x in modules.split(",") if x.strip()]
    if isinstance(modules, int):
        return [modules]
    return [int(m) for m in modules]


def _sase3_slots(npulses):
    """(first slot, step) of npulses SASE3 pulses that fit in a train (24 slots =
    188 kHz when they fit after slot 1000)."""
    n = int(npulses)
    if 1000 + 24 * n < 2700:
        return 1000, 24
    return 200, max(1, (2690 - 200) // max(n, 1))


def _true_energies(run):
    return [np.asarray(e, float) for e in run.truth["xgm"]["SCS"]["true_sa3_energy_uJ"]]
