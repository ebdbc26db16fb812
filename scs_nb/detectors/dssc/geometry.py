"""DSSC quadrant geometry ("DSSC create geometry"): refine the four quadrant
positions (and so the beam centre) by sharpening a known scattering ring, and
save the geometry as a file extra_geom reads back.

The model: the pixels of quadrant k see a ring Gaussian in q,
``I = B_k + A_k exp(-(q(|p + d_k|) - q0)^2 / (2 s^2))``, with ``p`` the nominal
pixel centre, ``d_k`` the quadrant's offset (mm), ``q0`` the ring's known
momentum transfer (``q0=None``: a common radius fitted too, then the offsets
are relative). Each quadrant is fitted by least squares over its pixels near
the ring; the refined quadrant positions are the nominal ones + ``d_k``, the
beam centre in the nominal frame is ``-mean(d_k)``.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from ...atomic import replacing
from ...errors import ToolBoxPathError, ToolBoxValueError
from ...facility import DSSC_MODULE_SHAPE, DSSC_NMODULES, HC_EV_NM, dssc_geometry
from ..frames import bin_frames
from .azimuthal.integrate import integrate_azimuthal
from .binning import raw
from .binning.run import dssc_dark

__all__ = [
    "refine_quadrants",
    "shifted_geometry",
    "save_geometry",
    "load_geometry",
    "mean_module_images",
    "ring_sharpness",
]


def _q_of_r(r_mm, distance, energy):
    lam = HC_EV_NM / float(energy)
    return 4 * np.pi / lam * np.sin(np.arctan(r_mm / (float(distance) * 1e3)) / 2)


def _quad_positions(geom):
    qp = geom.quad_positions() if callable(getattr(geom, "quad_positions", None)) else None
    if qp is None:
        raise ToolBoxValueError(
            "the geometry has no quadrant positions; pass a "
            "DSSC_1MGeometry (scs_nb.facility.dssc_geometry())"
        )
    return np.asarray(qp, float)


def shifted_geometry(geom, offsets_mm):
    """The geometry with its quadrants moved.

    Parameters
    ----------
    geom : extra_geom.DSSC_1MGeometry
        The geometry.
    offsets_mm : array_like
        (4, 2): quadrant k moves by ``offsets_mm[k]`` = (dx, dy) in mm.

    Returns
    -------
    extra_geom.DSSC_1MGeometry
        A new geometry from the moved quadrant positions.
    """
    from extra_geom import DSSC_1MGeometry  # heavy: only to build a geometry

    off = np.asarray(offsets_mm, float)
    if off.shape != (4, 2):
        raise ToolBoxValueError(
            f"offsets_mm must be 4 (dx, dy) pairs in mm, got shape {off.shape}"
        )
    return DSSC_1MGeometry.from_quad_positions((_quad_positions(geom) + off).tolist())


def _prepare(image, modules):
    img = np.asarray(image, float)
    if img.ndim == 4:  # frames: their mean
        img = np.nanmean(img, axis=0)
    if img.ndim != 3 or tuple(img.shape[1:]) != DSSC_MODULE_SHAPE:
        raise ToolBoxValueError(
            f"image must be (module, 128, 512) (or frames of it); got {np.shape(image)}"
        )
    mods = list(range(DSSC_NMODULES)) if modules is None else [int(m) for m in modules]
    if len(mods) != img.shape[0]:
        raise ToolBoxValueError(
            f"modules={mods} names {len(mods)} modules, the image has {img.shape[0]}"
        )
    return img, mods


def refine_quadrants(
    image, geom=None, q0=0.5, distance=0.5, energy=930.0, modules=None, window=3.0, mask=None
):
    """Fit the four quadrant offsets by sharpening a ring at known ``q0``.

    Parameters
    ----------
    image : array_like
        (module, 128, 512) mean image (or frames of it, averaged), ADU.
    geom : extra_geom.DSSC_1MGeometry, optional
        The nominal geometry (default ``scs_nb.facility.dssc_geometry()``).
    q0 : float
        Momentum transfer of the ring (nm^-1).
    distance : float
        Sample-detector distance (m).
    energy : float
        Photon energy (eV).
    modules : list of int, optional
        Module numbers of the image (default 0..15).
    window : float
        Pixels within ``window`` ring widths (first guess 0.03 nm^-1) of q0 are fitted.
    mask : array_like, optional
        Boolean like ``image``; True leaves a pixel out.

    Returns
    -------
    dict
        ``offsets_mm`` (4, 2) (quadrants without modules: 0 and NaN errors),
        ``errors_mm``, ``beam_center_mm`` (in the nominal frame), ``sigma_q``
        (4,) nm^-1, ``geometry`` (the refined extra_geom geometry) and
        ``quad_positions`` (mm).
    """
    from scipy.optimize import least_squares  # heavy: only for the fit

    geom = dssc_geometry() if geom is None else geom
    img, mods = _prepare(image, modules)
    pos = geom.get_pixel_positions()[mods][..., :2] * 1e3  # mm
    good = np.isfinite(img)
    if mask is not None:
        good &= ~np.asarray(mask, bool)
    offsets = np.zeros((4, 2))
    errors = np.full((4, 2), np.nan)
    sig = np.full(4, np.nan)
    width0 = 0.03
    for quad in range(4):
        sel = [i for i, m in enumerate(mods) if m // 4 == quad]
        if not sel:
            continue
        p = pos[sel].reshape(-1, 2)
        v = img[sel].reshape(-1)
        ok = good[sel].reshape(-1)
        q_nom = _q_of_r(np.hypot(p[:, 0], p[:, 1]), distance, energy)
        near = ok & (np.abs(q_nom - q0) < window * width0 + 0.02)
        if near.sum() < 50:
            raise ToolBoxValueError(
                f"quadrant {quad} (modules {[mods[i] for i in sel]}) has "
                f"{int(near.sum())} pixels near q0={q0} nm^-1; check q0, "
                "distance and energy"
            )
        p, v = p[near], v[near]
        b0 = float(np.percentile(v, 5))
        a0 = float(np.percentile(v, 99) - b0)

        def resid(x, p=p, v=v):
            q = _q_of_r(np.hypot(p[:, 0] + x[0], p[:, 1] + x[1]), distance, energy)
            return x[2] + x[3] * np.exp(-0.5 * ((q - q0) / x[4]) ** 2) - v

        res = least_squares(resid, [0.0, 0.0, b0, a0, width0], x_scale=[0.2, 0.2, a0, a0, 0.01])
        J = res.jac
        dof = max(len(v) - 5, 1)
        s2 = float((res.fun**2).sum() / dof)
        try:
            cov = np.linalg.inv(J.T @ J) * s2
            errors[quad] = np.sqrt(np.diag(cov)[:2])
        except np.linalg.LinAlgError:
            pass
        offsets[quad] = res.x[:2]
        sig[quad] = abs(res.x[4])
    have = np.isfinite(errors[:, 0])
    centre = -offsets[have].mean(axis=0) if have.any() else np.zeros(2)
    refined = shifted_geometry(geom, offsets)
    return {
        "offsets_mm": offsets,
        "errors_mm": errors,
        "beam_center_mm": centre,
        "sigma_q": sig,
        "geometry": refined,
        "quad_positions": _quad_positions(refined),
    }


def ring_sharpness(
    image, geom, q0=0.5, distance=0.5, energy=930.0, modules=None, npt=200, qrange=0.15
):
    """How sharp a ring is on a geometry: the peak over the mean of I(q) around q0.

    Parameters
    ----------
    image : array_like
        (module, 128, 512) mean image, ADU.
    geom : extra_geom.DSSC_1MGeometry
        The geometry.
    q0 : float
        Momentum transfer of the ring (nm^-1).
    distance : float
        Sample-detector distance (m).
    energy : float
        Photon energy (eV).
    modules : list of int, optional
        Module numbers of the image (default 0..15).
    npt : int
        Radial bins.
    qrange : float
        I(q) is integrated exactly over q0 +- qrange (nm^-1).

    Returns
    -------
    sharpness : float
        Peak height over mean of I(q) (larger = sharper ring).
    profile : xarray.DataArray
        I(q) of the geometry.
    """
    img, mods = _prepare(image, modules)
    ds = integrate_azimuthal(
        img[None],
        geom,
        npt=npt,
        unit="q_nm^-1",
        distance=distance,
        energy=energy,
        radial_range=(q0 - qrange, q0 + qrange),
        modules=mods,
    )
    prof = ds.I.isel(frame=0)
    return float(prof.max() / prof.mean()), prof


def save_geometry(geom, path, overwrite=False):
    """Write a geometry to an extra_geom DSSC HDF5 file (module layout), with the
    quadrant positions (mm) in its ``quad_positions`` attribute; atomic (a
    temporary file renamed). Read back with ``load_geometry(path)``.

    Parameters
    ----------
    geom : extra_geom.DSSC_1MGeometry
        The geometry.
    path : str or os.PathLike
        The file.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    str
        ``path``.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise ToolBoxPathError(
            f"{path} exists; pass overwrite=True to replace it or another file name"
        )
    with replacing(path) as tmp:
        quad = geom.to_h5_file_and_quad_positions(tmp)
        with h5py.File(tmp, "a") as f:
            f.attrs["quad_positions"] = np.asarray(quad, float)
    return path


def load_geometry(path, quad_positions=None):
    """A ``DSSC_1MGeometry`` from a file of ``save_geometry``.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    quad_positions : array_like, optional
        (4, 2) quadrant positions in mm (default: the file's attribute).

    Returns
    -------
    extra_geom.DSSC_1MGeometry
        The geometry.
    """
    from extra_geom import DSSC_1MGeometry  # heavy: only to build a geometry

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ToolBoxPathError(
            f"geometry file {path} not found; write one with save_geometry(geom, path)"
        )
    if quad_positions is None:
        with h5py.File(path, "r") as f:
            if "quad_positions" not in f.attrs:
                raise ToolBoxValueError(
                    f"{path} has no quad_positions attribute; pass "
                    "quad_positions=[(x, y)] * 4 in mm"
                )
            quad_positions = f.attrs["quad_positions"]
    return DSSC_1MGeometry.from_h5_file_and_quad_positions(
        path, [tuple(map(float, q)) for q in np.asarray(quad_positions)]
    )


def mean_module_images(proposal, run, modules, dark_run=None):
    """Mean image of each module over all frames of a run, read with the frame
    binning.

    Parameters
    ----------
    proposal : int
        Proposal number.
    run : int
        Run number.
    modules : list of int
        DSSC modules.
    dark_run : int, optional
        Dark run subtracted per memory cell.

    Returns
    -------
    numpy.ndarray
        (module, 128, 512) float64, ADU.
    """
    run_dir = raw.run_directory(proposal, run)
    out = []
    for m in modules:
        idx = raw.index_module(run_dir, m)
        fpt = idx.frames_per_train
        fb = np.tile(np.arange(fpt), (len(idx.train_ids), 1))
        res = bin_frames(idx, fb, None, fpt)
        dark = None if dark_run is None else dssc_dark(proposal, dark_run, m)
        mean = res.means(dark).reshape(fpt, *raw.MODULE_SHAPE)
        out.append(mean.mean(axis=0))
    return np.asarray(out, float)
