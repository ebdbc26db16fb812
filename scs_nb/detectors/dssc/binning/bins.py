"""Binners and bin indices.

A *binner* is what ``create_dssc_bins`` returns: a DataArray along ``trainId``
(or ``pulse``, ``x``, ``y``) whose values are the bin labels. Here they become
integer bin indices per train and per frame (memory cell) for the frame
binning; ``per_frame`` aligns a (trainId, pulse) array (XGM, pulse mask) on the
frames of a module.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from ....errors import ToolBoxTypeError, ToolBoxValueError

__all__ = [
    "BINNER_NAMES",
    "create_dssc_bins",
    "check_binner",
    "train_bin_index",
    "pulse_bin_index",
    "pattern_binner",
    "per_frame",
    "bin_labels",
]

BINNER_NAMES = ("trainId", "pulse", "x", "y")


def create_dssc_bins(name, coordinates, bins):
    """Creates a single entry for the dssc binner dictionary. The produced
    xarray data-array will later be used to perform grouping operations
    according to the given bins.

    Parameters
    ----------
    name: str
        name of the coordinate to be binned ('trainId', 'pulse', 'x', 'y').
    coordinates: numpy.ndarray
        the original coordinate values (1D)
    bins: numpy.ndarray
        the bins according to which the corresponding dimension should
        be grouped.

    Returns
    -------
    da: xarray.DataArray
        A pre-formatted xarray.DataArray relating the specified dimension with
        its bins.

    Examples
    --------
    >>> import scs_nb as tb
    >>> run = tb.open_run(2212, 235, include='*DA*')

    1.) binner along 'pulse' dimension. Group data into two bins.
    >>> bins_pulse = ['pumped', 'unpumped'] * 10
    >>> binner_pulse = tb.create_dssc_bins("pulse",
                                np.linspace(0,19,20, dtype=int),
                                bins_pulse)

    2.) binner along 'train' dimension. Group data into bins corresponding
        to the positions of a delay stage for instance.
    >>> bins_trainId = tb.get_array(run, 'PP800_PhaseShifter', 0.04)
    >>> binner_train = tb.create_dssc_bins("trainId",
                                run.trainIds,
                                bins_trainId.values)
    """
    if name not in BINNER_NAMES:
        raise ToolBoxValueError(f"binner name {name!r} is not one of {BINNER_NAMES}")
    coordinates = np.asarray(coordinates)
    bins = np.asarray(bins)
    if coordinates.ndim != 1 or bins.shape != coordinates.shape:
        raise ToolBoxValueError(
            f"create_dssc_bins({name!r}): coordinates and bins must be 1D of the same length, "
            f"got {coordinates.shape} and {bins.shape}"
        )
    if name == "trainId":
        coordinates = coordinates.astype(np.uint64)
    return xr.DataArray(bins, dims=[name], coords={name: coordinates}, name=name)


def bin_labels(values):
    """Unique bin labels of binner values.

    Parameters
    ----------
    values : array_like
        The values of a binner (numbers or strings).

    Returns
    -------
    numpy.ndarray
        Sorted numbers (NaN dropped), or strings in the order they first appear
        (``None`` and ``''`` dropped).
    """
    v = np.asarray(values)
    if v.dtype.kind in "fiu":
        u = np.unique(v[~np.isnan(v.astype(float))]) if v.dtype.kind == "f" else np.unique(v)
        return u
    seen = []
    for x in v.tolist():
        if x is None or x == "" or (isinstance(x, float) and np.isnan(x)):
            continue
        if x not in seen:
            seen.append(x)
    return np.array(seen, dtype=object if not seen else None)


def _index_of(values, labels):
    v = np.asarray(values)
    out = np.full(v.shape, -1, np.int64)
    lookup = {lab: i for i, lab in enumerate(np.asarray(labels).tolist())}
    for j, x in enumerate(v.tolist()):
        out[j] = lookup.get(x, -1)
    return out


def check_binner(name, binner):
    """Check a binner: a DataArray along its own name, one of ``BINNER_NAMES``.

    Parameters
    ----------
    name : str
        'trainId', 'pulse', 'x' or 'y'.
    binner : xarray.DataArray
        Made by ``create_dssc_bins(name, ...)``.

    Returns
    -------
    xarray.DataArray
        The binner, unchanged.
    """
    if name not in BINNER_NAMES:
        raise ToolBoxValueError(
            f"binner name {name!r} is not one of {BINNER_NAMES}; "
            "bin along trainId (a scan), pulse (a pattern), x or y"
        )
    if not isinstance(binner, xr.DataArray):
        raise ToolBoxTypeError(
            f"binner {name!r} must be an xarray.DataArray made by "
            f"create_dssc_bins, got {type(binner).__name__}"
        )
    if binner.dims != (name,):
        raise ToolBoxValueError(
            f"binner {name!r} must have the single dimension {name!r}, "
            f"has {binner.dims}; use create_dssc_bins({name!r}, ...)"
        )
    return binner


def train_bin_index(binner, train_ids, module=None):
    """Bin index of each train.

    Parameters
    ----------
    binner : xarray.DataArray
        The trainId binner.
    train_ids : numpy.ndarray
        (ntrains,) uint64 train ids of the module.
    module : int, optional
        DSSC module, named in messages.

    Returns
    -------
    index : numpy.ndarray
        (ntrains,) int64 bin of each train; -1 for trains not in the binner (warned).
    labels : numpy.ndarray
        The bin labels (``bin_labels``).
    """
    b_tids = binner.coords["trainId"].values.astype(np.uint64)
    common = np.intersect1d(b_tids, train_ids)
    where = f" of DSSC module {module}" if module is not None else ""
    if len(common) == 0:
        raise ToolBoxValueError(
            f"the trainId binner covers train ids {b_tids.min() if len(b_tids) else '-'}.."
            f"{b_tids.max() if len(b_tids) else '-'} ({len(b_tids)} trains) but the run"
            f"{where} has trains {train_ids.min()}..{train_ids.max()}: none in common. "
            "Build the binner from this run's train ids (run.train_ids)."
        )
    labels = bin_labels(binner.values)
    idx_of_b = _index_of(binner.values, labels)
    order = np.argsort(b_tids)
    pos = np.searchsorted(b_tids[order], train_ids)
    pos = np.clip(pos, 0, len(b_tids) - 1)
    hit = b_tids[order][pos] == train_ids
    out = np.where(hit, idx_of_b[order][pos], -1)
    missing = int((~hit).sum())
    if missing:
        warnings.warn(
            f"{missing} of {len(train_ids)} trains{where} are not in the trainId "
            "binner and are not binned",
            stacklevel=3,
        )
    return out, labels


def pulse_bin_index(binner, frames_per_train, module=None):
    """Bin index of each DSSC frame (memory cell) of a train.

    Parameters
    ----------
    binner : xarray.DataArray
        The pulse binner, one entry per frame of a train.
    frames_per_train : int
        Frames per train of the module.
    module : int, optional
        DSSC module, named in messages.

    Returns
    -------
    index : numpy.ndarray
        (frames_per_train,) int64 bin of each frame; -1 for unlabelled frames.
    labels : numpy.ndarray
        The bin labels (``bin_labels``).
    """
    n = binner.sizes["pulse"]
    if n != frames_per_train:
        where = f"DSSC module {module}" if module is not None else "the run"
        raise ToolBoxValueError(
            f"the pulse binner has {n} entries but {where} records {frames_per_train} frames "
            f"per train; create it with create_dssc_bins('pulse', np.arange({frames_per_train})"
            ", labels) with labels repeated to that length"
        )
    coords = binner.coords["pulse"].values if "pulse" in binner.coords else np.arange(n)
    labels = bin_labels(binner.values)
    idx = np.full(frames_per_train, -1, np.int64)
    vals = _index_of(binner.values, labels)
    coords = np.asarray(coords, np.int64)
    if coords.min() < 0 or coords.max() >= frames_per_train:
        raise ToolBoxValueError(
            f"pulse binner coordinates run {coords.min()}..{coords.max()} "
            f"but frames are 0..{frames_per_train - 1}"
        )
    idx[coords] = vals
    return idx, labels


def pattern_binner(pattern, frames_per_train):
    """A pulse binner repeating a pattern over the frames of a train.

    Parameters
    ----------
    pattern : sequence of str
        Labels repeated over the frames, e.g. ['pumped', 'unpumped']; '' drops a frame.
    frames_per_train : int
        Frames per train.

    Returns
    -------
    xarray.DataArray
        The pulse binner (``create_dssc_bins('pulse', ...)``).
    """
    if isinstance(pattern, (str, bytes)):
        raise ToolBoxValueError(
            f"the pulse pattern must be a list of labels, e.g. [{pattern!r}]; got {pattern!r}"
        )
    pattern = list(pattern)
    if not pattern:
        raise ToolBoxValueError("the pulse pattern is empty; e.g. ['pumped', 'unpumped']")
    labels = [pattern[k % len(pattern)] for k in range(frames_per_train)]
    return create_dssc_bins("pulse", np.arange(frames_per_train), labels)


def per_frame(arr, train_ids, frames_per_train, fill=np.nan, name="xgm"):
    """A (trainId, pulse) DataArray aligned on the frames of a module.

    Parameters
    ----------
    arr : xarray.DataArray or None
        (trainId, pulse) values whose pulse coordinate holds DSSC frame numbers
        (``get_xgm_formatted``, a pulse mask); None: all ``fill``.
    train_ids : numpy.ndarray
        (ntrains,) sorted uint64 train ids of the module.
    frames_per_train : int
        Frames per train.
    fill : float
        Value of frames without an entry.
    name : str
        Unused, kept for callers that name the array.

    Returns
    -------
    numpy.ndarray
        (ntrains, frames_per_train) float64.
    """
    out = np.full((len(train_ids), frames_per_train), fill, np.float64)
    if arr is None:
        return out
    a = arr.sel(trainId=arr.trainId.isin(train_ids.astype(arr.trainId.dtype)))
    frames = np.asarray(a.coords["pulse"].values, np.int64)
    ok = (frames >= 0) & (frames < frames_per_train)
    if not ok.all():
        a = a.isel(pulse=np.nonzero(ok)[0])
        frames = frames[ok]
    rows = np.searchsorted(train_ids, a.trainId.values.astype(np.uint64))
    out[np.ix_(rows, frames)] = a.transpose("trainId", "pulse").values
    return out
