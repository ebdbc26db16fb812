"""The one way from a mnemonic to data: lookup, resolve, read.

``lookup(run, mnemonic)`` turns a mnemonic name, a custom ``{'source', 'key',
'dim'}`` dict or a ``{name: {...}}`` dict into ``(name, alternative)`` for this
run, with the same errors everywhere (unknown mnemonic: the close names and the
run's mnemonics; missing source or key: what the run has). ``resolve`` gives the
extra_data ``KeyData``; ``read`` the data as a DataArray over ``trainId``.
``load``, ``scs_nb.pulses``, the detectors and the widgets all read through here.
"""

from __future__ import annotations

import difflib
import os

import xarray as xr
from extra_data import by_index
from extra_data.read_machinery import roi_shape

from ..errors import ToolBoxFileError, ToolBoxTypeError, ToolBoxValueError
from ..mnemonics import alternatives, mnemonic_alternative, mnemonics
from . import damage

__all__ = ["lookup", "resolve", "read", "read_loose", "field_list", "name_of", "custom_spec"]


def field_list(fields):
    """fields (str, dict, list of str/dict) -> list of (name, alternative or None)."""
    if fields is None:
        return []
    if isinstance(fields, (str, dict)):
        fields = [fields]
    if not isinstance(fields, (list, tuple, set)):
        raise ToolBoxTypeError(
            f"fields must be a mnemonic, a list of mnemonics or a dict "
            f"{{'name': {{'source': ..., 'key': ..., 'dim': ...}}}}, got {type(fields).__name__}"
        )
    out = []
    for f in fields:
        if isinstance(f, str):
            out.append((f, None))
        elif isinstance(f, dict) and {"source", "key"} <= set(f):
            alt = custom_spec(None, f)
            out.append((f.get("name") or name_of(alt) or alt["key"].replace(".", "_"), alt))
        elif isinstance(f, dict):
            for name, spec in f.items():
                out.append((str(name), custom_spec(name, spec)))
        else:
            raise ToolBoxTypeError(f"a field must be a mnemonic (str) or a dict, got {f!r}")
    return out


def custom_spec(name, spec):
    """A user's ``{'source', 'key', 'dim'}`` (or a tuple of them: the first)."""
    if isinstance(spec, (list, tuple)) and spec and isinstance(spec[0], dict):
        spec = spec[0]
    if not isinstance(spec, dict) or "source" not in spec or "key" not in spec:
        raise ToolBoxValueError(
            f"custom field {name!r} must be a dict {{'source': ..., 'key': ..., 'dim': ...}}, "
            f"got {spec!r}"
        )
    alt = dict(spec)
    alt.setdefault("dim", None)
    alt.pop("name", None)
    return alt


def name_of(alt):
    """The table's name for a (source, key), or None."""
    for name in mnemonics:
        for a in alternatives(name):
            if a["source"] == alt["source"] and a["key"] == alt["key"]:
                return name
    return None


def lookup(run, mnemonic, spec=None):
    """``(name, alternative)`` of a mnemonic (name or dict) in this run.

    ``spec``, when given, is the custom alternative of ``mnemonic`` (a name).
    """
    if not hasattr(run, "all_sources"):
        raise ToolBoxTypeError(
            f"run must be an extra_data DataCollection (from open_run), got {type(run).__name__}"
        )
    if spec is None and isinstance(mnemonic, dict):
        fields = field_list(mnemonic)
        if len(fields) != 1:
            raise ToolBoxValueError(f"one mnemonic expected, got {mnemonic!r}")
        mnemonic, spec = fields[0]
    if not isinstance(mnemonic, str):
        raise ToolBoxTypeError(f"a mnemonic must be a str or a dict, got {type(mnemonic)}")
    if spec is None:
        return mnemonic, mnemonic_alternative(run, mnemonic)
    src, key = spec["source"], spec["key"]
    if src not in run.all_sources:
        close = difflib.get_close_matches(src, sorted(run.all_sources), n=5, cutoff=0.6)
        hint = f" Similar sources: {', '.join(close)}." if close else ""
        raise ToolBoxValueError(
            f"field {mnemonic!r}: source {src!r} is missing from this run.{hint}"
            f"{damage.hint(run)} "
            "See run.all_sources for what the run contains."
        )
    keys = run[src].keys()
    if key not in keys:
        if src in run.control_sources and key + ".value" in keys:
            return mnemonic, {**spec, "key": key + ".value"}
        keys = sorted(k for k in keys if not k.endswith(".timestamp"))
        if len(keys) <= 30:
            hint = f"Keys of this source: {', '.join(keys)}. "
        else:
            close = difflib.get_close_matches(key, keys, n=10, cutoff=0.5)
            hint = f"Similar keys: {', '.join(close)}. " if close else ""
        raise ToolBoxValueError(
            f"field {mnemonic!r}: key {key!r} is not in source {src!r}. "
            + hint
            + f"See run[{src!r}].keys() for all keys."
        )
    return mnemonic, dict(spec)


def resolve(run, mnemonic):
    """The extra_data ``KeyData`` of a mnemonic (name or dict) in this run."""
    _, alt = lookup(run, mnemonic)
    return run[alt["source"], alt["key"]]


def files_of(run, source) -> str:
    """The names of the files that hold ``source`` in ``run`` (for error messages)."""
    try:
        return ", ".join(sorted({os.path.basename(f.filename) for f in run[source].files}))
    except Exception:  # pragma: no cover
        return "?"


def read(run, mnemonic, name=None, roi=None, dim=None, alt=None, strict_dims=True):
    """A mnemonic as a DataArray over ``trainId`` (errors as ToolBox errors).

    name: the array's name (default: the mnemonic's). roi: an extra_data ROI
    (``by_index[...]`` or a tuple of slices) of each entry. dim: names of the
    entry dimensions (default: the table's). alt: an alternative already
    looked up. strict_dims: a mismatch between the names and the entry shape
    is an error; otherwise the dimensions are named ``<name>_dim_<i>``.
    Attributes ``source``, ``key`` and ``kind`` say where the data came from.
    """
    if alt is None:
        mname, alt = lookup(run, mnemonic)
    else:
        mname = mnemonic if isinstance(mnemonic, str) else name_of(alt) or alt["key"]
    name = name or mname
    src, key = alt["source"], alt["key"]
    dims = dim if dim is not None else alt.get("dim")
    kd = run[src, key]
    if roi is not None:
        _check_roi(name, src, key, kd.entry_shape, roi)
    if dims:
        shape = _entry_shape(kd.entry_shape, roi)
        if shape is not None and len(dims) != len(shape):
            if strict_dims:
                raise ToolBoxValueError(
                    f"{name!r} ({src} {key}): dim={list(dims)!r} names {len(dims)} "
                    f"dimension(s) but each entry has shape {shape}; pass {len(shape)} "
                    "dimension name(s)"
                )
            dims = [f"{name}_dim_{i}" for i in range(len(shape))]
    elif len(kd.entry_shape) and not strict_dims:
        dims = [f"{name}_dim_{i}" for i in range(len(kd.entry_shape))]
    kw = {}
    if roi is not None:
        kw["roi"] = roi.value if isinstance(roi, by_index) else roi
    try:
        arr = kd.xarray(extra_dims=list(dims) if dims else None, name=name, **kw)
    except (OSError, RuntimeError) as exc:  # h5py read failure: a damaged file
        raise ToolBoxFileError(
            f"cannot read {name!r} ({src} {key}) from file(s) {files_of(run, src)}: {exc}. "
            "The file is probably truncated or corrupt."
        ) from exc
    except ValueError as exc:
        raise ToolBoxValueError(
            f"cannot load {name!r} ({src} {key}, entry shape {kd.entry_shape}) with "
            f"dim={dims!r}{' and roi=' + repr(roi) if roi is not None else ''}: {exc}"
        ) from exc
    if arr.sizes["trainId"] and not arr.indexes["trainId"].is_unique:
        raise ToolBoxValueError(
            f"{name!r} ({src} {key}) has several entries per train; load it with its detector "
            "routine or with extra_data (run[source, key].xarray()) instead"
        )
    arr.attrs.update(source=src, key=key)
    return arr


def _check_roi(name, src, key, entry_shape, roi):
    """An ROI that does not fit the entries (a scalar per train, too many indices) is
    refused with the entry shape, before extra_data raises an IndexError."""
    r = roi.value if isinstance(roi, by_index) else roi
    r = r if isinstance(r, tuple) else (r,)
    try:
        roi_shape(tuple(entry_shape), r)
        ok = True
    except (IndexError, TypeError, ValueError):
        ok = False
    if not ok or not len(entry_shape):
        raise ToolBoxValueError(
            f"roi {roi!r} does not fit {name!r} ({src} {key}): each train holds "
            + (
                "a single value (no dimension to select from)"
                if not len(entry_shape)
                else f"an entry of shape {tuple(entry_shape)}"
            )
            + "; pass an ROI with at most one index per entry dimension, or load "
            f"{name!r} without rois"
        )


def _entry_shape(entry_shape, roi):
    shape = tuple(entry_shape)
    if roi is None:
        return shape
    try:
        r = roi.value if isinstance(roi, by_index) else roi
        return roi_shape(shape, r if isinstance(r, tuple) else (r,))
    except Exception:  # pragma: no cover - let extra_data report it
        return None


def read_loose(run, mnemonic, name=None) -> xr.DataArray:
    """A mnemonic as a DataArray (trainId, <entry dims>), naming what the table does not.

    Parameters
    ----------
    run : extra_data.DataCollection
        The open run.
    mnemonic : str or dict
        A mnemonic name or a custom ``{'source', 'key', 'dim'}`` dict.
    name : str, optional
        The array's name (default: the mnemonic's).

    Returns
    -------
    xarray.DataArray
        As ``read``, except that entry dimensions the table does not name are
        called ``<name>_dim_<i>`` instead of raising.
    """
    mname, alt = lookup(run, mnemonic)
    return read(run, mname, name=name or mname, alt=alt, strict_dims=False)
