"""The FastCCD: one (1934, 960) image per train, a delay scan with the PP
laser on every other train.

Physics and layout
------------------
* Source ``SCS_CDIDET_FCCD2M/DAQ/FCCD:daqOutput``, key ``data.image.pixels``
  (uint16, one frame per train, aggregator ``DA05``).
* Small-angle scattering ring around the beam centre (``centre``, pixels)
  at radius ``r0_px`` (Gaussian, rms ``width_px``); at ``distance_m`` and the
  mono photon energy that is ``q0 = 4 pi / lambda sin(theta / 2)``,
  ``theta = atan(r0 * 30 µm / distance)``.
* Photons per train scale with the SCS XGM train sum (SASE3). The PP laser
  fires on even trains only (the bunch pattern says so): pumped trains see the
  ring quenched by ``quench(t) = depth * H(t) exp(-t / tau_ps)`` (convolved
  with a Gaussian of 0.1 ps), ``t = 2 (pos - t0_mm) / c``.
* Raw = dark (per-pixel offset, ``dark_adu`` +- fixed pattern) + gain map x
  signal (ADU) + read noise. The gain map (``gain_map(seed)``: 1.0 on the top
  half, ``gain_bottom`` on the bottom half, +-3 % per pixel) is what
  ``FastCCD.load_gain`` corrects; the dark run is the ``fccd_dark`` scenario.

``truth['fccd']``: geometry, ring, quench parameters, delays of the scan
steps and the expected pumped/unpumped ring ratio at each step.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

from ..facility import C_MM_PER_PS, FASTCCD_PIXEL_SIZE_M, FASTCCD_SHAPE, HC_EV_NM
from ..facility import sources as S
from . import slow, timing
from .beamline import add_beamline
from .registry import scenario
from .writer import InstrumentSource

DARK_ADU = 1000.0
READ_NOISE = 4.0
ADU_PER_PHOTON = 8.0
GAIN_SEED = 1934


def gain_map(seed=GAIN_SEED, gain_bottom=0.8):
    """The FastCCD gain map of the simulator (relative gain per pixel).

    Parameters
    ----------
    seed : int
        Random seed of the 3 % pixel-to-pixel spread.
    gain_bottom : float
        Relative gain of the bottom half (the top half has 1).

    Returns
    -------
    numpy.ndarray of float32
        Shape ``FASTCCD_SHAPE``.
    """
    rng = np.random.default_rng(seed)
    g = np.ones(FASTCCD_SHAPE, np.float32)
    g[FASTCCD_SHAPE[0] // 2 :] = gain_bottom
    g *= 1 + 0.03 * rng.standard_normal(FASTCCD_SHAPE).astype(np.float32)
    return g


def dark_map(seed=GAIN_SEED + 1):
    """The FastCCD dark offset per pixel (ADU): a constant plus 20 ADU noise.

    Parameters
    ----------
    seed : int
        Random seed of the map.

    Returns
    -------
    numpy.ndarray of float32
        Shape ``FASTCCD_SHAPE``.
    """
    rng = np.random.default_rng(seed)
    return (DARK_ADU + 20 * rng.standard_normal(FASTCCD_SHAPE)).astype(np.float32)


def q_of_radius(r_px, distance_m, energy_ev):
    """Momentum transfer at a radius on the FastCCD.

    Parameters
    ----------
    r_px : float or array of float
        Radius from the beam centre in pixels.
    distance_m : float
        Sample-detector distance in m.
    energy_ev : float
        Photon energy in eV.

    Returns
    -------
    numpy.ndarray of float
        q in 1/nm.
    """
    wl_nm = HC_EV_NM / energy_ev
    theta = np.arctan(np.asarray(r_px) * FASTCCD_PIXEL_SIZE_M / distance_m)
    return 4 * np.pi / wl_nm * np.sin(theta / 2)


def quench(t_ps, depth, tau_ps, rise_ps=0.1):
    """Relative quench of the ring vs delay: an erf rise, then an exponential recovery.

    Parameters
    ----------
    t_ps : float or array of float
        Delay from time zero in ps.
    depth : float
        Quench at full effect (fraction of the ring).
    tau_ps, rise_ps : float
        Recovery time and rise time (Gaussian sigma), in ps.

    Returns
    -------
    numpy.ndarray of float
        The quenched fraction.
    """
    t = np.asarray(t_ps, float)
    # H(t) exp(-t/tau) convolved with a Gaussian (rise << tau: the erf edge)
    return depth * 0.5 * (1 + erf(t / (np.sqrt(2) * rise_ps))) * np.exp(-np.maximum(t, 0) / tau_ps)


def add_fccd(
    run,
    photons_per_uj=2e-3,
    centre=(967.0, 480.0),
    r0_px=300.0,
    width_px=25.0,
    factors=None,
    dark_only=False,
):
    """Write the FastCCD frames: a scattering ring on the dark, one frame per train.

    Parameters
    ----------
    run : SimRun
        The run being built (after ``add_beamline``: the ring scales with the
        train's true SASE3 energy).
    photons_per_uj : float
        Photons per µJ of train energy at the ring's peak.
    centre : pair of float
        Ring centre (row, column) in px.
    r0_px, width_px : float
        Ring radius and Gaussian width in px.
    factors : array of float, optional
        Per-train multiplier of the ring (1 - quench for pumped trains);
        default 1.
    dark_only : bool
        No X-rays: dark offset and read noise only.

    Returns
    -------
    numpy.ndarray of float32
        The ring profile (1 at r0), shape ``FASTCCD_SHAPE``.
    """
    n = run.ntrains
    xgm_e = run.truth["xgm"]["SCS"]["true_sa3_energy_uJ"]
    flux = np.array([float(np.sum(e)) for e in xgm_e])
    f = np.ones(n) if factors is None else np.asarray(factors, float)
    yy, xx = np.indices(FASTCCD_SHAPE, dtype=np.float32)
    r = np.hypot(yy - centre[0], xx - centre[1])
    ring = np.exp(-0.5 * ((r - r0_px) / width_px) ** 2).astype(np.float32)
    gain = gain_map()
    dark = dark_map()
    seed = [run.seed, run.run, 1934]

    def fill(group, tix):
        rng = np.random.default_rng(seed + [int(tix[0])])
        out = np.empty((len(tix),) + FASTCCD_SHAPE, np.uint16)
        for j, i in enumerate(tix):
            img = dark + READ_NOISE * rng.standard_normal(FASTCCD_SHAPE, dtype=np.float32)
            if not dark_only:
                photons = photons_per_uj * flux[i] * f[i] * ring
                # photon shot noise (Gaussian approximation) on the ring
                photons = photons + np.sqrt(photons) * rng.standard_normal(
                    FASTCCD_SHAPE, dtype=np.float32
                )
                img += gain * ADU_PER_PHOTON * photons
            out[j] = np.clip(np.rint(img), 0, 65535)
        return {"data.image.pixels": out}

    run.add(
        InstrumentSource(
            S.FASTCCD,
            "FastCCD",
            {"data": {"data.image.pixels": (FASTCCD_SHAPE, np.uint16)}},
            {"data": np.ones(n, np.uint64)},
            fill,
            aggregator="DA05",
            chunk_trains=4,
        )
    )
    return ring


@scenario("fastccd", trains=12, large_trains=400)
def fastccd(
    run,
    t0_mm=0.0,
    start=-0.15,
    stop=0.6,
    nsteps=6,
    depth=0.3,
    tau_ps=3.0,
    distance_m=1.0,
    nrj=930.0,
):
    """FastCCD delay scan: a scattering ring quenched by 30 % after time zero.

    (1934, 960) frames with a scattering ring (r0 = 300 px) quenched by
    ``depth`` after time zero (recovery ``tau_ps``) on pumped (even) trains;
    PP laser on even trains, delay line stepped over 6 positions; gain map
    1.0 / 0.8 (top / bottom half), dark 1000 ADU, 8 ADU per photon. Ground
    truth: ``run.truth['fccd']`` (centre and radius in px, ``q0_per_nm``,
    ``delay_ps`` and ``ratio_pumped_unpumped`` per step, ...) and
    ``run.truth['scan']`` with the delay-line set-points (mm).

    Parameters
    ----------
    run : SimRun
        The run being built.
    t0_mm : float
        Delay-line position of time zero in mm.
    start, stop : float
        First and last delay-line position in mm.
    nsteps : int
        Number of positions.
    depth : float
        Quench at full effect (fraction of the ring).
    tau_ps : float
        Recovery time in ps.
    distance_m : float
        Sample-detector distance in m (for ``q0_per_nm``).
    nrj : float
        Photon energy in eV.
    """
    n = run.ntrains
    pat = timing.PulsePattern.constant(n, sase3=(20, 1000, 24), ppl=(20, 1000, 24))
    pat.set_trains("ppl", slice(1, None, 2), None)  # laser on even trains only
    setpoints = np.linspace(start, stop, int(nsteps))
    pos = slow.steps(n, setpoints)
    add_beamline(run, pat, nrj=nrj, delay_mm=pos, digitizers=False, bams=())
    pumped = np.array([len(x) > 0 for x in pat.ppl])
    t = 2 * (pos - t0_mm) / C_MM_PER_PS
    factors = np.where(pumped, 1 - quench(t, depth, tau_ps), 1.0)
    add_fccd(run, factors=factors)
    r0, w = 300.0, 25.0
    t_steps = 2 * (setpoints - t0_mm) / C_MM_PER_PS
    run.truth["fccd"] = {
        "source": S.FASTCCD,
        "key": "data.image.pixels",
        "centre_px": [967.0, 480.0],
        "r0_px": r0,
        "width_px": w,
        "distance_m": distance_m,
        "energy_eV": nrj,
        "wavelength_nm": HC_EV_NM / nrj,
        "q0_per_nm": float(q_of_radius(r0, distance_m, nrj)),
        "t0_mm": t0_mm,
        "depth": depth,
        "tau_ps": tau_ps,
        "gain_seed": GAIN_SEED,
        "gain_bottom": 0.8,
        "dark_adu": DARK_ADU,
        "adu_per_photon": ADU_PER_PHOTON,
        "pumped_trains": "even",
        "setpoints_mm": setpoints.tolist(),
        "delay_ps": t_steps.tolist(),
        "ratio_pumped_unpumped": (1 - quench(t_steps, depth, tau_ps)).tolist(),
    }
    run.truth["scan"] = {"mnemonic": "PP800_DelayLine", "setpoints": setpoints.tolist()}


@scenario("fccd_dark", trains=4, large_trains=100)
def fccd_dark(run):
    """FastCCD dark run: no X-rays (the dark offsets and read noise of 'fastccd').

    Ground truth: ``run.truth['fccd']`` = ``{'dark_adu': 1000, 'read_noise_adu':
    4}`` (ADU); the per-pixel offsets are ``dark_map()``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    """
    n = run.ntrains
    pat = timing.PulsePattern.constant(n, sase3=(0, 1000, 24))
    add_beamline(run, pat, digitizers=False, bams=())
    add_fccd(run, dark_only=True)
    run.truth["fccd"] = {"dark_adu": DARK_ADU, "read_noise_adu": READ_NOISE}
