"""The inputs of a DSSC binning (ToolBox ``dssc_misc``): run info, binners
(``create_dssc_bins``, defined in ``bins``), XGM per DSSC frame, ASIC masks."""

from __future__ import annotations

import os
import warnings

import numpy as np

from ....errors import ToolBoxFileError, ToolBoxPathError, ToolBoxValueError
from ....load import get_array
from ....pulses.xgm import get_xgm
from . import raw
from .bins import create_dssc_bins

__all__ = [
    "load_dssc_info",
    "create_dssc_bins",
    "get_xgm_formatted",
    "quickmask_DSSC_ASIC",
    "load_mask",
    "load_xgm_pulses",
]


def load_dssc_info(proposal, run_nr):
    """Loads the first data file for DSSC module 0 (this is hardcoded) and
    returns the detector_info dictionary.

    If module 0 was not recorded, the first module present is used (with a
    warning).

    Parameters
    ----------
    proposal: str, int
        number of proposal
    run_nr: str, int
        number of run

    Returns
    -------
    info : dictionary
        {'dims': tuple, 'frames_per_train': int, 'total_frames': int,
        'trainIds': numpy.ndarray, 'number_of_trains': int}
    """
    run_dir = raw.run_directory(proposal, run_nr)
    modules = raw.present_modules(run_dir)
    if not modules:
        raise ToolBoxPathError(
            f"run {run_nr} of proposal {proposal} ({run_dir}) has no DSSC "
            "files (RAW-R####-DSSC##-S#####.h5)"
        )
    module = 0 if 0 in modules else modules[0]
    if module != 0:
        warnings.warn(
            f"DSSC module 0 is not in the run; info taken from module {module}", stacklevel=2
        )
    idx = raw.index_module(run_dir, module)
    return {
        "dims": tuple(raw.MODULE_SHAPE),
        "frames_per_train": idx.frames_per_train,
        "total_frames": idx.total_frames,
        "trainIds": idx.train_ids,
        "number_of_trains": len(idx.train_ids),
        "modules": modules,
    }


def _npulses(run):
    try:
        n = get_array(run, "npulses_sase3").values
        n = int(np.max(n)) if n.size else 0
        if n > 0:
            return n
    except Exception:
        pass
    return None


def load_xgm_pulses(run, xgm_name="SCS_SA3"):
    """Pulse-resolved XGM (trainId, pulse) with pulse = 0..npulses-1.

    Uses ``scs_nb.get_xgm`` (bunch-pattern aligned) when available, else the
    fast XGM array cut to the number of SASE3 pulses of the bunch decoder.
    """
    try:
        ds = get_xgm(run, xgm_name)
        arr = ds[xgm_name]
        pdim = [d for d in arr.dims if d != "trainId"][0]
        arr = arr.rename({pdim: "pulse"})
        return arr.assign_coords(pulse=np.arange(arr.sizes["pulse"])).dropna("trainId", how="all")
    except ImportError:
        pass
    arr = get_array(run, xgm_name)
    pdim = [d for d in arr.dims if d != "trainId"][0]
    n = _npulses(run)
    if n is None:
        v = arr.values
        n = int((~np.isclose(v, 1.0)).sum(axis=1).max())
    arr = arr.isel({pdim: slice(0, n)}).rename({pdim: "pulse"})
    return arr.assign_coords(pulse=np.arange(n))


def get_xgm_formatted(run_obj, xgm_name, dssc_frame_coords):
    """Load the xgm data and define coordinates along the pulse dimension.

    Parameters
    ----------
    run_obj: extra_data.DataCollection
        DataCollection object providing access to the xgm data to be loaded
    xgm_name: str
        valid mnemonic of a xgm source
    dssc_frame_coords: int, list
        defines which dssc frames should be normalized using data from the
        xgm: an int is a stride (pulse j -> frame j * stride; 2 with
        intra-darks), a list gives the frame of each XGM pulse.

    Returns
    -------
    xgm: xarray.DataArray
        xgm data with coordinate 'pulse' (the DSSC frame numbers).
    """
    xgm = load_xgm_pulses(run_obj, xgm_name)
    n = xgm.sizes["pulse"]
    if isinstance(dssc_frame_coords, (int, np.integer)):
        if dssc_frame_coords < 1:
            raise ToolBoxValueError(
                f"dssc_frame_coords (a stride) must be >= 1, got {dssc_frame_coords!r}"
            )
        frames = np.arange(n, dtype=np.int64) * int(dssc_frame_coords)
    else:
        frames = np.asarray(dssc_frame_coords, np.int64)
        if len(frames) < n:
            xgm = xgm.isel(pulse=slice(0, len(frames)))
        frames = frames[: xgm.sizes["pulse"]]
    return xgm.assign_coords(pulse=frames).rename(xgm_name)


def quickmask_DSSC_ASIC(poslist, masklist=None):
    """Returns a mask for the given DSSC geometry with ASICs given in poslist
    blanked. poslist is a list of (module, row, column) tuples. Each module
    consists of 2 rows and 8 columns of individual ASICS.

    The older form ``quickmask_DSSC_ASIC(geom, masklist)`` (an extra_geom DSSC
    geometry, then the list) is accepted too; the geometry is checked to be a
    DSSC 1M one and the mask is the same module stack.

    Returns a (16, 128, 512) float array: 1 for good pixels, 0 for blanked.
    """
    if masklist is not None:
        geom = poslist
        shape = tuple(getattr(geom, "expected_data_shape", ()))
        if shape[-3:] != (raw.NMODULES,) + raw.MODULE_SHAPE:
            raise ToolBoxValueError(
                f"quickmask_DSSC_ASIC(geom, masklist): geom must be a DSSC 1M geometry "
                f"(extra_geom.DSSC_1MGeometry), got {type(geom).__name__} with data shape "
                f"{shape or 'unknown'}; or call quickmask_DSSC_ASIC(poslist)"
            )
        poslist = masklist
    mask = np.ones((raw.NMODULES,) + raw.MODULE_SHAPE)
    for item in poslist:
        try:
            module, row, col = (int(v) for v in item)
        except (TypeError, ValueError):
            raise ToolBoxValueError(
                f"poslist entries are (module, row, column), got {item!r}"
            ) from None
        if not (0 <= module < 16 and 0 <= row < 2 and 0 <= col < 8):
            raise ToolBoxValueError(f"ASIC {item}: module 0..15, row 0..1, column 0..7")
        mask[module, 64 * row : 64 * (row + 1), 64 * col : 64 * (col + 1)] = 0
    return mask


def load_mask(fname, dssc_mask):
    """Load a DSSC mask file.

    The file is either a text file of ASICs to blank, one ``module row column``
    per line (``#`` comments allowed), or a ``.npy`` array (16, 128, 512) with
    0/False for bad pixels. The result is ``dssc_mask`` with those pixels set
    to 0.

    Parameters
    ----------
    fname: str
        string of the filename of the mask file
    dssc_mask: numpy.ndarray (16, 128, 512)

    Returns
    -------
    dssc_mask
    """
    if not os.path.isfile(fname):
        raise ToolBoxPathError(f"mask file {fname} does not exist")
    mask = np.array(dssc_mask, dtype=float, copy=True)
    if str(fname).endswith(".npy"):
        m = np.load(fname)
        if m.shape != mask.shape:
            raise ToolBoxFileError(f"mask {fname} has shape {m.shape}, expected {mask.shape}")
        mask[~m.astype(bool)] = 0
        return mask
    try:
        rows = np.loadtxt(fname, dtype=int, comments="#", ndmin=2)
    except ValueError as exc:
        raise ToolBoxFileError(
            f"mask file {fname}: expected lines 'module row column' ({exc})"
        ) from None
    if rows.size == 0:
        return mask
    return mask * quickmask_DSSC_ASIC([tuple(r) for r in rows])
