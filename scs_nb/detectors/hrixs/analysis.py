"""The hRIXS analysis: loading, dark, centroiding (one image at a time),
integration and aggregation of spectra. The curvature and energy calibrations
are ``calibration.CalibrationMixin``, a base of ``hRIXS``.

Conventions (the same as the simulator's, ``scs_nb.sim.hrixs``):

* images have dims ``(x, y)``: ``x`` runs along the spectroscopic lines,
  ``y`` is the energy-dispersive direction; pixel ``k`` is centred on
  coordinate ``k``;
* a line of constant energy is curved: ``y = y0 + parabola(x)`` with
  ``parabola(x) = (CURVE_B * x + CURVE_A) * x`` on absolute detector ``x``;
  the corrected coordinate is ``y - parabola(x)``;
* energy = ``ENERGY_INTERCEPT + ENERGY_SLOPE * corrected y``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ...errors import ToolBoxValueError
from ...facility import MARANAX_EV_PER_ADU
from ...load import load
from ..spectrometer import SpectrometerParams
from .calibration import CalibrationMixin
from .kernel import _noise_sigma, find_photons
from .parallel import progress

__all__ = ["hRIXS"]


class hRIXS(CalibrationMixin, SpectrometerParams):
    """The hRIXS analysis, especially curvature correction.

    The objects of this class contain the meta-information about the settings
    of the spectrometer, not the actual data, except possibly a dark image for
    background subtraction. The actual data is loaded into ``xarray`` and stays
    there.

    Parameters
    ----------
    proposalNB : int
        The proposal number.
    detector : str
        'MaranaX', or 'hRIXS_det' for older runs.

    Attributes
    ----------
    PROPOSAL : int
        The proposal number.
    DETECTOR : str
        'hRIXS_det' or 'MaranaX'.
    X_RANGE : slice
        Pixels along the lines.
    Y_RANGE : slice
        Pixels in the energy direction.
    THRESHOLD : float or None
        ADU of a 2x2 sum; None: use STD_THRESHOLD.
    STD_THRESHOLD : float
        In standard deviations of a 2x2 sum of noise.
    DBL_THRESHOLD : float
        Charge, in photons, above which a hit is a double hit.
    AUTO_THRESHOLD : float
        ``method='auto'``: hit threshold in photons.
    BINS : int or None
        None: one bin per pixel of Y_RANGE.
    CURVE_A, CURVE_B : float
        The curvature ``parabola(x) = (CURVE_B * x + CURVE_A) * x`` (px).
    ENERGY_INTERCEPT : float
        eV at corrected y = 0.
    ENERGY_SLOPE : float
        eV per pixel of corrected y.
    USE_DARK : bool
        Subtract ``dark_image`` (else the median of each image).
    FIELDS : list of str
        Mnemonics loaded with the images.
    DETECTOR_FIELDS : dict
        Detector -> the mnemonics of its images.
    aggregators : dict
        Variable name -> function(da, dim) used by ``aggregate``.

    Examples
    --------
    ::

        h = hRIXS(3145)
        h.Y_RANGE = slice(700, 900)
        h.CURVE_B = -3.695346575286939e-07
        h.CURVE_A = 0.024084479232443695
        h.ENERGY_SLOPE = 0.018387
        h.ENERGY_INTERCEPT = 498.27
        h.STD_THRESHOLD = 3.5
    """

    PROPOSAL = 2769
    DETECTOR = "MaranaX"
    X_RANGE = np.s_[:]
    Y_RANGE = np.s_[:]
    THRESHOLD = None
    STD_THRESHOLD = 8.0
    DBL_THRESHOLD = 1.5
    AUTO_THRESHOLD = 0.5
    BINS = None
    CURVE_A = 0.0
    CURVE_B = 0.0
    USE_DARK = False
    ENERGY_INTERCEPT = 0.0
    ENERGY_SLOPE = 1.0
    FIELDS = ["hRIXS_exposure", "hRIXS_delay", "hRIXS_norm", "nrj"]
    DETECTOR_FIELDS = {"hRIXS_det": ["hRIXS_det"], "MaranaX": ["MaranaX"]}
    _NAME = "hRIXS"
    _FITS = ("curvature_fit", "energy_fit")
    _PARAMS = (
        "proposal",
        "detector",
        "x_range",
        "y_range",
        "threshold",
        "std_threshold",
        "dbl_threshold",
        "auto_threshold",
        "bins",
        "curve_a",
        "curve_b",
        "use_dark",
        "energy_intercept",
        "energy_slope",
        "fields",
    )

    def __init__(self, proposalNB, detector="MaranaX"):
        if detector not in self.DETECTOR_FIELDS:
            raise ToolBoxValueError(
                f"unknown hRIXS detector {detector!r}; known: {sorted(self.DETECTOR_FIELDS)}; "
                "pass detector='MaranaX' (or 'hRIXS_det' for older runs)"
            )
        self.PROPOSAL = proposalNB
        self.DETECTOR = detector
        self.FIELDS = list(type(self).FIELDS)
        self.dark_image = None
        self.curvature_fit = None
        self.energy_fit = None
        self.aggregators = {
            "hRIXS_det": _sum,
            "MaranaX": _sum,
            "Delay": _mean,
            "hRIXS_delay": _mean,
            "hRIXS_norm": _sum,
            "hRIXS_exposure": _sum,
            "nrj": _mean,
            "spectrum": _sum,
            "dbl_spectrum": _sum,
            "counts": _sum,
            "n_singles": _sum,
            "n_doubles": _sum,
        }

    # -- parameters -----------------------------------------------------------
    # -- loading --------------------------------------------------------------
    def _fields(self, extra_fields=()):
        return list(self.FIELDS) + list(self.DETECTOR_FIELDS[self.DETECTOR]) + list(extra_fields)

    def from_run(self, runNB, proposal=None, extra_fields=(), drop_first=False, subset=None):
        """Load run ``runNB`` (a thin wrapper around ``scs_nb.load``).

        Parameters
        ----------
        runNB : int
            The run number.
        proposal : int, optional
            Default: PROPOSAL.
        extra_fields : sequence of str
            Mnemonics to load besides FIELDS and the images.
        drop_first : bool
            Remove the first image of the run.
        subset : slice, optional
            The trains to load (replaced by ``drop_first``).

        Returns
        -------
        xarray.Dataset
            The images (ADU, dims trainId, x, y) and FIELDS.
        """
        if proposal is None:
            proposal = self.PROPOSAL
        if drop_first:
            subset = slice(1, None)
        _, data = load(
            proposal,
            runNB=runNB,
            subset=subset,
            fields=self._fields(extra_fields),
            extract_digitizers=False,
            extract_xgm=False,
            extract_bam=False,
        )
        return data

    def load_dark(self, runNB, proposal=None):
        """Load the dark run ``runNB``; its mean image is subtracted from then on.

        Parameters
        ----------
        runNB : int
            The dark run.
        proposal : int, optional
            Default: PROPOSAL.
        """
        data = self.from_run(runNB, proposal)
        self.dark_image = data[self.DETECTOR].astype(np.float32).mean(dim="trainId")
        self.USE_DARK = True

    # -- geometry -------------------------------------------------------------
    def parabola(self, x):
        """The curvature of a line of constant energy at ``x``.

        Parameters
        ----------
        x : float or numpy.ndarray
            Absolute detector x (px).

        Returns
        -------
        float or numpy.ndarray
            ``(CURVE_B * x + CURVE_A) * x`` (px along y).
        """
        return (self.CURVE_B * x + self.CURVE_A) * x

    def _ranges(self, shape):
        xs = range(*self.X_RANGE.indices(shape[0]))
        ys = range(*self.Y_RANGE.indices(shape[1]))
        if not len(xs) or not len(ys):
            raise ToolBoxValueError(
                f"X_RANGE={self.X_RANGE} and Y_RANGE={self.Y_RANGE} select "
                f"no pixel of the {shape} images; pass slices inside it"
            )
        return xs, ys

    def _dark(self, shape):
        if not self.USE_DARK:
            return None
        if self.dark_image is None:
            raise ToolBoxValueError(
                "USE_DARK is True but no dark is loaded; call "
                "load_dark(run) or set USE_DARK = False"
            )
        cached = getattr(self, "_dark_np", None)
        if cached is not None and cached[0] is self.dark_image:
            dark = cached[1]
        else:
            dark = np.ascontiguousarray(self.dark_image, np.float32)
            self._dark_np = (self.dark_image, dark)
        if dark.shape != tuple(shape):
            raise ToolBoxValueError(
                f"the dark image has shape {dark.shape}, the images "
                f"{tuple(shape)}; load a dark of this detector"
            )
        return dark

    def _images(self, data):
        if self.DETECTOR not in data:
            raise ToolBoxValueError(
                f"the dataset has no {self.DETECTOR!r} images (variables: {list(data)}); "
                "load it with from_run() or set DETECTOR"
            )
        return data[self.DETECTOR]

    # -- centroiding ------------------------------------------------------------
    def _threshold(self, image, dark):
        if self.THRESHOLD is not None:
            return float(self.THRESHOLD)
        return float(self.STD_THRESHOLD) * 2.0 * _noise_sigma(image, dark)

    def _roi_hits(self, image, threshold, dark=None):
        """Hits of the X_RANGE x Y_RANGE region of a full image, absolute coordinates."""
        image = np.asarray(image)
        xs, ys = self._ranges(image.shape)
        if xs.step != 1 or ys.step != 1:
            raise ToolBoxValueError("X_RANGE and Y_RANGE must be slices with step 1")
        roi = image[xs.start : xs.stop, ys.start : ys.stop]
        droi = None if dark is None else self._roi_dark(dark, xs, ys)
        hits = find_photons(roi, threshold, droi)
        hits[:, 0] += xs.start
        hits[:, 1] += ys.start
        return hits

    def _roi_dark(self, dark, xs, ys):
        key = (id(dark), xs.start, xs.stop, ys.start, ys.stop)
        cached = getattr(self, "_dark_cache", None)
        if cached is None or cached[0] != key or cached[1] is not dark:
            roi = np.ascontiguousarray(dark[xs.start : xs.stop, ys.start : ys.stop], np.float32)
            self._dark_cache = cached = (key, dark, roi)
        return cached[2]

    def _corrected(self, hits):
        return np.stack([hits[:, 0], hits[:, 1] - self.parabola(hits[:, 0])], axis=1)

    def centroid_one(self, image):
        """Find the position of photons with sub-pixel precision.

        A photon has hit the detector where the intensity within a 2-by-2
        square exceeds the threshold (THRESHOLD, or STD_THRESHOLD standard
        deviations of the noise of such a sum); its position is the centre of
        mass in the 4-by-4 square around it.

        Parameters
        ----------
        image : array_like
            One full detector image (ADU), dims (x, y).

        Returns
        -------
        numpy.ndarray
            (N, 2): x and curvature-corrected y (detector pixels).
        """
        image = np.asarray(image)
        dark = self._dark(image.shape)
        hits = self._roi_hits(image, self._threshold(image, dark), dark)
        return self._corrected(hits)

    def centroid_two(self, image, energy):
        """Determine position of photon hits, single and double.

        The thresholds follow from the incident photon energy (eV): one photon
        carries ``energy / MARANAX_EV_PER_ADU`` ADU; a hit is a 2x2 sum above
        ``AUTO_THRESHOLD`` photons, a double hit one whose 4x4 charge is at
        least ``DBL_THRESHOLD`` photons.

        Parameters
        ----------
        image : array_like
            One full detector image (ADU), dims (x, y).
        energy : float
            The incident photon energy (eV), e.g. the mono's ``nrj``.

        Returns
        -------
        tuple of numpy.ndarray
            (singles, doubles), arrays (N, 2) of x and curvature-corrected y
            (detector pixels).
        """
        image = np.asarray(image)
        energy = float(energy)
        if not np.isfinite(energy) or energy <= 0:
            raise ToolBoxValueError(
                f"centroid_two needs the incident photon energy in eV, "
                f"got {energy}; pass the mono energy ('nrj')"
            )
        one = energy / MARANAX_EV_PER_ADU
        hits = self._roi_hits(image, self.AUTO_THRESHOLD * one, self._dark(image.shape))
        dbl = hits[:, 3] >= self.DBL_THRESHOLD * one
        c = self._corrected(hits)
        return c[~dbl], c[dbl]

    # -- spectra -----------------------------------------------------------------
    def _edges(self, shape, bins):
        _, ys = self._ranges(shape)
        bins = int(bins if bins is not None else (self.BINS or len(ys)))
        if bins < 1:
            raise ToolBoxValueError(f"bins must be a positive integer, got {bins}")
        edges = np.linspace(ys.start - 0.5, ys.stop - 0.5, bins + 1)
        return edges

    def _energy(self, edges):
        centres = 0.5 * (edges[1:] + edges[:-1])
        return self.ENERGY_INTERCEPT + self.ENERGY_SLOPE * centres

    def _energies(self, data, n, method="manual"):
        if "nrj" in data:
            return np.asarray(data["nrj"].values, float)
        if method == "auto":
            raise ToolBoxValueError(
                "method='auto' takes its thresholds from the photon energy, but the dataset "
                f"has no 'nrj' (variables: {list(data.data_vars)}); keep 'nrj' in FIELDS or "
                "use method='manual' (THRESHOLD / STD_THRESHOLD)"
            )
        return np.full(n, np.nan)

    def _check_method(self, method):
        if method not in ("auto", "manual"):
            raise ToolBoxValueError(
                f"method must be 'auto' (centroid_two, thresholds from "
                f"the photon energy) or 'manual' (centroid_one, "
                f"THRESHOLD / STD_THRESHOLD), got {method!r}"
            )

    def _one_image(self, image, energy, method, edges):
        """Histogram of single and double hits of one image, and the hits."""
        if method == "manual":
            singles, doubles = self.centroid_one(image), np.zeros((0, 2))
        else:
            singles, doubles = self.centroid_two(image, energy)
        hs = np.histogram(singles[:, 1], edges)[0]
        hd = np.histogram(doubles[:, 1], edges)[0]
        return hs, hd, singles, doubles

    def _assign_spectra(self, data, edges, singles, doubles, method):
        dims = ("trainId", "energy")
        out = data.assign_coords(energy=("energy", self._energy(edges)))
        out["energy"].attrs["units"] = "eV"
        if method == "manual":
            out = out.assign(spectrum=(dims, singles))
        else:
            out = out.assign(spectrum=(dims, singles + 2 * doubles), dbl_spectrum=(dims, doubles))
        out["spectrum"].attrs.update(units="photons", method=method)
        return out

    def centroid(self, data, bins=None, method="auto"):
        """Calculate a spectrum by finding the centroid of individual photons.

        Returns a copy of ``data`` with ``spectrum`` (trainId, energy): photons
        per bin (a double hit counts two), and with ``method='auto'`` also
        ``dbl_spectrum`` (double hits per bin).

        Parameters
        ----------
        data : xarray.Dataset
            Images of DETECTOR (from ``from_run``), with ``nrj`` for 'auto'.
        bins : int, optional
            Number of energy bins; default BINS (None: one per pixel of Y_RANGE).
        method : str
            'auto' (centroid_two) or 'manual' (centroid_one).

        Returns
        -------
        xarray.Dataset
            ``data`` with the coordinate ``energy`` (eV) and ``spectrum``
            (photons per bin).
        """
        self._check_method(method)
        images = self._images(data)
        edges = self._edges(images.shape[1:], bins)
        energies = self._energies(data, images.sizes["trainId"], method)
        n = images.sizes["trainId"]
        singles = np.zeros((n, len(edges) - 1))
        doubles = np.zeros((n, len(edges) - 1))
        for i in progress(range(n), n, "centroiding"):
            singles[i], doubles[i], *_ = self._one_image(
                images[i].values, energies[i], method, edges
            )
        return self._assign_spectra(data, edges, singles, doubles, method)

    def integrate(self, data):
        """Calculate a spectrum by integration.

        Each pixel's corrected coordinate ``y - parabola(x)`` is computed; the
        intensity of a pixel is shared between the (at most two) bins its
        1-pixel extent overlaps, in proportion to the overlap; the sum is
        divided by the number of pixels along x, so the result is the average
        intensity (ADU, dark subtracted) that arrived on one pixel.

        Parameters
        ----------
        data : xarray.Dataset
            Images of DETECTOR (from ``from_run``).

        Returns
        -------
        xarray.Dataset
            ``data`` with the coordinate ``energy`` (eV) and ``spectrum``
            (trainId, energy), ADU per pixel.
        """
        images = self._images(data)
        shape = images.shape[1:]
        xs, ys = self._ranges(shape)
        edges = self._edges(shape, None)
        width = edges[1] - edges[0]
        if width < 1:
            raise ToolBoxValueError(
                f"integrate needs bins of at least one pixel; BINS="
                f"{self.BINS} for {len(ys)} pixels of Y_RANGE"
            )
        x = np.asarray(xs, float)[:, None]
        y = np.asarray(ys, float)[None, :]
        low = (y - self.parabola(x)) - 0.5 - edges[0]  # px from the first edge
        k0 = np.floor(low / width).astype(np.int64)
        f0 = np.clip((k0 + 1) * width - low, 0, 1)
        nb = len(edges) - 1
        k0c = np.clip(k0, -1, nb) + 1  # bins -1 and nb: outside
        k1c = np.clip(k0 + 1, -1, nb) + 1
        dark = self._dark(shape)
        n = images.sizes["trainId"]
        ret = np.zeros((n, nb))
        for i in progress(range(n), n, "integrating"):
            img = (
                images[i]
                .values[xs.start : xs.stop : xs.step, ys.start : ys.stop : ys.step]
                .astype(np.float64)
            )
            if dark is not None:
                img = img - dark[xs.start : xs.stop : xs.step, ys.start : ys.stop : ys.step]
            else:
                img = img - np.median(img)
            s = np.bincount(k0c.ravel(), (img * f0).ravel(), nb + 2)
            s += np.bincount(k1c.ravel(), (img * (1 - f0)).ravel(), nb + 2)
            ret[i] = s[1:-1] / len(xs)
        out = data.assign_coords(energy=("energy", self._energy(edges)))
        out["energy"].attrs["units"] = "eV"
        out = out.assign(spectrum=(("trainId", "energy"), ret))
        out["spectrum"].attrs.update(units="ADU per pixel", method="integrate")
        return out

    # -- aggregation -----------------------------------------------------------
    def aggregator(self, da, dim):
        """Aggregate one variable over ``dim`` with its function in ``aggregators``.

        Parameters
        ----------
        da : xarray.DataArray
            One variable of a dataset.
        dim : str
            The dimension to aggregate over.

        Returns
        -------
        xarray.DataArray
            ``da`` aggregated (mean if it has no aggregator), or ``da`` itself
            without ``dim``.
        """
        if dim not in da.dims:
            return da
        if da.name in self.aggregators:
            return self.aggregators[da.name](da, dim)
        return da.mean(dim=dim)

    def aggregate(self, ds, var=None, dim="trainId"):
        """Aggregate (mostly sum) all data within one dataset, grouped by
        ``var`` if given; ``counts`` gives the number of frames aggregated.

        Parameters
        ----------
        ds : xarray.Dataset
            Spectra (from ``centroid`` or ``integrate``).
        var : str, optional
            A variable to group by (e.g. 'hRIXS_delay').
        dim : str
            The dimension to aggregate over.

        Returns
        -------
        xarray.Dataset
            The aggregated dataset (one entry per value of ``var``).
        """
        if dim not in ds.dims:
            raise ToolBoxValueError(
                f"dimension {dim!r} not in the dataset (dims: {list(ds.dims)})"
            )
        ds = ds.assign(counts=xr.ones_like(ds[dim], dtype=np.int64))
        if var is not None:
            if var not in ds:
                raise ToolBoxValueError(
                    f"cannot group by {var!r}: not in the dataset "
                    f"(variables: {list(ds.data_vars)})"
                )
            return ds.groupby(var).map(lambda g: self.aggregate_ds(g.drop_vars(var), dim))
        return self.aggregate_ds(ds, dim)

    def aggregate_ds(self, ds, dim="trainId"):
        """Aggregate every variable of ``ds`` over ``dim`` (see ``aggregator``).

        Parameters
        ----------
        ds : xarray.Dataset
            The data.
        dim : str
            The dimension to aggregate over.

        Returns
        -------
        xarray.Dataset
            The aggregated dataset, attributes kept.
        """
        return ds.map(self.aggregator, dim=dim, keep_attrs=True)

    def normalize(self, data, which="hRIXS_norm"):
        """Add ``normalized`` = spectrum / ``which``.

        Parameters
        ----------
        data : xarray.Dataset
            With ``spectrum`` and ``which``.
        which : str
            The normalisation variable, e.g. 'hRIXS_norm' or 'counts'.

        Returns
        -------
        xarray.Dataset
            ``data`` with ``normalized``.
        """
        for v in ("spectrum", which):
            if v not in data:
                raise ToolBoxValueError(
                    f"normalize needs {v!r} in the dataset (variables: "
                    f"{list(data.data_vars)}); run centroid() or "
                    "integrate() first, or pass which='counts'"
                )
        return data.assign(normalized=data["spectrum"] / data[which])


def _sum(da, dim):
    return da.sum(dim=dim)


def _mean(da, dim):
    return da.mean(dim=dim)
