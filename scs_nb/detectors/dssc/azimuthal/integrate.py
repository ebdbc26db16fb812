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
geometry + parameters and cached (``matrix.azimuthal_matrix``), and applied by a
numba kernel that streams the matrix once per batch of frames.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from ....errors import ToolBoxTypeError, ToolBoxValueError
from ....facility import DSSC_MODULE_SHAPE, HC_EV_NM, dssc_geometry
from .matrix import UNITS, _check_unit, azimuthal_matrix

__all__ = ["integrate_azimuthal", "pyfai_integrator"]

#: integration methods: the matrix ones, then pyFAI
METHODS = ("exact", "bbox", "no", "pyfai")


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
    if modules is not None:
        bad = [
            m
            for m in modules
            if not isinstance(m, (int, np.integer))
            or isinstance(m, bool)
            or not 0 <= int(m) < geom.n_modules
        ]
        if bad or len(set(int(m) for m in modules)) != len(modules):
            raise ToolBoxValueError(
                f"modules={list(modules)}: "
                + (f"{bad} are not" if bad else "a module is given twice; each must be")
                + f" a module of the geometry (0..{geom.n_modules - 1}, each once); pass the "
                "module numbers of the data's module axis"
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
