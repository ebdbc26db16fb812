"""The ToolBox azimuthal integrators (``toolbox_scs.detectors.azimuthal_integrator``).

``AzimuthalIntegrator(imageshape, center, polar_range, aspect=204/236, **kwargs)``
integrates 2-D images of rectangular pixels; ``AzimuthalIntegratorDSSC(geom,
polar_range, dxdy=(0, 0), **kwargs)`` the 16 DSSC modules from an extra_geom
geometry. Both build their matrix once (exact splitting of each pixel over
the radial bins it covers, ``method='exact'``; ``method='no'``: each pixel
in the bin of its centre, as the ToolBox's index lists) and are then called on
many images: ``integrator(image)`` returns the mean intensity per bin (NaN
pixels left out). ``distance_axis`` holds the bin centres, ``calc_q(distance,
wavelength)`` the momentum transfer of the bins in 1/m.

Conventions (the ToolBox's are not written down; these are ours):
``AzimuthalIntegrator``: ``imageshape`` is the numpy shape (n0, n1) of the
image, ``center`` = (c0, c1) the beam position in pixel indices along axis 0
and 1; axis-0 distances are multiplied by ``aspect`` (pixel pitch along axis 0
over that along axis 1), so radii are in axis-1 pixels; the polar angle is
``atan2(axis 0, axis 1)`` in degrees. kwargs: ``dr`` (bin width in pixels,
default 1) or ``nbins``, ``method``, ``pixel_size`` (axis-1 pitch in m for
``calc_q``, default the DSSC 236 µm).
``AzimuthalIntegratorDSSC``: radii in metres in the detector plane, ``dxdy``
(m) the beam position in the geometry's frame, ``dr`` (m, default 236 µm) or
``nbins``; the polar angle is ``atan2(y, x)`` of the geometry.
"""

from __future__ import annotations

import logging

import numpy as np

from ....errors import ToolBoxValueError
from ....facility import DSSC_PIXEL_SIZE_M
from .matrix import azimuthal_matrix, pixel_polygons

__all__ = ["AzimuthalIntegrator", "AzimuthalIntegratorDSSC"]

log = logging.getLogger(__name__)

# radial bins of one integrator: the matrix and the per-bin index lists grow with them,
# and a centre far outside the image (or a tiny dr) would otherwise ask for terabytes
MAX_BINS = 100_000


def _finite(value, what, positive=False):
    """``value`` as a float, refused unless finite (and > 0 with ``positive``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ToolBoxValueError(f"{what} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not np.isfinite(v) or (positive and v <= 0):
        raise ToolBoxValueError(
            f"{what} must be a finite number{' > 0' if positive else ''}, got {value!r}"
        )
    return v


def _pair(values, what):
    """Two finite numbers (a centre, a polar range)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) != 2:
        raise ToolBoxValueError(f"{what} must be two numbers, got {values!r}")
    return tuple(_finite(v, what) for v in values)


class AzimuthalIntegrator:
    """Reusable azimuthal integrator of images of rectangular pixels."""

    def __init__(self, imageshape, center, polar_range, aspect=204 / 236, **kwargs):
        shape = tuple(imageshape) if hasattr(imageshape, "__len__") else ()
        if len(shape) != 2 or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in shape
        ):
            raise ToolBoxValueError(
                f"imageshape must be (n0, n1), two positive integers, got {imageshape!r}"
            )
        self.shape = tuple(int(n) for n in shape)
        self.center = _pair(center, "center (c0, c1), pixels")
        self.aspect = _finite(aspect, "aspect (axis-0 over axis-1 pixel pitch)", positive=True)
        self.pixel_size = _finite(
            kwargs.pop("pixel_size", DSSC_PIXEL_SIZE_M[0]), "pixel_size (m)", positive=True
        )
        if polar_range is not None:
            polar_range = _pair(polar_range, "polar_range (degrees)")
        self._scale = 1.0
        log.info("azimuthal center: %s", self.center)
        c0, c1 = self._calc_dist_array(self.shape, self.center, self.aspect)
        self._set_coords(c0, c1)
        self.polar_range = polar_range
        self.polar_mask = self._calc_polar_mask(polar_range)
        self._polygons = self._rect_polygons(c0, c1)
        self._calc_indices(**kwargs)

    # -- coordinates ---------------------------------------------------------
    def _calc_dist_array(self, shape, center, aspect):
        """Pixel coordinates relative to the centre, (axis 0 * aspect, axis 1)."""
        i0, i1 = np.meshgrid(
            np.arange(shape[0], dtype=float), np.arange(shape[1], dtype=float), indexing="ij"
        )
        return (i0 - center[0]) * aspect, i1 - center[1]

    def _set_coords(self, c0, c1):
        self.xcoord, self.ycoord = c1, c0
        self.distance = np.hypot(c0, c1)
        self.polar = np.degrees(np.arctan2(c0, c1))

    def _rect_polygons(self, c0, c1):
        h0, h1 = 0.5 * self.aspect, 0.5
        x = c1.reshape(-1)
        y = c0.reshape(-1)
        return np.stack(
            [
                np.stack([x - h1, y - h0], -1),
                np.stack([x + h1, y - h0], -1),
                np.stack([x + h1, y + h0], -1),
                np.stack([x - h1, y + h0], -1),
            ],
            1,
        )

    def _calc_polar_mask(self, polar_range):
        """True for pixels whose centre is inside the polar range (degrees)."""
        if polar_range is None:
            return np.ones(self.distance.shape, bool)
        lo, hi = (float(v) for v in polar_range)
        p = self.polar
        return (
            ((p >= lo) & (p <= hi))
            | ((p + 360 >= lo) & (p + 360 <= hi))
            | ((p - 360 >= lo) & (p - 360 <= hi))
        )

    def _calc_indices(self, **kwargs):
        """Build the integration matrix (and the ToolBox's per-bin pixel lists)."""
        method = kwargs.pop("method", "exact")
        dr = kwargs.pop("dr", None)
        nbins = kwargs.pop("nbins", None)
        if kwargs:
            raise ToolBoxValueError(
                f"unknown arguments {sorted(kwargs)}; pass dr, nbins, method or pixel_size"
            )
        rmax = float(self.distance.max()) + 1.0 * self._unit()
        if nbins is None:
            dr = self._unit() if dr is None else _finite(dr, "dr (bin width)", positive=True)
            nbins = int(np.ceil(rmax / dr)) if rmax / dr < 10 * MAX_BINS else 10 * MAX_BINS
        else:
            if (
                not isinstance(nbins, (int, np.integer))
                or isinstance(nbins, bool)
                or not 1 <= nbins <= MAX_BINS
            ):
                raise ToolBoxValueError(
                    f"nbins must be an integer from 1 to {MAX_BINS}, got {nbins!r}"
                )
            dr = rmax / int(nbins)
        if nbins > MAX_BINS:
            raise ToolBoxValueError(
                f"the radial axis would need {nbins:,}{'+' if nbins == 10 * MAX_BINS else ''} "
                f"bins of dr={dr:g} up to the farthest pixel ({rmax / self._unit():.4g} "
                f"{'pixels' if self._unit() == 1.0 else 'pixel pitches'} from the centre "
                f"{self.center}); at most {MAX_BINS:,} are built. Check the centre (is it on "
                "or near the image?), or pass a larger dr or nbins"
            )
        self.dr = dr
        pr = None if self.polar_range is None else tuple(float(v) for v in self.polar_range)
        if pr is not None and tuple(pr) == (-180.0, 180.0):
            pr = None
        poly = self._polygons / self._unit()
        self._matrix = azimuthal_matrix(
            npt=int(nbins),
            unit="r_mm",
            radial_range=(0.0, nbins * dr / self._unit()),
            polar_range=pr,
            method=method,
            polygons=poly,
            cache=False,
        )
        self.distance_axis = self._matrix.radial * self._unit()
        self.bin_centers = self.distance_axis
        # the ToolBox's index lists: pixels (flat index) with their centre in each bin
        centre_bin = np.floor(self.distance.reshape(-1) / dr).astype(int)
        ok = self.polar_mask.reshape(-1) & (centre_bin < nbins)
        order = np.argsort(centre_bin[ok], kind="stable")
        idx = np.nonzero(ok)[0][order]
        splits = np.searchsorted(centre_bin[ok][order], np.arange(1, nbins))
        self.index_array = np.split(idx, splits)
        return self.index_array

    def _unit(self):
        return 1.0

    def calc_q(self, distance, wavelength):
        """Momentum transfer (1/m) of the bins for a sample-detector distance (m)
        and wavelength (m)."""
        r_m = self.distance_axis * (self.pixel_size if self._unit() == 1.0 else 1.0)
        return 4 * np.pi / float(wavelength) * np.sin(np.arctan(r_m / float(distance)) / 2)

    def __call__(self, image):
        image = np.asarray(image)
        if image.shape[-len(self.shape) :] != self.shape:
            raise ToolBoxValueError(
                f"image shape {image.shape} does not match the integrator's {self.shape}"
            )
        lead = image.shape[: -len(self.shape)]
        flat = image.reshape(-1, int(np.prod(self.shape)))
        sums, area = self._matrix.apply(flat)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(area > 0, sums / area, np.nan)
        return out.reshape(lead + (self._matrix.npt,))


class AzimuthalIntegratorDSSC(AzimuthalIntegrator):
    """Reusable azimuthal integrator of DSSC images (16, 128, 512) with
    exact hexagonal pixel splitting."""

    def __init__(self, geom, polar_range, dxdy=(0, 0), **kwargs):
        self.geom = geom
        self.dxdy = _pair(dxdy, "dxdy (beam position, m)")
        self.pixel_size = _finite(
            kwargs.pop("pixel_size", DSSC_PIXEL_SIZE_M[0]), "pixel_size (m)", positive=True
        )
        if polar_range is not None:
            polar_range = _pair(polar_range, "polar_range (degrees)")
        x, y = self._calc_dist_array(geom, self.dxdy)
        self.shape = x.shape
        self.center = (0.0, 0.0)
        self._set_coords(y, x)
        self.polar_range = polar_range
        self.polar_mask = self._calc_polar_mask(polar_range)
        poly = pixel_polygons(geom) * 1e-3  # m
        poly = poly - np.asarray(self.dxdy)[None, None, :]
        self._polygons = poly
        self._calc_indices(**kwargs)

    def _calc_dist_array(self, geom, dxdy):
        """Pixel centre coordinates (x, y) in m relative to the beam at ``dxdy``."""
        pos = geom.get_pixel_positions()
        return pos[..., 0] - dxdy[0], pos[..., 1] - dxdy[1]

    def _unit(self):
        return DSSC_PIXEL_SIZE_M[0]
