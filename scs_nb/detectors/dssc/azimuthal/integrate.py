"""DSSC azimuthal integration with exact hexagonal pixel splitting.

``integrate_azimuthal(data, geom, npt=500, unit='q_nm^-1', ...)`` integrates
data shaped ``(..., module, y, x)`` (numpy, xarray, dask) into an
``xarray.Dataset``:

* ``I``: mean intensity per pixel area in each bin, leading dims kept, then
  (``chi``,) and the radial coordinate, named after the unit (``q`` in nm^-1,
  ``2th`` in deg, ``r`` in mm; units in its attrs);
* ``area``: pixel area covered by the bin, in pixel-area units, summed over all
  fractional pixels (unmasked ones);
* ``sigma`` (given a variance): ``sqrt(sum w^2 var) / area``.

Intensity is conserved: ``(I * area).sum()`` equals the sum of the unmasked
pixels inside the radial (and polar) range. NaN pixels of a frame are left out
of that frame's bins (``I`` is then normalised by the area of its finite pixels).

Methods: ``'exact'``: the area of each pixel hexagon (corners from extra_geom's
``to_distortion_array``) in each annulus (and sector); ``'bbox'``: each pixel
spread uniformly over its radial bounding box; ``'no'``: each pixel in the bin
of its centre; ``'pyfai'``: pyFAI's bbox CSR engine through extra_geom's
``to_pyfai_detector()``. The exact, bbox and no matrices are built once per
geometry + parameters (numba), cached in memory and on disk
(``scs_nb.facility.cache_dir('azimuthal')``, atomic writes, key = hash of the
module tiles and parameters) and applied by a numba kernel that streams the
matrix once per batch of frames.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from ....atomic import replacing
from ....errors import ToolBoxTypeError, ToolBoxValueError
from ....facility import DSSC_MODULE_SHAPE, DSSC_NMODULES, HC_EV_NM, cache_dir, dssc_geometry
from . import kernels as K

__all__ = [
    "integrate_azimuthal",
    "AzimuthalMatrix",
    "azimuthal_matrix",
    "pixel_polygons",
    "geometry_key",
    "UNITS",
    "pyfai_integrator",
    "radial_to_r",
    "r_to_radial",
]

#: radial units: name -> (coordinate name, units attribute)
UNITS = {"q_nm^-1": ("q", "nm^-1"), "2th_deg": ("2th", "deg"), "r_mm": ("r", "mm")}
METHODS = ("exact", "bbox", "no", "pyfai")
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
    """Radius in the detector plane (mm) of radial values ``x`` in ``unit``."""
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
    """Radial values in ``unit`` of radii ``r_mm`` (mm) in the detector plane."""
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
    """Hash of an extra_geom geometry's tiles (corner, ss and fs vectors)."""
    h = hashlib.sha1(type(geom).__name__.encode())
    for mod in geom.modules:
        for t in mod:
            h.update(np.asarray([t.corner_pos, t.ss_vec, t.fs_vec], np.float64).tobytes())
    return h.hexdigest()


_POLY_CACHE: OrderedDict = OrderedDict()


def pixel_polygons(geom, modules=None):
    """Pixel corners (npix, 6, 2) as (x, y) in mm around the beam of the given
    modules (default all), from extra_geom's ``to_distortion_array``."""
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
    (output bin = ichi * npt + irad) with the fraction of its area in them."""

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
        """Pixel area per bin (pixel-area units), (nchi, npt)."""
        a = np.bincount(self.bins, self.weights.astype(np.float64), minlength=self.nbins)
        return a.reshape(self.nchi, self.npt)

    def masked(self, mask):
        """A copy without the pixels where ``mask`` is True (shape: npix)."""
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
        """The matrix as scipy CSR (bins x pixels)."""
        from scipy import sparse  # heavy: only for this conversion

        m = sparse.csr_matrix(
            (self.weights, self.bins, self.indptr), shape=(self.npix, self.nbins)
        )
        return m.T.tocsr()

    def apply(self, frames, batch=16, threads=1):
        """Sums (nframes, nbins) float64 and NaN-free area (nframes, nbins) of
        frames (nframes, npix); ``threads`` > 1 shares the batches among
        threads (the numba kernel releases the GIL)."""
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

    ``polygons`` (npix, V, 2) in mm replaces the geometry (any pixel shape)."""
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


# -- pyFAI ------------------------------------------------------------------------
def pyfai_integrator(geom=None, distance=0.5, energy=930.0):
    """A pyFAI ``AzimuthalIntegrator`` on extra_geom's ``to_pyfai_detector()`` of
    the geometry with the beam (the geometry origin) as point of normal incidence."""
    try:
        from pyFAI.integrator.azimuthal import AzimuthalIntegrator as _AI  # heavy, optional
    except ImportError:  # older pyFAI
        from pyFAI.azimuthalIntegrator import AzimuthalIntegrator as _AI
    geom = dssc_geometry() if geom is None else geom
    det = geom.to_pyfai_detector()
    # the beam (geometry origin) in the detector's coordinates
    d = geom.to_distortion_array(allow_negative_xy=True)[0, 0, 0]
    shift = np.asarray(det.get_pixel_corners()[0, 0, 0], float) - d
    poni1, poni2 = float(shift[1]), float(shift[2])
    wl = HC_EV_NM / float(energy) * 1e-9 if energy else 1e-9
    return _AI(dist=float(distance or 1.0), poni1=poni1, poni2=poni2, detector=det, wavelength=wl)


def _pyfai_integrate(
    frames, variance, geom, npt, unit, distance, energy, radial_range, mask_full, modules
):
    ai = pyfai_integrator(geom, distance, energy)
    nmod = geom.n_modules
    full_shape = (nmod * DSSC_MODULE_SHAPE[0], DSSC_MODULE_SHAPE[1])
    idx = list(range(nmod)) if modules is None else list(modules)
    mask = np.ones((nmod,) + DSSC_MODULE_SHAPE, np.int8)
    mask[idx] = 0 if mask_full is None else np.asarray(mask_full, bool).astype(np.int8)
    mask = mask.reshape(full_shape)
    out_i, out_s, out_a = [], [], []
    buf = np.zeros((nmod,) + DSSC_MODULE_SHAPE, np.float32)
    vbuf = np.zeros_like(buf)
    res = None
    for f in range(frames.shape[0]):
        buf[idx] = frames[f].reshape((len(idx),) + DSSC_MODULE_SHAPE)
        kw = {}
        if variance is not None:
            vbuf[idx] = variance[f].reshape((len(idx),) + DSSC_MODULE_SHAPE)
            kw["variance"] = vbuf.reshape(full_shape)
        res = ai.integrate1d(
            buf.reshape(full_shape),
            npt,
            unit=unit,
            mask=mask,
            radial_range=radial_range,
            correctSolidAngle=False,
            method=("bbox", "csr", "cython"),
            **kw,
        )
        out_i.append(res.intensity)
        out_a.append(res.sum_normalization)
        if variance is not None:
            out_s.append(res.sigma)
    radial = res.radial
    return (
        np.asarray(out_i),
        np.asarray(out_a),
        np.asarray(out_s) if out_s else None,
        np.asarray(radial),
    )


# -- the integrator --------------------------------------------------------------
def _module_layout(data, modules):
    """(DataArray or array, leading dims, module numbers or None)."""
    if isinstance(data, xr.Dataset):
        if "data" not in data:
            raise ToolBoxValueError(
                f"a Dataset needs a 'data' variable (the binned DSSC "
                f"frames); it has {list(data.data_vars)}"
            )
        data = data["data"]
    if isinstance(data, xr.DataArray):
        if "module" not in data.dims:
            raise ToolBoxValueError(
                f"data dims {data.dims} have no 'module' dim; pass data shaped (..., module, y, x)"
            )
        pix = [d for d in data.dims if d != "module"][-2:]
        lead = [d for d in data.dims if d not in pix and d != "module"]
        data = data.transpose(*lead, "module", *pix)
        if modules is None and "module" in data.coords:
            modules = [int(m) for m in data["module"].values]
        return data, lead, modules
    if not hasattr(data, "shape") or len(data.shape) < 3:
        raise ToolBoxTypeError(
            f"data must be an array shaped (..., module, y, x); got "
            f"{type(data).__name__} {getattr(data, 'shape', '')}"
        )
    nlead = len(data.shape) - 3
    lead = ["frame"] if nlead == 1 else [f"dim_{i}" for i in range(nlead)]
    return data, lead, modules


def integrate_azimuthal(
    data,
    geom=None,
    npt=500,
    unit="q_nm^-1",
    distance=None,
    energy=None,
    mask=None,
    polar_range=None,
    npt_azim=None,
    method="exact",
    variance=None,
    radial_range=None,
    modules=None,
    batch=16,
    progress=None,
    threads=1,
):
    """Azimuthal integration of DSSC data shaped ``(..., module, y, x)``.

    Parameters
    ----------
    data: numpy array, dask array, xarray DataArray (dims ``..., 'module', y, x``
        in any order, the pixel dims last) or a binned Dataset (its ``data``).
    geom: extra_geom DSSC geometry (default ``scs_nb.facility.dssc_geometry()``);
        its origin is the beam.
    npt: radial bins; unit: 'q_nm^-1', '2th_deg' or 'r_mm'; distance: sample-
        detector distance (m); energy: photon energy (eV).
    mask: boolean (module, y, x), True = masked.
    polar_range: (low, high) polar angle range in deg (``atan2(y, x)`` of the
        geometry, -180..180); npt_azim: number of azimuthal bins (None: 1-D).
    method: 'exact', 'bbox', 'no' or 'pyfai'; variance: array like data.
    radial_range: (low, high) in ``unit`` (default: all pixels).
    modules: module numbers of the data's module dim (default: the ``module``
        coordinate of a DataArray, else all 16).
    batch: frames per pass of the matrix; progress: show a bar (default: > 64 frames);
    threads: threads sharing the batches (1: one thread; dask input is parallel
    over its chunks anyway).

    Returns
    -------
    xarray.Dataset with ``I`` (leading dims, [chi], radial), ``area``
    ([chi], radial) and, given a variance, ``sigma``.
    """
    if method not in METHODS:
        raise ToolBoxValueError(f"method={method!r} is not known; pass one of {list(METHODS)}")
    _check_unit(unit, distance, energy, npt)
    geom = dssc_geometry() if geom is None else geom
    arr, lead, modules = _module_layout(data, modules)
    nmod = arr.shape[-3]
    if modules is None:
        if nmod != geom.n_modules:
            raise ToolBoxValueError(
                f"data has {nmod} modules, the geometry {geom.n_modules}; "
                "pass modules=[...] naming the data's modules"
            )
    elif len(modules) != nmod:
        raise ToolBoxValueError(
            f"modules={list(modules)} names {len(modules)} modules, the data has {nmod}"
        )
    if tuple(arr.shape[-2:]) != DSSC_MODULE_SHAPE:
        raise ToolBoxValueError(
            f"module images are {tuple(arr.shape[-2:])}, DSSC modules "
            f"{DSSC_MODULE_SHAPE}; pass data shaped (..., module, y, x)"
        )
    if method == "pyfai" and (npt_azim is not None or polar_range is not None):
        raise ToolBoxValueError(
            "method='pyfai' is 1-D over the full circle here; use "
            "method='exact' for polar_range / npt_azim"
        )
    rname, runits = UNITS[unit]
    mat = None
    if method != "pyfai":
        mat = azimuthal_matrix(
            geom, npt, unit, distance, energy, radial_range, polar_range, npt_azim, method, modules
        )
        if mask is not None:
            mat = mat.masked(mask)
        radial = mat.radial
        chi = mat.chi
    else:
        chi = None
    out_core = ([] if chi is None else ["chi"]) + [rname]

    def core(block, var=None):
        """(..., module, y, x) numpy -> I, sigma (..., [nchi], npt)."""
        block = np.asarray(block)
        lead_shape = block.shape[:-3]
        flat = block.reshape(-1, int(np.prod(block.shape[-3:])))
        vflat = (
            None
            if var is None
            else np.broadcast_to(np.asarray(var), block.shape).reshape(flat.shape)
        )
        if method == "pyfai":
            i_, a_, s_, _ = _pyfai_integrate(
                flat, vflat, geom, npt, unit, distance, energy, radial_range, mask, modules
            )
            shape = lead_shape + (npt,)
            return i_.reshape(shape), (None if s_ is None else s_.reshape(shape))
        show = flat.shape[0] > 64 if progress is None else bool(progress)
        sums = np.empty((flat.shape[0], mat.nbins))
        area = np.empty_like(sums)
        ssum = None if vflat is None else np.empty_like(sums)
        step = max(int(batch), 1) * 8 * max(int(threads or 1), 1)
        for s in tqdm(
            range(0, flat.shape[0], step),
            disable=not show,
            desc="azimuthal integration",
            unit_scale=step,
        ):
            sums[s : s + step], area[s : s + step] = mat.apply(flat[s : s + step], batch, threads)
            if vflat is not None:
                ssum[s : s + step], _ = mat.squared().apply(vflat[s : s + step], batch, threads)
        with np.errstate(invalid="ignore", divide="ignore"):
            inten = np.where(area > 0, sums / area, np.nan)
            sig = None if ssum is None else np.where(area > 0, np.sqrt(ssum) / area, np.nan)
        shape = lead_shape + ((mat.nchi,) if chi is not None else ()) + (mat.npt,)
        return inten.reshape(shape), (None if sig is None else sig.reshape(shape))

    if method == "pyfai":
        # radial axis and area from one empty pass through pyFAI
        z = np.zeros((1,) + tuple(arr.shape[-3:]), np.float32)
        _, a_, _, radial = _pyfai_integrate(
            z.reshape(1, -1), None, geom, npt, unit, distance, energy, radial_range, mask, modules
        )
        area = a_[0]
    else:
        area = mat.area() if chi is not None else mat.area()[0]

    is_xr = isinstance(arr, xr.DataArray)
    raw = arr.data if is_xr else arr
    is_dask = type(raw).__module__.startswith("dask")
    var_arr = None
    if variance is not None:
        var_arr = variance.data if isinstance(variance, xr.DataArray) else variance
    if is_dask:
        xin = arr if is_xr else xr.DataArray(raw, dims=lead + ["module", "_y", "_x"])
        core_dims = list(xin.dims[-3:])
        sizes = {rname: len(radial)}
        if chi is not None:
            sizes["chi"] = len(chi)
        args = [xin.chunk({d: -1 for d in core_dims})]
        if var_arr is not None:
            vin = (
                variance
                if isinstance(variance, xr.DataArray)
                else xr.DataArray(variance, dims=xin.dims)
            )
            args.append(vin.chunk({d: -1 for d in core_dims}))
        n_out = 2 if var_arr is not None else 1

        def func(*a):
            i_, s_ = core(*a)
            return (i_, s_) if n_out == 2 else i_

        res = xr.apply_ufunc(
            func,
            *args,
            input_core_dims=[core_dims] * len(args),
            output_core_dims=[out_core] * n_out,
            dask="parallelized",
            output_dtypes=[np.float64] * n_out,
            dask_gufunc_kwargs={"output_sizes": sizes},
        )
        inten, sig = res if n_out == 2 else (res, None)
        inten = inten.data
        sig = None if sig is None else sig.data
    else:
        inten, sig = core(raw, var_arr)

    coords = {rname: (rname, np.asarray(radial), {"units": runits, "unit": unit})}
    if chi is not None:
        coords["chi"] = ("chi", chi, {"units": "deg"})
    if is_xr:
        for name, c in arr.coords.items():
            if set(c.dims) <= set(lead):
                coords[name] = c
    ds = xr.Dataset(coords=coords)
    dims = lead + out_core
    ds["I"] = (dims, inten, {"long_name": "mean intensity per pixel area", "method": method})
    ds["area"] = (
        out_core,
        np.asarray(area, float),
        {"long_name": "pixel area covered", "units": "pixel areas"},
    )
    if sig is not None:
        ds["sigma"] = (dims, sig, {"long_name": "standard error of I"})
    ds.attrs.update(
        {
            "unit": unit,
            "method": method,
            "npt": int(npt),
            "distance_m": float(distance) if distance else np.nan,
            "energy_eV": float(energy) if energy else np.nan,
        }
    )
    if mat is not None:
        ds.attrs["matrix_build_s"] = mat.build_s
    return ds
