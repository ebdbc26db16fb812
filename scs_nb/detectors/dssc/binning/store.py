"""Storing and combining binned DSSC data (ToolBox ``dssc_data``), and the
module files of a binning: their names, atomic writes, reuse of complete ones."""

from __future__ import annotations

import contextlib
import glob
import json
import os

import h5py
import numpy as np
import xarray as xr

from ....atomic import replacing
from ....errors import ToolBoxFileError, ToolBoxPathError, ToolBoxValueError

__all__ = ["save_xarray", "save_attributes_h5", "load_xarray", "get_data_formatted"]


def _groups(fname):
    try:
        with h5py.File(fname, "r") as f:
            return {k for k, v in f.items() if isinstance(v, h5py.Group)}
    except OSError:
        return set()


def save_xarray(fname, data, group="data", mode="a"):
    """Store xarray Dataset in the specified location

    Parameters
    ----------
    data: xarray.DataSet
        The data to be stored
    fname: str, int
        filename
    group: str
        group in the HDF5 file
    mode: str
        'a' adds the group to an existing file (an existing group is an
        error), 'w' replaces the file.

    Raises
    ------
    ToolBoxFileError: Exception: File existed, but overwrite was set to False.
    """
    fname = str(fname)
    if mode not in ("a", "w"):
        raise ToolBoxValueError(f"mode must be 'a' (add a group) or 'w' (new file), got {mode!r}")
    if mode == "a" and os.path.exists(fname) and group in _groups(fname):
        raise ToolBoxFileError(
            f"{fname} already has a group {group!r}; use another group or "
            "mode='w' to replace the file"
        )
    if isinstance(data, xr.DataArray):
        data = data.to_dataset(name=data.name or "data")
    if mode == "a" and not os.path.exists(fname):
        mode = "w"
    if mode == "w":
        write_module_file(data, fname, group=group)
    else:
        data.to_netcdf(fname, group=group, mode="a", engine="h5netcdf")


def save_attributes_h5(fname, data={}):
    """Adding attributes to a hdf5 file. This function is intended to be used to
    attach metadata to a processed run.

    Parameters
    ----------
    fname: str
        filename as string
    data: dictionary
        the data that should be added to the file in form of a dictionary.
    """
    if not os.path.exists(fname):
        raise ToolBoxPathError(f"{fname} does not exist; write the data first (save_xarray)")
    with h5py.File(fname, "a") as f:
        for key, value in dict(data).items():
            if isinstance(value, (dict, list, tuple)) and not _numeric_seq(value):
                value = json.dumps(value, default=str)
            elif value is None:
                value = "None"
            f.attrs[str(key)] = value


def _numeric_seq(v):
    try:
        a = np.asarray(v)
    except Exception:
        return False
    return a.dtype.kind in "biuf"


def load_xarray(fname, group="data", form="dataset"):
    """Load stored xarray Dataset.

    Parameters
    ----------
    fname: str
        filename as string
    group: str
        the name of the xarray dataset (group in h5 file).
    form: str
        specify whether the data to be loaded is a 'dataset' or a 'array'.
    """
    if not os.path.exists(fname):
        raise ToolBoxPathError(f"{fname} does not exist")
    if form not in ("dataset", "array"):
        raise ToolBoxValueError(f"form must be 'dataset' or 'array', got {form!r}")
    if group and group not in ("/",) and group not in _groups(fname) and group != "data":
        raise ToolBoxFileError(f"{fname} has no group {group!r}; groups: {sorted(_groups(fname))}")
    grp = group if group in _groups(fname) else None
    if form == "dataset":
        return xr.load_dataset(fname, group=grp, engine="h5netcdf")
    return xr.load_dataarray(fname, group=grp, engine="h5netcdf")


def get_data_formatted(filenames=[], data_list=[]):
    """Combines the given data into one dataset. For any of extra_data's data
    types, an xarray.Dataset is returned. The data is sorted along the 'module'
    dimension. The array dimension have the order 'trainId', 'pulse', 'module',
    'x', 'y'. This order is required by the extra_geometry package.

    Parameters
    ----------
    filenames: list of str
        files to be combined as a list of names.
    data_list: list
        list containing the already loaded data

    Returns
    -------
    data: xarray.Dataset
        A xarray.Dataset containing the combined data.
    """
    if isinstance(filenames, str):
        filenames = (
            sorted(glob.glob(os.path.join(filenames, "*.h5")))
            if os.path.isdir(filenames)
            else [filenames]
        )
    datasets = [load_xarray(f) for f in filenames] + list(data_list)
    if not datasets:
        raise ToolBoxValueError("get_data_formatted: no files and no data given")
    datasets = [
        d.expand_dims(module=[d.attrs["module"]])
        if "module" not in d.dims and "module" in d.attrs
        else d
        for d in datasets
    ]
    data = xr.concat(
        datasets,
        dim="module",
        data_vars="minimal",
        coords="minimal",
        join="inner",
        combine_attrs="drop_conflicts",
    ).sortby("module")
    if "data" in data:
        first = [d for d in data["data"].dims if d not in ("pulse", "module", "x", "y")]
        order = first + [d for d in ("pulse", "module", "x", "y") if d in data["data"].dims]
        data["data"] = data["data"].transpose(*order)
    return data


# -- the module files of a binning -------------------------------------------------
def module_filename(run, module) -> str:
    """The file name of a binned module: ``run_<run>_module<module>.h5``.

    Parameters
    ----------
    run, module : int
        Run and DSSC module numbers.

    Returns
    -------
    str
        The file name (no folder).
    """
    return f"run_{int(run)}_module{int(module)}.h5"


def _local_write_lock(ds):
    """Inside a dask worker, xarray guards every HDF5 write with a distributed
    ``Lock`` (a scheduler round trip per variable: 16 per module file, 0.03-0.06 s
    of each task). A module file is written by one task, from numpy arrays, to a
    temporary name of its own: a process-local lock is enough. xarray picks the
    lock from dask's scheduler; for a dataset without dask arrays that is set to
    the synchronous one while writing (nothing is computed with it)."""
    if any(v.chunks for v in ds.variables.values()):
        return contextlib.nullcontext()
    try:
        import dask  # optional: only with dask installed is a scheduler to set
    except ImportError:
        return contextlib.nullcontext()
    return dask.config.set(scheduler="synchronous")


def write_module_file(ds: xr.Dataset, fname: str, group=None):
    """Write a dataset with h5netcdf to a temporary name in the same folder
    (not matching *.h5), then rename: never a half-written module file.

    Parameters
    ----------
    ds : xarray.Dataset
        The data.
    fname : str
        The file.
    group : str, optional
        HDF5 group (default the root).

    Returns
    -------
    str
        ``fname``.
    """
    with replacing(fname) as tmp, _local_write_lock(ds):
        ds.to_netcdf(tmp, group=group, engine="h5netcdf", mode="w")
    return fname


def complete_file(fname, phash):
    """Whether a module file is finished and made with the same parameters.

    Parameters
    ----------
    fname : str
        The module file.
    phash : str
        ``params_hash`` of the parameters of this binning.

    Returns
    -------
    bool
        True if ``fname`` holds ``phash``; False if it does not exist, is
        unreadable or holds an empty variable (0 bins): to be redone. Raises
        ToolBoxFileError if it was made with other parameters.
    """
    if not os.path.exists(fname):
        return False
    try:
        with h5py.File(fname, "r") as f:
            old = f.attrs.get("params_hash")
            empty = []
            f.visititems(
                lambda name, obj: (
                    empty.append(name)
                    if isinstance(obj, h5py.Dataset) and obj.shape and 0 in obj.shape
                    else None
                )
            )
    except OSError:
        return False  # unreadable leftover: redo it
    if empty:
        return False  # no bins (an older binning of an empty x axis): never complete
    old = old.decode() if isinstance(old, bytes) else old
    if old == phash:
        return True
    raise ToolBoxFileError(
        f"{fname} exists and was binned with other parameters (hash {old} != {phash}); "
        "pass overwrite=True to replace it, or choose another output folder"
    )


def clean_stale_parts(folder, fname):
    """Remove the temporary files a killed writer of ``fname`` left behind.

    Parameters
    ----------
    folder : str
        The output folder.
    fname : str
        The module file whose ``.<name>.*.part`` leftovers are removed.

    Returns
    -------
    None
    """
    base = "." + os.path.basename(fname) + "."
    if not os.path.isdir(folder):
        return
    for f in os.listdir(folder):
        if f.startswith(base) and f.endswith(".part"):
            # a leftover of a killed worker (one writer per module file)
            try:
                os.remove(os.path.join(folder, f))
            except OSError:
                pass
