"""The hRIXS spectrometer and its Andor Marana X camera (2048 x 2048, dims ``x``, ``y``).

What the camera sees, per image (one image per train):

* single photons, each a Gaussian charge cloud of width ``CLOUD_SIGMA`` pixels
  carrying ``E / MARANAX_EV_PER_ADU`` ADU (with Fano noise), integrated over
  the pixels (pixel ``k`` covers ``[k - 0.5, k + 0.5)``);
* photons of one emitted energy ``E`` lie on a curved line
  ``y = (E - ENERGY_INTERCEPT) / ENERGY_SLOPE + CURVE_A * x + CURVE_B * x**2``
  (``x`` along the line, ``y`` the energy-dispersive direction), the ToolBox's
  curvature model (``hRIXS.parabola``) and energy calibration;
* a fraction of *double hits*: two photons less than ``DOUBLE_SEPARATION`` px
  apart, indistinguishable but for their charge;
* the bias level with a fixed pattern (the same in every run, so a dark run
  corrects it) and Gaussian readout noise.

The number of photons of an image follows the SCS XGM photon flux of its train
(``hRIXS_norm``), so normalising by it is meaningful. The spectrum is a sum of
components (energy loss, width, weight): the elastic line, a d-d excitation and
a broad charge-transfer band; in a delay scan the d-d weight changes by a known
factor for positive delays.

Ground truth in ``run.truth['hrixs']``: curvature, energy calibration, cloud
width, photon charge, and the hits of each image (x, y, 1 or 2 photons) where
``store_hits`` is set.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.special import ndtr

from ..facility import MARANAX_EV_PER_ADU, MARANAX_OFFSET_ADU, MARANAX_SHAPE
from ..mnemonics import mnemonics
from .beamline import add_beamline
from .registry import scenario
from .slow import steps
from .writer import ControlSource, InstrumentSource

CAMERA = mnemonics["MaranaX"][0]["source"]
CAMERA_KEY = mnemonics["MaranaX"][0]["key"]
CAMERA_DEVICE = mnemonics["hRIXS_exposure"][0]["source"]
DELAY_DEVICE = mnemonics["hRIXS_delay"][0]["source"]

# the injected spectrometer settings (what find_curvature / the calibration recover)
CURVE_A = 0.0241  # px of y per px of x
CURVE_B = -3.7e-7  # px of y per px of x squared
ENERGY_SLOPE = 0.0184  # eV per px of corrected y
ELASTIC_Y = 800.0  # corrected y of the elastic line at the reference energy
REFERENCE_EV = 930.0  # incident (mono) energy of the scenarios
ENERGY_INTERCEPT = REFERENCE_EV - ENERGY_SLOPE * ELASTIC_Y
CLOUD_SIGMA = 0.5  # charge-cloud width (px, Gaussian sigma)
READ_NOISE = 2.5  # ADU rms
FIXED_PATTERN = 2.0  # ADU rms of the bias fixed pattern
FANO = 0.12
DOUBLE_SEPARATION = 0.7  # px: the two photons of a double hit are closer than this
#: (energy loss eV, Gaussian width eV, relative weight) of the sample's RIXS spectrum
SPECTRUM = ((0.0, 0.05, 0.35), (1.5, 0.2, 0.35), (4.0, 1.0, 0.30))
Y_RANGE = (350, 950)  # where the spectra fall (raw y), for the analysis
_PATCH = 7  # pixels of a rendered charge cloud, each side (> 6 sigma)


def parabola(x, a=CURVE_A, b=CURVE_B):
    """The curvature of the lines: y offset at x (the ToolBox's ``hRIXS.parabola``).

    Parameters
    ----------
    x : float or array of float
        Position along the lines in px.
    a, b : float
        Linear (px/px) and quadratic (px/px²) coefficients.

    Returns
    -------
    float or numpy.ndarray of float
        ``a x + b x²`` in px.
    """
    return (b * x + a) * x


def fixed_pattern(shape=MARANAX_SHAPE):
    """The camera's bias: the same in every run (seeded by the camera name).

    Parameters
    ----------
    shape : pair of int
        Image shape in px.

    Returns
    -------
    numpy.ndarray of float32
        Offset plus a 2 ADU rms fixed pattern, in ADU.
    """
    rng = np.random.default_rng(zlib.crc32(b"MaranaX fixed pattern"))
    return (
        MARANAX_OFFSET_ADU + FIXED_PATTERN * rng.standard_normal(shape, dtype=np.float32)
    ).astype(np.float32)


def photon_adu(energy_ev):
    """Mean charge of one photon.

    Parameters
    ----------
    energy_ev : float
        Photon energy in eV.

    Returns
    -------
    float
        Charge in ADU.
    """
    return float(energy_ev) / MARANAX_EV_PER_ADU


def draw_hits(
    rng,
    nphotons,
    incident_ev,
    spectrum=SPECTRUM,
    double_fraction=0.0,
    shape=MARANAX_SHAPE,
    margin=3,
):
    """Draw the hits of one image from the RIXS spectrum.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    nphotons : int
        Number of hits (a double hit is one hit of two photons); hits that
        fall off the chip are dropped.
    incident_ev : float
        Incident photon energy in eV.
    spectrum : sequence of (float, float, float)
        Components (energy loss eV, Gaussian width eV, relative weight).
    double_fraction : float
        Fraction of hits with two photons.
    shape : pair of int
        Image shape in px.
    margin : int
        Hits closer than this to an edge (px) are dropped.

    Returns
    -------
    x, y : numpy.ndarray of float
        Hit centres in px.
    n : numpy.ndarray of int
        Photons per hit, 1 or 2.
    q : numpy.ndarray of float, shape (nhits, 2)
        Charge of each photon in ADU, 0 for the missing second photon.
    """
    weights = np.array([c[2] for c in spectrum], float)
    comp = rng.choice(len(spectrum), size=nphotons, p=weights / weights.sum())
    loss = np.array([c[0] for c in spectrum])[comp]
    width = np.array([c[1] for c in spectrum])[comp]
    emitted = incident_ev - loss + width * rng.standard_normal(nphotons)
    x = rng.uniform(margin, shape[0] - 1 - margin, nphotons)
    y = (emitted - ENERGY_INTERCEPT) / ENERGY_SLOPE + parabola(x)
    keep = (y > margin) & (y < shape[1] - 1 - margin)
    x, y, emitted = x[keep], y[keep], emitted[keep]
    n = np.where(rng.random(len(x)) < double_fraction, 2, 1)
    mean_q = emitted / MARANAX_EV_PER_ADU
    q = mean_q[:, None] + np.sqrt(FANO * mean_q)[:, None] * rng.standard_normal((len(x), 2))
    q[n == 1, 1] = 0.0
    return x, y, n, q


def photon_positions(x, y, n, rng):
    """Positions of the individual photons of the hits.

    A double hit is two photons at +-d/2 around its centre (d <
    ``DOUBLE_SEPARATION``, random direction).

    Parameters
    ----------
    x, y : numpy.ndarray of float
        Hit centres in px.
    n : numpy.ndarray of int
        Photons per hit, 1 or 2.
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    px, py : numpy.ndarray of float, shape (nhits, 2)
        Photon positions in px (both equal to the centre for a single hit).
    """
    d = DOUBLE_SEPARATION * rng.random(len(x))
    phi = 2 * np.pi * rng.random(len(x))
    dx, dy = 0.5 * d * np.cos(phi), 0.5 * d * np.sin(phi)
    dbl = n == 2
    dx[~dbl] = dy[~dbl] = 0.0
    px = np.stack([x - dx, x + dx], axis=1)
    py = np.stack([y - dy, y + dy], axis=1)
    return px, py


def render(px, py, q, shape=MARANAX_SHAPE, sigma=CLOUD_SIGMA, out=None):
    """Add Gaussian charge clouds, integrated over pixels, to an image.

    Parameters
    ----------
    px, py : array of float
        Photon positions in px (flattened).
    q : array of float
        Charge of each photon in ADU; photons with ``q <= 0`` are skipped.
    shape : pair of int
        Image shape in px (when ``out`` is None).
    sigma : float
        Charge-cloud width (Gaussian sigma) in px.
    out : numpy.ndarray of float32, optional
        Image to add to; default a new zero image.

    Returns
    -------
    numpy.ndarray of float32
        ``out``, signal in ADU.
    """
    out = np.zeros(shape, np.float32) if out is None else out
    px, py, q = (np.ravel(a) for a in (px, py, q))
    sel = q > 0
    px, py, q = px[sel], py[sel], q[sel]
    if not len(q):
        return out
    offs = np.arange(-(_PATCH // 2), _PATCH // 2 + 1)
    ix = np.rint(px).astype(np.int64)[:, None] + offs  # (N, P)
    iy = np.rint(py).astype(np.int64)[:, None] + offs
    wx = ndtr((ix + 0.5 - px[:, None]) / sigma) - ndtr((ix - 0.5 - px[:, None]) / sigma)
    wy = ndtr((iy + 0.5 - py[:, None]) / sigma) - ndtr((iy - 0.5 - py[:, None]) / sigma)
    w = (q[:, None, None] * wx[:, :, None] * wy[:, None, :]).astype(np.float32)
    IX = np.broadcast_to(ix[:, :, None], w.shape)
    IY = np.broadcast_to(iy[:, None, :], w.shape)
    ok = (IX >= 0) & (IX < shape[0]) & (IY >= 0) & (IY < shape[1])
    np.add.at(out, (IX[ok], IY[ok]), w[ok])
    return out


def camera_image(rng, signal, pattern):
    """Turn a signal into a raw camera image with bias and readout noise.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    signal : numpy.ndarray of float
        Signal in ADU.
    pattern : numpy.ndarray of float
        Bias in ADU (see ``fixed_pattern``).

    Returns
    -------
    numpy.ndarray of uint16
        The raw image in ADU.
    """
    img = pattern + signal + READ_NOISE * rng.standard_normal(signal.shape, dtype=np.float32)
    return np.clip(np.rint(img), 0, 65535).astype(np.uint16)


def add_maranax(
    run,
    nphotons,
    incident_ev,
    spectra=None,
    double_fraction=0.0,
    store_hits=False,
    exposure_s=0.1,
    flux=None,
):
    """Write the Marana X camera: one image per train, and its control device.

    Parameters
    ----------
    run : SimRun
        The run being built.
    nphotons : float
        Mean number of hits per image (at the mean XGM flux); 0 for a dark.
    incident_ev : float or array of float
        Mono energy in eV: one value, or one per train.
    spectra : list of sequence, optional
        Per train, the spectrum components (see ``draw_hits``); default
        ``SPECTRUM``. A spectrum's total weight scales its photon number.
    double_fraction : float
        Fraction of hits with two photons.
    store_hits : bool
        Also store every hit's true position in the truth.
    exposure_s : float
        Exposure time in s.
    flux : array of float, optional
        XGM photon flux per train (µJ); photon numbers scale with it.

    Returns
    -------
    dict
        The ground truth, also stored in ``run.truth['hrixs']``: curvature,
        energy calibration (eV/px, eV), hits and photons per image, ...
    """
    n = run.ntrains
    rng = run.rng_for(CAMERA)
    incident_ev = np.broadcast_to(np.asarray(incident_ev, float), (n,))
    if flux is None:
        scale = np.ones(n)
    else:
        flux = np.asarray(flux, float)
        scale = flux / flux.mean()
    # a spectrum's total weight (relative to SPECTRUM's, 1) scales its photon number
    weight = np.array(
        [sum(c[2] for c in (spectra[i] if spectra is not None else SPECTRUM)) for i in range(n)]
    )
    counts = rng.poisson(nphotons * scale * weight) if nphotons else np.zeros(n, int)
    hits = []
    for i in range(n):
        spec = spectra[i] if spectra is not None else SPECTRUM
        hits.append(draw_hits(rng, int(counts[i]), incident_ev[i], spec, double_fraction))
    seeds = rng.integers(0, 2**63, size=n)
    pattern_cache = {}

    def fill(group, tix):
        if "pattern" not in pattern_cache:
            pattern_cache["pattern"] = fixed_pattern()
        imgs = np.empty((len(tix),) + MARANAX_SHAPE, np.uint16)
        for k, i in enumerate(tix):
            r = np.random.default_rng(seeds[i])
            x, y, nn, q = hits[i]
            px, py = photon_positions(x, y, nn, r)
            signal = render(px, py, q)
            imgs[k] = camera_image(r, signal, pattern_cache["pattern"])
        return {CAMERA_KEY: imgs}

    run.add(
        InstrumentSource(
            CAMERA,
            "MaranaXCamera",
            {"data": {CAMERA_KEY: (MARANAX_SHAPE, np.uint16)}},
            {"data": np.ones(n, np.uint64)},
            fill,
            units={},
            chunk_trains=2,
        )
    )
    run.add(
        ControlSource(
            CAMERA_DEVICE,
            "AndorMaranaX",
            {
                "exposureTime": np.full(n, exposure_s, np.float32),
                "cameraTemperature": np.full(n, -25.0, np.float32),
            },
            units={"exposureTime": ("s", "")},
        )
    )
    truth = {
        "CURVE_A": CURVE_A,
        "CURVE_B": CURVE_B,
        "ENERGY_SLOPE": ENERGY_SLOPE,
        "ENERGY_INTERCEPT": ENERGY_INTERCEPT,
        "cloud_sigma_px": CLOUD_SIGMA,
        "read_noise_adu": READ_NOISE,
        "offset_adu": MARANAX_OFFSET_ADU,
        "ev_per_adu": MARANAX_EV_PER_ADU,
        "double_fraction": double_fraction,
        "double_separation_px": DOUBLE_SEPARATION,
        "y_range": list(Y_RANGE),
        "hits_per_image": [int(len(h[0])) for h in hits],
        "photons_per_image": [int(h[2].sum()) for h in hits],
        "incident_eV": incident_ev.tolist(),
    }
    if store_hits:
        truth["hits"] = [
            {"x": h[0].tolist(), "y": h[1].tolist(), "n": h[2].tolist()} for h in hits
        ]
    run.truth["hrixs"] = truth
    return truth


def add_hrixs_delay(run, delay):
    """Write the hRIXS pump-probe delay (mnemonic ``hRIXS_delay``).

    Parameters
    ----------
    run : SimRun
        The run being built.
    delay : array of float
        The delay, one value per train.
    """
    run.add(
        ControlSource(
            DELAY_DEVICE,
            "OpticalDelay",
            {
                "actualPosition": np.asarray(delay, np.float64),
                "targetPosition": np.asarray(delay, np.float64),
            },
            units={"actualPosition": ("s", "p")},
        )
    )


def _beamline(run, nrj=REFERENCE_EV):
    add_beamline(run, nrj=nrj, digitizers=False, bams=())
    return np.asarray(run.truth["xgm"]["SCS"]["photonFlux_uJ"], float)


@scenario("hrixs_dark", trains=4, large_trains=20)
def hrixs_dark(run):
    """hRIXS Marana X dark images (bias fixed pattern + readout noise, no photons).

    Ground truth: ``run.truth['hrixs']`` (``offset_adu``, ``read_noise_adu``,
    no hits).

    Parameters
    ----------
    run : SimRun
        The run being built.
    """
    _beamline(run)
    add_maranax(run, 0, REFERENCE_EV)
    add_hrixs_delay(run, np.zeros(run.ntrains))


@scenario("hrixs_curvature", trains=4, large_trains=20)
def hrixs_curvature(run, nphotons=3000):
    """hRIXS elastic line (many photons per image) on a curved line, for find_curvature.

    The line is ``y = c + CURVE_A x + CURVE_B x^2`` (px), 930 eV, 30 meV wide.
    Ground truth: ``run.truth['hrixs']`` with ``CURVE_A`` and ``CURVE_B``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    nphotons : int
        Mean number of hits per image.
    """
    flux = _beamline(run)
    add_maranax(
        run, nphotons, REFERENCE_EV, spectra=[((0.0, 0.03, 1.0),)] * run.ntrains, flux=flux
    )
    add_hrixs_delay(run, np.zeros(run.ntrains))


@scenario("hrixs_energy_scan", trains=10, large_trains=50)
def hrixs_energy_scan(run, start=929.0, stop=931.0, nsteps=5, nphotons=400):
    """hRIXS elastic line while the mono steps 929-931 eV in 5 steps.

    The line moves by dE / ENERGY_SLOPE px (energy calibration); the photons
    have the mono's actual energy (its readback). Ground truth:
    ``run.truth['hrixs']`` with ``ENERGY_SLOPE`` (eV/px) and
    ``ENERGY_INTERCEPT`` (eV); ``run.truth['scan']`` with the set-points (eV).

    Parameters
    ----------
    run : SimRun
        The run being built.
    start, stop : float
        First and last mono energy in eV.
    nsteps : int
        Number of energy steps.
    nphotons : int
        Mean number of hits per image.
    """
    setpoints = np.linspace(start, stop, int(nsteps))
    nrj = steps(run.ntrains, setpoints)
    flux = _beamline(run, nrj)
    # the photons have the mono's actual energy (its readback), not the set-point
    actual = np.asarray(run.truth["readback"]["nrj"], float)
    add_maranax(run, nphotons, actual, spectra=[((0.0, 0.03, 1.0),)] * run.ntrains, flux=flux)
    add_hrixs_delay(run, np.zeros(run.ntrains))
    run.truth["scan"] = {"mnemonic": "nrj", "setpoints": setpoints.tolist()}


@scenario("hrixs_photons", trains=6, large_trains=40)
def hrixs_photons(run, nphotons=200, double_fraction=0.1):
    """hRIXS sample spectrum, ~200 photons per 2048x2048 image, 10 % double hits.

    Every hit's true position is in the truth, to measure the centroiding
    accuracy. Ground truth: ``run.truth['hrixs']`` with ``hits`` (x, y in px,
    photons per hit), ``hits_per_image`` and ``photons_per_image``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    nphotons : int
        Mean number of hits per image.
    double_fraction : float
        Fraction of hits with two photons.
    """
    flux = _beamline(run)
    add_maranax(
        run, nphotons, REFERENCE_EV, double_fraction=double_fraction, store_hits=True, flux=flux
    )
    add_hrixs_delay(run, np.zeros(run.ntrains))


@scenario("hrixs_delay", trains=24, large_trains=240)
def hrixs_delay(
    run, nphotons=300, delays=(-1.0, -0.5, 0.0, 0.5, 1.0, 1.5), bleach=0.5, double_fraction=0.05
):
    """hRIXS pump-probe delay scan (6 delays, -1..1.5 ps): the d-d excitation bleaches.

    The d-d excitation (1.5 eV loss) is bleached by a known factor at positive
    delays. Ground truth: ``run.truth['delay']`` (``delays_ps``, ``bleach``,
    ``dd_loss_eV``, ``dd_width_eV``, ``pumped``, ``weights``),
    ``run.truth['hrixs']`` and ``run.truth['scan']`` (mnemonic
    ``hRIXS_delay``).

    Parameters
    ----------
    run : SimRun
        The run being built.
    nphotons : int
        Mean number of hits per image.
    delays : sequence of float
        The delays in ps, stepped in equal blocks of trains.
    bleach : float
        Weight factor of the d-d excitation at positive delays.
    double_fraction : float
        Fraction of hits with two photons.
    """
    delays = np.asarray(delays, float)
    delay = steps(run.ntrains, delays)
    flux = _beamline(run)
    spectra = []
    for d in delay:
        comps = [list(c) for c in SPECTRUM]
        if d > 0:
            comps[1][2] *= bleach
        spectra.append(tuple(tuple(c) for c in comps))
    add_maranax(
        run, nphotons, REFERENCE_EV, spectra=spectra, double_fraction=double_fraction, flux=flux
    )
    add_hrixs_delay(run, delay)
    # the expected photons per component and image, at the mean flux
    w = np.array([c[2] for c in SPECTRUM])
    run.truth["delay"] = {
        "delays_ps": delays.tolist(),
        "bleach": bleach,
        "dd_loss_eV": SPECTRUM[1][0],
        "dd_width_eV": SPECTRUM[1][1],
        "pumped": [bool(d > 0) for d in delays],
        "weights": w.tolist(),
    }
    run.truth["scan"] = {"mnemonic": "hRIXS_delay", "setpoints": delays.tolist()}


def expected_window_ratio(truth, window, incident=REFERENCE_EV):
    """The injected pumped/unpumped photon ratio in an energy window of a delay scan.

    The d-d component (the second of ``SPECTRUM``) is bleached by
    ``truth['delay']['bleach']`` on pumped images; the elastic line and the
    charge-transfer tail are unchanged.

    Parameters
    ----------
    truth : dict
        Ground truth of an ``hrixs_delay`` run.
    window : sequence of 2 float
        ``[low, high)`` emitted energy window (eV).
    incident : float
        Incident photon energy (eV).

    Returns
    -------
    float
    """
    from scipy.special import ndtr  # scipy.special loads slowly; only checks need it

    lo, hi = (float(w) for w in window)
    frac = [
        w * (ndtr((hi - incident + loss) / wid) - ndtr((lo - incident + loss) / wid))
        for loss, wid, w in SPECTRUM
    ]
    return (frac[0] + truth["delay"]["bleach"] * frac[1] + frac[2]) / sum(frac)
