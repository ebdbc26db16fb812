"""The matrices of the DSSC azimuthal integration, their cache and radial units.

* radial units (``UNITS``): ``radial_to_r`` / ``r_to_radial`` convert between a
  unit's values and the radius in the detector plane (mm);
* ``pixel_polygons``: the pixel hexagons (corners in mm around the beam) of an
  extra_geom geometry, ``geometry_key`` its hash;
* ``AzimuthalMatrix``: a pixel-major sparse matrix (fraction of each pixel's
  area in each radial [x polar] bin), applied to frames by numba kernels
  (``kernels``);
* ``azimuthal_matrix``: builds one ('exact': hexagon/annulus areas; 'bbox':
  radial bounding box; 'no': the centre's bin) once per geometry + parameters
  and caches it in memory and on disk (``scs_nb.facility.cache_dir('azimuthal')``,
  atomic writes, key = hash of the module tiles and parameters).

``integrate.integrate_azimuthal`` is the API on top.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ....atomic import replacing
from ....errors import ToolBoxValueError
from ....facility import DSSC_MODULE_SHAPE, DSSC_NMODULES, HC_EV_NM, cache_dir, dssc_geometry
from . import kernels as K

__all__ = [
    "AzimuthalMatrix",
    "azimuthal_matrix",
    "pixel_polygons",
    "geometry_key",
    "UNITS",
    "radial_to_r",
    "r_to_radial",
]

#: radial units: name -> (coordinate name, units attribute)
UNITS = {"q_nm^-1": ("q", "nm^-1"), "2th_deg": ("2th", "deg"), "r_mm": ("r", "mm")}
_MATRIX_VERSION = 1


# -- units ---------------------------------------------------------------------
def _check_unit(unit, distance, energy, npt=1):
    if not isinstance(npt, (int, np.integer)) or isinstance(npt, bool) or npt < 1:
        raise ToolBoxValueError(
            f"npt={npt!r} must be a positive integer number of radial bins, e.g. npt=500"
        )
    if distance is not None and not float(distance) > 0:
        raise ToolBoxValueError(f"distance={distance!r} must be > 0 (metres)")
    if energy is not None and not float(energy) > 0:
        raise ToolBoxValueError(f"energy={energy!r} must be > 0 (eV)")
    if unit not in UNITS:
        raise ToolBoxValueError(f"unit={unit!r} is not known; pass one of {list(UNITS)}")
    if unit in ("q_nm^-1", "2th_deg") and not distance:
        raise ToolBoxValueError(
            f"unit={unit!r} needs the sample-detector distance: pass "
            "distance=<metres>, e.g. distance=0.5"
        )
    if unit == "q_nm^-1" and not energy:
        raise ToolBoxValueError(
            "unit='q_nm^-1' needs the photon energy: pass energy=<eV>, e.g. energy=930"
        )


def radial_to_r(x, unit, distance=None, energy=None):
    """Radius in the detector plane (mm) of radial values ``x`` in ``unit``.

    Parameters
    ----------
    x : array_like
        Radial values in ``unit``.
    unit : str
        A key of ``UNITS``: 'q_nm^-1', '2th_deg' or 'r_mm'.
    distance : float, optional
        Sample-detector distance (m); needed for 'q_nm^-1' and '2th_deg'.
    energy : float, optional
        Photon energy (eV); needed for 'q_nm^-1'.

    Returns
    -------
    numpy.ndarray
        The radii (mm).
    """
    x = np.asarray(x, float)
    if unit == "r_mm":
        return x
    d_mm = float(distance) * 1e3
    if unit == "2th_deg":
        return d_mm * np.tan(np.radians(np.clip(x, 0, 89.999)))
    lam = HC_EV_NM / float(energy)
    s = np.clip(x * lam / (4 * np.pi), 0, 1)
    return d_mm * np.tan(np.minimum(2 * np.arcsin(s), np.radians(89.999)))


def r_to_radial(r_mm, unit, distance=None, energy=None):
    """Radial values in ``unit`` of radii ``r_mm`` (mm) in the detector plane.

    Parameters
    ----------
    r_mm : array_like
        Radii in the detector plane (mm).
    unit : str
        A key of ``UNITS``: 'q_nm^-1', '2th_deg' or 'r_mm'.
    distance : float, optional
        Sample-detector distance (m); needed for 'q_nm^-1' and '2th_deg'.
    energy : float, optional
        Photon energy (eV); needed for 'q_nm^-1'.

    Returns
    -------
    numpy.ndarray
        The radial values in ``unit``.
    """
    r = np.asarray(r_mm, float)
    if unit == "r_mm":
        return r
    tth = np.arctan(r / (float(distance) * 1e3))
    if unit == "2th_deg":
        return np.degrees(tth)
    lam = HC_EV_NM / float(energy)
    return 4 * np.pi / lam * np.sin(tth / 2)


# -- geometry --------------------------------------------------------------------
def geometry_key(geom) -> str:
    """Hash of an extra_geom geometry's tiles (corner, ss and fs vectors).

    Parameters
    ----------
    geom : extra_geom geometry
        The detector geometry.

    Returns
    -------
    str
        The SHA-1 hex digest, a key of the matrix caches.
    """
    h = hashlib.sha1(type(geom).__name__.encode())
    for mod in geom.modules:
        for t in mod:
            h.update(np.asarray([t.corner_pos, t.ss_vec, t.fs_vec], np.float64).tobytes())
    return h.hexdigest()


_POLY_CACHE: OrderedDict = OrderedDict()


def pixel_polygons(geom, modules=None):
    """Pixel corners (npix, 6, 2) as (x, y) in mm around the beam of the given
    modules (default all), from extra_geom's ``to_distortion_array``.

    Parameters
    ----------
    geom : extra_geom geometry
        The detector geometry; its origin is the beam.
    modules : sequence of int, optional
        The module numbers (default: all of the geometry).

    Returns
    -------
    numpy.ndarray
        The corners (npix, V, 2) in mm, pixels in (module, y, x) order; kept
        in a small cache (the last two geometries).
    """
    mods = tuple(range(geom.n_modules)) if modules is None else tuple(int(m) for m in modules)
    key = (geometry_key(geom), mods)
    if key not in _POLY_CACHE:
        d = geom.to_distortion_array(allow_negative_xy=True)  # (M*ss, fs, V, zyx)
        ss, fs = (
            DSSC_MODULE_SHAPE
            if geom.n_modules == DSSC_NMODULES
            else (d.shape[0] // geom.n_modules, d.shape[1])
        )
        d = d.reshape(geom.n_modules, ss, fs, d.shape[2], 3)[list(mods)]
        poly = np.stack([d[..., 2], d[..., 1]], axis=-1).astype(np.float64) * 1e3
        _POLY_CACHE[key] = poly.reshape(-1, d.shape[-2], 2)
        while len(_POLY_CACHE) > 2:
            _POLY_CACHE.popitem(last=False)
    return _POLY_CACHE[key]


# -- the matrix -------------------------------------------------------------------
class AzimuthalMatrix:
    """A pixel-major sparse matrix: for pixel p, entries ``bins[indptr[p]:indptr[p+1]]``
    (output bin = ichi * npt + irad) with the fraction of its area in them.

    Parameters
    ----------
    indptr : array_like of int
        (npix + 1) offsets of each pixel's entries.
    bins : array_like of int
        The output bin of each entry.
    weights : array_like of float
        The fraction of the pixel's area in that bin.
    npt, nchi : int
        Radial and polar bins.
    radial : array_like
        Radial bin centres, in ``unit``.
    chi : array_like or None
        Polar bin centres (deg); None: 1-D integration.
    unit : str
        The radial unit (a key of ``UNITS``).
    method : str
        'exact', 'bbox' or 'no'.
    shape : tuple of int
        The data's (module, y, x) shape.
    build_s : float
        Seconds the build took.
    """

    def __init__(
        self, indptr, bins, weights, npt, nchi, radial, chi, unit, method, shape, build_s=0.0
    ):
        self.indptr = np.ascontiguousarray(indptr, np.int64)
        self.bins = np.ascontiguousarray(bins, np.int32)
        self.weights = np.ascontiguousarray(weights, np.float32)
        self.npt, self.nchi = int(npt), int(nchi)
        self.radial = np.asarray(radial, float)
        self.chi = None if chi is None else np.asarray(chi, float)
        self.unit, self.method, self.shape = unit, method, tuple(shape)
        self.build_s = float(build_s)
        self._w2 = None

    @property
    def nbins(self):
        """Number of output bins, ``npt * nchi``.

        Returns
        -------
        int
        """
        return self.npt * self.nchi

    @property
    def npix(self):
        """Number of input pixels (rows of the matrix).

        Returns
        -------
        int
        """
        return len(self.indptr) - 1

    @property
    def nnz(self):
        """Number of stored (pixel, bin) entries.

        Returns
        -------
        int
        """
        return len(self.bins)

    def area(self):
        """Pixel area per bin.

        Returns
        -------
        numpy.ndarray
            (nchi, npt), in pixel-area units.
        """
        a = np.bincount(self.bins, self.weights.astype(np.float64), minlength=self.nbins)
        return a.reshape(self.nchi, self.npt)

    def masked(self, mask):
        """A copy without the pixels where ``mask`` is True.

        Parameters
        ----------
        mask : array_like of bool
            npix values (any shape, e.g. (module, y, x)), True = masked.

        Returns
        -------
        AzimuthalMatrix
        """
        keep_pix = ~np.asarray(mask, bool).reshape(-1)
        if keep_pix.size != self.npix:
            raise ToolBoxValueError(
                f"mask has {keep_pix.size} pixels, the data "
                f"{self.npix} (shape {self.shape}); pass a boolean mask "
                "of the data's (module, y, x) shape, True = masked"
            )
        counts = np.diff(self.indptr)
        keep = np.repeat(keep_pix, counts)
        indptr = np.concatenate([[0], np.cumsum(counts * keep_pix)])
        return AzimuthalMatrix(
            indptr,
            self.bins[keep],
            self.weights[keep],
            self.npt,
            self.nchi,
            self.radial,
            self.chi,
            self.unit,
            self.method,
            self.shape,
            self.build_s,
        )

    def squared(self):
        """The same matrix with squared weights, for propagating variances.

        Built on first use and kept.

        Returns
        -------
        AzimuthalMatrix
            Entries ``weights ** 2`` on the same pixels and bins.
        """
        if self._w2 is None:
            self._w2 = AzimuthalMatrix(
                self.indptr,
                self.bins,
                self.weights**2,
                self.npt,
                self.nchi,
                self.radial,
                self.chi,
                self.unit,
                self.method,
                self.shape,
            )
        return self._w2

    def to_scipy(self):
        """The matrix as scipy CSR.

        Returns
        -------
        scipy.sparse.csr_matrix
            (nbins, npix).
        """
        from scipy import sparse  # heavy: only for this conversion

        m = sparse.csr_matrix(
            (self.weights, self.bins, self.indptr), shape=(self.npix, self.nbins)
        )
        return m.T.tocsr()

    def apply(self, frames, batch=16, threads=1):
        """Sums (nframes, nbins) float64 and NaN-free area (nframes, nbins) of
        frames (nframes, npix); ``threads`` > 1 shares the batches among
        threads (the numba kernel releases the GIL).

        Parameters
        ----------
        frames : array_like
            (nframes, npix).
        batch : int
            Frames per pass of the matrix.
        threads : int
            Threads sharing the batches.

        Returns
        -------
        tuple of numpy.ndarray
            (sums, area), each (nframes, nbins).
        """
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[1] != self.npix:
            raise ToolBoxValueError(
                f"frames of {frames.shape[1:]} pixels given to a matrix of "
                f"{self.npix} pixels ({self.shape})"
            )
        nf = frames.shape[0]
        sums = np.empty((nf, self.nbins))
        area = np.broadcast_to(self.area().reshape(-1), (nf, self.nbins)).copy()
        starts = list(range(0, nf, max(int(batch), 1)))
        if int(threads or 1) > 1 and len(starts) > 1:
            with ThreadPoolExecutor(int(threads)) as pool:
                list(pool.map(lambda s: self._apply_batch(frames, s, batch, sums, area), starts))
        else:
            for s in starts:
                self._apply_batch(frames, s, batch, sums, area)
        return sums, area

    def _apply_batch(self, frames, s, batch, sums, area):
        blk = np.ascontiguousarray(frames[s : s + batch])
        if blk.dtype.kind not in "fiu":
            blk = blk.astype(np.float32)
        acc = np.zeros((self.nbins, blk.shape[0]))
        nnan = np.zeros(blk.shape[0], np.int64)
        K.apply_matrix(blk, self.indptr, self.bins, self.weights, acc, nnan)
        sums[s : s + blk.shape[0]] = acc.T
        for f in np.nonzero(nnan)[0]:
            lost = np.zeros(self.nbins)
            K.nan_area(blk[f], self.indptr, self.bins, self.weights, lost)
            a = area[s + f] - lost
            a[a < 1e-5] = 0.0  # rounding of the float32 weights: an empty bin
            area[s + f] = a


_MATRIX_CACHE: OrderedDict = OrderedDict()


def _edges(radial_range, npt, unit, distance, energy, poly):
    if radial_range is None:
        r = np.hypot(poly[..., 0], poly[..., 1])
        lo, hi = r_to_radial([r.min(), r.max()], unit, distance, energy)
        hi = hi * (1 + 1e-9)
    else:
        lo, hi = (float(v) for v in radial_range)
        if not hi > lo:
            raise ToolBoxValueError(
                f"radial_range={radial_range!r} must be (low, high) with low < high, in {unit}"
            )
    edges = np.linspace(lo, hi, int(npt) + 1)
    return edges, radial_to_r(edges, unit, distance, energy)


def _chi_edges(polar_range, npt_azim):
    lo, hi = (-180.0, 180.0) if polar_range is None else (float(v) for v in polar_range)
    if not (hi > lo and hi - lo <= 360.0 + 1e-9):
        raise ToolBoxValueError(
            f"polar_range={polar_range!r} must be (low, high) in degrees "
            "with low < high <= low + 360, e.g. (-180, 180)"
        )
    n = 1 if npt_azim is None else int(npt_azim)
    if n < 1:
        raise ToolBoxValueError(f"npt_azim={npt_azim!r} must be None or >= 1")
    return np.linspace(lo, hi, n + 1)


def azimuthal_matrix(
    geom=None,
    npt=500,
    unit="q_nm^-1",
    distance=None,
    energy=None,
    radial_range=None,
    polar_range=None,
    npt_azim=None,
    method="exact",
    modules=None,
    cache=True,
    polygons=None,
):
    """Build (or load from the caches) the integration matrix of a geometry.

    ``polygons`` (npix, V, 2) in mm replaces the geometry (any pixel shape).

    Parameters
    ----------
    geom : extra_geom geometry, optional
        Default ``scs_nb.facility.dssc_geometry()``; its origin is the beam.
    npt : int
        Radial bins.
    unit : str
        'q_nm^-1', '2th_deg' or 'r_mm'.
    distance : float, optional
        Sample-detector distance (m).
    energy : float, optional
        Photon energy (eV).
    radial_range : (float, float), optional
        (low, high) in ``unit`` (default: all pixels).
    polar_range : (float, float), optional
        (low, high) polar angle range (deg).
    npt_azim : int, optional
        Polar bins (None: 1-D).
    method : str
        'exact', 'bbox' or 'no'.
    modules : sequence of int, optional
        The module numbers (default: all of the geometry).
    cache : bool
        Also read and write the disk cache (``cache_dir('azimuthal')``).
    polygons : array_like, optional
        Pixel corners (npix, V, 2) in mm instead of a geometry.

    Returns
    -------
    AzimuthalMatrix
    """
    if method not in ("exact", "bbox", "no"):
        raise ToolBoxValueError(
            f"method={method!r}: the matrix methods are 'exact', 'bbox' "
            "and 'no' ('pyfai' goes through pyFAI)"
        )
    _check_unit(unit, distance, energy, npt)
    if polygons is None:
        geom = dssc_geometry() if geom is None else geom
        mods = tuple(range(geom.n_modules)) if modules is None else tuple(int(m) for m in modules)
        gkey = geometry_key(geom)
        shape = (len(mods),) + DSSC_MODULE_SHAPE
    else:
        polygons = np.asarray(polygons, np.float64)
        mods = None
        gkey = hashlib.sha1(polygons.tobytes()).hexdigest()
        shape = polygons.shape[:-2]
    params = dict(
        v=_MATRIX_VERSION,
        g=gkey,
        modules=mods,
        npt=int(npt),
        unit=unit,
        distance=None if unit == "r_mm" else float(distance),
        energy=float(energy) if unit == "q_nm^-1" else None,
        radial_range=None if radial_range is None else [float(v) for v in radial_range],
        polar_range=None if polar_range is None else [float(v) for v in polar_range],
        npt_azim=npt_azim,
        method=method,
    )
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:24]
    if key in _MATRIX_CACHE:
        _MATRIX_CACHE.move_to_end(key)
        return _MATRIX_CACHE[key]
    fname = os.path.join(cache_dir("azimuthal"), f"{method}-{key}.npz") if cache else None
    mat = None
    if fname and os.path.exists(fname):
        try:
            with np.load(fname) as z:
                mat = AzimuthalMatrix(
                    z["indptr"],
                    z["bins"],
                    z["weights"],
                    int(z["npt"]),
                    int(z["nchi"]),
                    z["radial"],
                    z["chi"] if z["chi"].size else None,
                    unit,
                    method,
                    tuple(z["shape"]),
                    float(z["build_s"]),
                )
        except Exception:  # unreadable cache entry: rebuild it
            mat = None
    if mat is None:
        poly = (
            pixel_polygons(geom, mods)
            if polygons is None
            else polygons.reshape(-1, polygons.shape[-2], 2)
        )
        t0 = time.perf_counter()
        edges, redges = _edges(radial_range, npt, unit, distance, energy, poly)
        cedges = _chi_edges(polar_range, npt_azim)
        chi_rad = np.radians(cedges)
        full = npt_azim is None and polar_range is None
        if method == "exact":
            indptr, bins, wts, _ = K.build_exact(poly, redges, chi_rad, full)
        else:
            c = poly.mean(axis=1)
            rc = np.hypot(c[:, 0], c[:, 1])
            rv = np.hypot(poly[..., 0], poly[..., 1])
            half = np.abs(rv - rc[:, None]).max(axis=1)
            indptr, bins, wts = K.build_bbox(
                rc,
                rc - half,
                rc + half,
                np.arctan2(c[:, 1], c[:, 0]),
                redges,
                chi_rad,
                method == "bbox",
            )
        build_s = time.perf_counter() - t0
        radial = 0.5 * (edges[1:] + edges[:-1])
        chi = None if npt_azim is None else 0.5 * (cedges[1:] + cedges[:-1])
        mat = AzimuthalMatrix(
            indptr, bins, wts, npt, len(cedges) - 1, radial, chi, unit, method, shape, build_s
        )
        if fname:
            _save_npz(fname, mat)
    _MATRIX_CACHE[key] = mat
    while len(_MATRIX_CACHE) > 4:
        _MATRIX_CACHE.popitem(last=False)
    return mat


def _save_npz(fname, mat):
    """Write the matrix to ``fname`` atomically (temporary file + rename)."""
    with replacing(fname) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            indptr=mat.indptr,
            bins=mat.bins,
            weights=mat.weights,
            npt=mat.npt,
            nchi=mat.nchi,
            radial=mat.radial,
            chi=np.zeros(0) if mat.chi is None else mat.chi,
            shape=np.asarray(mat.shape),
            build_s=mat.build_s,
        )
