"""The Viking spectrometer and its Andor Newton camera (512 x 2048, dims
``newt_y``, ``newt_x``; ``newt_x`` is the energy-dispersive axis).

Per train, the camera records (in photoelectrons, then converted to counts
with the camera's photoelectrons per count, ``NEWTON_E_PER_COUNT`` of its
``HighCapacity`` and ``preampGain`` settings):

* the spectrum of the beam on the footprint (a Gaussian profile along
  ``newt_y``), at pixel energies ``E(x) = polyval(ENERGY_CALIB, x)``:
  a monochromatized line at the mono energy (calibration runs), or the SASE
  spectrum (centre ``SASE_EV``, width ``SASE_SIGMA_EV``, train-to-train flux
  and spectral-spike fluctuations), transmitted by the sample
  ``T(E) = exp(-mu(E) * thickness)`` in a sample run;
* a smooth baseline (scattered light), linear in photon energy, in every row;
* photon shot noise (``E / 3.65`` photoelectrons per photon), readout noise,
  the bias level with a per-column fixed pattern (removed by a dark run).

Ground truth in ``run.truth['viking']``: ENERGY_CALIB, camera settings and
photoelectrons per count, mu(E) on the pixel grid, the mean expected signal
and baseline per pixel (photoelectrons, averaged over ``Y_RANGE`` rows).
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..facility import NEWTON_E_PER_COUNT, NEWTON_OFFSET_ADU, NEWTON_PREAMP_GAIN, NEWTON_SHAPE
from ..mnemonics import mnemonics
from .beamline import add_beamline
from .registry import scenario
from .writer import ControlSource, InstrumentSource

CAMERA = mnemonics["newton"][0]["source"]
CAMERA_KEY = mnemonics["newton"][0]["key"]
CAMERA_DEVICE = mnemonics["VIKING_preampGain"][0]["source"]

ENERGY_CALIB = (1.5e-06, 2.306e-02, 515.88)  # eV = polyval(ENERGY_CALIB, pixel)
Y_CENTRE, Y_SIGMA = 256.0, 18.0  # beam footprint along newt_y (rows)
Y_RANGE = (236, 276)  # rows to average (analysis default)
SASE_EV, SASE_SIGMA_EV = 531.0, 3.0
MONO_SIGMA_EV = 0.15
PEAK_E = 3000.0  # photoelectrons per pixel per train at the footprint centre
READ_NOISE_E = 4.0
BASELINE = (60.0, -0.8)  # photoelectrons per pixel: b0 + b1 * (E - 516 eV) (scattered light)
BL_SIGNAL_RANGE = (519.0, 544.0)  # eV: where the SASE signal is
EV_PER_E = 3.65


def pixel_energy(x=None):
    """Photon energy of Newton camera pixels (the injected calibration polynomial).

    Parameters
    ----------
    x : array of float, optional
        Pixel columns; default every column.

    Returns
    -------
    numpy.ndarray of float
        Energy in eV.
    """
    x = np.arange(NEWTON_SHAPE[1]) if x is None else x
    return np.polyval(ENERGY_CALIB, x)


def mu(energy):
    """The sample's absorption coefficient per unit thickness.

    An edge at 531 eV with a white line at 532 eV on a small pre-edge
    background.

    Parameters
    ----------
    energy : float or array of float
        Photon energy in eV.

    Returns
    -------
    numpy.ndarray of float
        The absorption coefficient (per unit thickness).
    """
    e = np.asarray(energy, float)
    step = 0.5 + np.arctan((e - 531.0) / 0.5) / np.pi
    return 0.2 + 0.6 * step + 0.8 * np.exp(-0.5 * ((e - 532.0) / 0.6) ** 2)


def _fixed_pattern():
    rng = np.random.default_rng(zlib.crc32(b"Newton fixed pattern"))
    cols = 3.0 * rng.standard_normal(NEWTON_SHAPE[1])
    return (NEWTON_OFFSET_ADU + cols[None, :] + 1.0 * rng.standard_normal(NEWTON_SHAPE)).astype(
        np.float32
    )


def add_newton(
    run, kind, nrj, thickness=1.0, preamp=0, high_capacity=0, exposure_s=0.1, baseline=BASELINE
):
    """Write the Newton camera of the Viking and its control device.

    Parameters
    ----------
    run : SimRun
        The run being built.
    kind : {'dark', 'mono', 'reference', 'sample'}
        No light, a line at the mono energy ``nrj``, SASE spectra, or SASE
        spectra times the sample's transmission T(E).
    nrj : float or array of float
        Mono energy in eV: one value, or one per train.
    thickness : float
        Sample thickness (units of ``1 / mu``).
    preamp : int
        Pre-amplifier gain setting (index of ``NEWTON_PREAMP_GAIN``).
    high_capacity : int
        1: high-capacity mode, 0: high sensitivity.
    exposure_s : float
        Exposure time in s.
    baseline : pair of float
        ``(b0, b1)``: scattered-light baseline ``b0 + b1 (E - 516 eV)`` in
        photoelectrons per pixel.

    Returns
    -------
    None
        The ground truth goes to ``run.truth['viking']`` (calibration,
        photoelectrons per count, ``mu``, expected signal and baseline in
        photoelectrons per pixel).

    Raises
    ------
    ValueError
        If ``kind`` is none of the four.
    """
    n = run.ntrains
    rng = run.rng_for(CAMERA)
    gain = NEWTON_PREAMP_GAIN[int(preamp)]
    epc = NEWTON_E_PER_COUNT[(int(bool(high_capacity)), gain)]
    e_px = pixel_energy()
    x = np.arange(NEWTON_SHAPE[1], dtype=float)
    profile = np.exp(-0.5 * ((np.arange(NEWTON_SHAPE[0]) - Y_CENTRE) / Y_SIGMA) ** 2)
    nrj = np.broadcast_to(np.asarray(nrj, float), (n,))
    flux = 1.0 + 0.1 * rng.standard_normal(n)
    # per train spectrum (photoelectrons per pixel at the footprint centre)
    spectra = np.zeros((n, NEWTON_SHAPE[1]))
    if kind == "mono":
        spectra = (
            PEAK_E
            * flux[:, None]
            * np.exp(-0.5 * ((e_px[None, :] - nrj[:, None]) / MONO_SIGMA_EV) ** 2)
        )
    elif kind in ("sample", "reference"):
        env = np.exp(-0.5 * ((e_px - SASE_EV) / SASE_SIGMA_EV) ** 2)
        # spectral spikes: smooth random modulation with ~0.4 eV correlation
        spikes = gaussian_filter1d(rng.standard_normal((n, len(x))), 0.4 / 0.025, axis=1)
        spikes *= 0.3 / spikes.std()
        spectra = PEAK_E * flux[:, None] * env[None, :] * np.clip(1 + spikes, 0.1, None)
        if kind == "sample":
            spectra = spectra * np.exp(-mu(e_px) * thickness)[None, :]
    elif kind != "dark":
        raise ValueError(f"unknown Viking run kind {kind!r}")
    bl_amp = (1.0 + 0.1 * rng.standard_normal(n)) if kind != "dark" else np.zeros(n)
    base = (baseline[0] + baseline[1] * (e_px - 516.0))[None, :] * bl_amp[:, None]
    seeds = rng.integers(0, 2**63, size=n)
    pattern = {}
    photon_e = (nrj if kind == "mono" else np.full(n, SASE_EV)) / EV_PER_E

    def fill(group, tix):
        if "p" not in pattern:
            pattern["p"] = _fixed_pattern()
        out = np.empty((len(tix),) + NEWTON_SHAPE, np.uint16)
        for k, i in enumerate(tix):
            r = np.random.default_rng(seeds[i])
            sig = (profile[:, None] * spectra[i][None, :]).astype(np.float32)
            # photon shot noise (photon_e photoelectrons per photon) and readout noise
            sd = np.sqrt(sig * np.float32(photon_e[i]) + np.float32(READ_NOISE_E**2))
            e = (
                sig
                + base[i].astype(np.float32)
                + sd * r.standard_normal(NEWTON_SHAPE, dtype=np.float32)
            )
            counts = e / np.float32(epc) + pattern["p"]
            out[k] = np.clip(np.rint(counts), 0, 65535).astype(np.uint16)
        return {CAMERA_KEY: out}

    run.add(
        InstrumentSource(
            CAMERA,
            "AndorNewton",
            {"data": {CAMERA_KEY: (NEWTON_SHAPE, np.uint16)}},
            {"data": np.ones(n, np.uint64)},
            fill,
            chunk_trains=16,
        )
    )
    run.add(
        ControlSource(
            CAMERA_DEVICE,
            "AndorNewton",
            {
                "preampGain": np.full(n, int(preamp), np.int32),
                "HighCapacity": np.full(n, int(bool(high_capacity)), np.int32),
                "exposureTime": np.full(n, exposure_s, np.float32),
                "temperature": np.full(n, -80.0, np.float32),
            },
            units={"exposureTime": ("s", ""), "temperature": ("degC", "")},
        )
    )
    rows = slice(*Y_RANGE)
    prof_mean = profile[rows].mean()
    run.truth["viking"] = {
        "kind": kind,
        "ENERGY_CALIB": list(ENERGY_CALIB),
        "preampGain": int(preamp),
        "gain": gain,
        "HighCapacity": int(bool(high_capacity)),
        "e_per_counts": epc,
        "thickness": thickness,
        "y_range": list(Y_RANGE),
        "bl_signal_range": list(BL_SIGNAL_RANGE),
        "mono_eV": float(nrj.mean()),
        "peak_pixel": float(np.interp(nrj.mean(), e_px, x)) if kind == "mono" else None,
        "pixel_energy": e_px.tolist(),
        "mu": mu(e_px).tolist(),
        # expected photoelectrons per pixel, averaged over the Y_RANGE rows and the trains
        "signal_e": (prof_mean * spectra.mean(axis=0)).tolist(),
        "baseline_e": base.mean(axis=0).tolist(),
    }


def _beamline(run, nrj):
    add_beamline(run, nrj=nrj, digitizers=False, bams=())


@scenario("viking_dark", trains=20, large_trains=100)
def viking_dark(run, preamp=0, high_capacity=0):
    """Viking Newton dark images (bias with column fixed pattern, readout noise).

    Ground truth: ``run.truth['viking']`` with ``kind`` 'dark'.

    Parameters
    ----------
    run : SimRun
        The run being built.
    preamp : int
        Pre-amplifier gain setting (index of ``NEWTON_PREAMP_GAIN``).
    high_capacity : int
        1: high-capacity mode (fewer photoelectrons per count), 0: high
        sensitivity.
    """
    _beamline(run, SASE_EV)
    add_newton(run, "dark", SASE_EV, preamp=preamp, high_capacity=high_capacity)


@scenario("viking_mono", trains=6, large_trains=100)
def viking_mono(run, nrj=530.0, preamp=0, high_capacity=0):
    """Viking calibration run: a monochromatized line at the mono energy on the Newton.

    The line (0.15 eV sigma) sits at ``nrj`` (default 530 eV). Ground truth:
    ``run.truth['viking']`` with ``mono_eV``, ``peak_pixel`` (px),
    ``ENERGY_CALIB`` and ``e_per_counts``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    nrj : float
        Mono energy in eV.
    preamp : int
        Pre-amplifier gain setting (index of ``NEWTON_PREAMP_GAIN``).
    high_capacity : int
        1: high-capacity mode (fewer photoelectrons per count), 0: high
        sensitivity.
    """
    _beamline(run, float(nrj))
    add_newton(run, "mono", float(nrj), preamp=preamp, high_capacity=high_capacity)


@scenario("viking_reference", trains=20, large_trains=500)
def viking_reference(run, preamp=0, high_capacity=1):
    """Viking reference run (no sample): SASE spectra around 531 eV, a linear baseline.

    The spectra fluctuate in flux and spikes. Ground truth:
    ``run.truth['viking']`` with ``kind`` 'reference', ``signal_e`` and
    ``baseline_e`` (photoelectrons per pixel).

    Parameters
    ----------
    run : SimRun
        The run being built.
    preamp : int
        Pre-amplifier gain setting (index of ``NEWTON_PREAMP_GAIN``).
    high_capacity : int
        1: high-capacity mode (fewer photoelectrons per count), 0: high
        sensitivity.
    """
    _beamline(run, SASE_EV)
    add_newton(run, "reference", SASE_EV, preamp=preamp, high_capacity=high_capacity)


@scenario("viking_sample", trains=20, large_trains=500)
def viking_sample(run, thickness=1.0, preamp=2, high_capacity=0):
    """Viking sample run: the SASE spectra transmitted by a sample with a 531 eV edge.

    The sample has a known absorption edge (531 eV) and white line; the camera
    runs at another gain than the reference. Ground truth:
    ``run.truth['viking']`` with ``kind`` 'sample', ``mu`` and ``thickness``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    thickness : float
        Sample thickness (units of ``1 / mu``).
    preamp : int
        Pre-amplifier gain setting (index of ``NEWTON_PREAMP_GAIN``).
    high_capacity : int
        1: high-capacity mode (fewer photoelectrons per count), 0: high
        sensitivity.
    """
    _beamline(run, SASE_EV)
    add_newton(
        run,
        "sample",
        SASE_EV,
        thickness=float(thickness),
        preamp=preamp,
        high_capacity=high_capacity,
    )


def xas_agreement(viking, sample, reference, thickness=1.0, bin_px=32, min_i0=0.2):
    """How well ``viking.xas`` recovers the injected absorption ``mu``.

    The SASE spikes correlate neighbouring pixels over ~25 px, so pixel-wise
    statistics have few independent samples and scatter widely from run to run;
    the comparison is made on spectra averaged over ``bin_px`` pixels (about
    independent), against the injected mu averaged the way the measurement
    averages it: ``-log(sum(I0 T) / sum(I0)) / thickness`` in each bin, with the
    mean SASE envelope as I0. Only bins where I0 exceeds ``min_i0`` of its
    maximum count.

    Parameters
    ----------
    viking : Viking
        The analysis object whose ``xas`` is checked.
    sample, reference : xarray.Dataset
        The sample and reference runs after ``removePolyBaseline``.
    thickness : float
        Sample thickness (units of ``1 / mu``).
    bin_px : int
        Pixels averaged per bin.
    min_i0 : float
        Fraction of the maximum I0 below which bins are ignored.

    Returns
    -------
    dict
        ``n`` (bins), ``rms`` (recovered - injected), ``chi2`` (mean z**2),
        ``within`` (fraction of bins with |z| < 3), ``z``, ``bin_px``.
    """

    def coarse(ds):
        return ds.coarsen(newt_x=int(bin_px), boundary="trim").mean()

    xas = viking.xas(coarse(sample), coarse(reference), thickness=thickness)
    e_px = sample["newt_x"].values.astype(float)
    m = len(e_px) // int(bin_px) * int(bin_px)
    e = e_px[:m].reshape(-1, int(bin_px))
    env = np.exp(-0.5 * ((e - SASE_EV) / SASE_SIGMA_EV) ** 2)
    t = np.exp(-mu(e) * thickness)
    mu_bin = -np.log((env * t).sum(axis=1) / env.sum(axis=1)) / thickness
    good = xas["I0"].values > min_i0 * float(xas["I0"].max())
    d = (xas["absorptionCoef"].values - mu_bin)[good]
    z = d / xas["absorptionCoef_stderr"].values[good]
    return {
        "n": int(good.sum()),
        "rms": float(np.sqrt(np.mean(d**2))),
        "chi2": float(np.mean(z**2)),
        "within": float(np.mean(np.abs(z) < 3)),
        "z": z.tolist(),
        "bin_px": int(bin_px),
    }
