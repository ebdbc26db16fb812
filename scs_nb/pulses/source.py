"""Data in memory in place of a run: a live stream's trains, or a Dataset.

The pulse functions (``get_xgm``, ``get_peaks``, ``get_bam``...) read their
devices from an extra_data ``DataCollection``. During a run the same data
arrives train by train over the karabo bridge (``scs_nb.live.Stream``); they
then take an ``InMemory``: the trains as a Dataset (variables named by their
mnemonics, as ``load`` names them), the alternative of each mnemonic the data
came from, and a cache the stream keeps between calls (peak-integration windows
found once, peaks of trains already integrated).

Anything with a ``live_data()`` method returning an ``InMemory`` (a Stream) and
a plain ``xarray.Dataset`` are accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError
from ..mnemonics import alternatives, mnemonics
from .bunch_pattern import PULSE_DIMS
from .digitizer_channels import peaks_name
from .merge import merge_on_trains

__all__ = [
    "InMemory",
    "split_source",
    "in_memory_alt",
    "cached_rows",
    "from_memory",
    "processed_in_memory",
]


@dataclass
class InMemory:
    """Trains in memory, read by the pulse functions in place of a run.

    Attributes
    ----------
    data : xarray.Dataset
        Variables named by mnemonic over ``trainId`` (raw as ``load`` reads them,
        or already processed as ``load`` returns them).
    alts : dict
        Mnemonic -> the table's alternative (``source``, ``key``...) the data
        came from; mnemonics not listed use their first alternative.
    cache : dict or None
        State kept between calls on the same stream: peak windows found by
        ``autoFind`` and peaks already integrated (None: nothing kept).
    """

    data: xr.Dataset
    alts: dict = field(default_factory=dict)
    cache: dict | None = None


def split_source(run):
    """``(run, None)`` for a DataCollection (or None), ``(None, InMemory)`` for data
    in memory: an ``InMemory``, an ``xarray.Dataset`` or an object with
    ``live_data()`` (a ``scs_nb.live.Stream``).

    Parameters
    ----------
    run : extra_data.DataCollection, InMemory, xarray.Dataset, Stream or None
        What a pulse function was given as ``run``.

    Returns
    -------
    tuple
        (DataCollection or None, InMemory or None).
    """
    if run is None or hasattr(run, "all_sources"):
        return run, None
    if isinstance(run, InMemory):
        return None, run
    if isinstance(run, xr.Dataset):
        return None, InMemory(run)
    if callable(getattr(run, "live_data", None)):
        return None, run.live_data()
    raise ToolBoxValueError(
        f"run must be an extra_data DataCollection (from open_run), a live Stream "
        f"(scs_nb.live.Stream) or its dataset(); got {type(run).__name__}"
    )


def in_memory_alt(mem: InMemory, name):
    """``(name, alternative)`` of a mnemonic held in memory.

    Parameters
    ----------
    mem : InMemory
        The data.
    name : str or dict
        A mnemonic, or a one-entry ``{name: {'source', 'key', ...}}`` dict.

    Returns
    -------
    tuple
        (name, alternative dict).

    Raises
    ------
    ToolBoxValueError
        The mnemonic is neither in the data nor in the table.
    """
    if isinstance(name, dict):
        if "source" in name and "key" in name:
            return name.get("name", name["key"]), dict(name)
        (n, alt), *_ = name.items()
        return n, dict(alt)
    if name in mem.alts:
        return name, dict(mem.alts[name])
    if name in mnemonics:
        return name, dict(alternatives(name)[0])
    raise ToolBoxValueError(
        f"unknown mnemonic {name!r}; the data holds {', '.join(map(str, mem.data.data_vars))}"
    )


def cached_rows(cache, key, tids, compute):
    """Rows per train computed once: ``compute(train_ids)`` is called only for the
    trains of ``tids`` not computed before under ``key``; trains no longer asked
    for are forgotten.

    Parameters
    ----------
    cache : dict
        The stream's cache.
    key : hashable
        What the rows are (name, parameters): another key recomputes everything.
    tids : numpy.ndarray
        (ntrains,) train ids wanted, in order.
    compute : callable
        ``compute(mask)`` -> (n_new, ...) rows of the trains ``tids[mask]``.

    Returns
    -------
    numpy.ndarray
        (ntrains, ...) rows for ``tids``.
    """
    old_tids, old_rows = cache.get(key, (np.zeros(0, np.uint64), None))
    known = np.isin(tids, old_tids)
    new = compute(~known) if (~known).any() or old_rows is None else None
    if old_rows is None:
        rows = new
    else:
        shape = (len(tids),) + old_rows.shape[1:]
        rows = np.empty(shape, old_rows.dtype if new is None else np.result_type(old_rows, new))
        rows[known] = old_rows[np.searchsorted(old_tids, tids[known])]
        if new is not None:
            rows[~known] = new
    order = np.argsort(tids, kind="stable")
    cache[key] = (tids[order], rows[order])
    return rows


def from_memory(func, mem: InMemory, names, merge_with, known, raw_dim, default=None, **kw):
    """``func`` (``get_xgm``, ``get_bam``) on data in memory, as on a run.

    Parameters
    ----------
    func : callable
        The pulse function, called as ``func(None, raw_names, merge_with=..., **kw)``.
    mem : InMemory
        The data.
    names : str, list of str or None
        Mnemonics asked for; None: those of ``known`` in the data, else ``default``.
    merge_with : xarray.Dataset or None
        The caller's dataset to merge the result with.
    known : list of str
        Mnemonics of this kind.
    raw_dim : str
        Entry dimension of the raw arrays (e.g. ``'XGMbunchId'``): variables without
        it are already aligned (a stream's ``dataset()``) and are passed through.
    default : list of str, optional
        Mnemonics when none is given nor held.

    Returns
    -------
    xarray.Dataset
        As ``func`` returns it on a run.
    """
    names = [names] if isinstance(names, str) else names
    if names is None:
        names = [v for v in known if v in mem.data] or list(default or [])
    missing = [n for n in names if n not in mem.data]
    if missing:
        raise ToolBoxValueError(
            f"{', '.join(missing)} not in the data in memory, which holds "
            f"{', '.join(map(str, mem.data.data_vars)) or 'nothing'}; add them to the "
            "stream's fields"
        )
    raw = [n for n in names if raw_dim in mem.data[n].dims]
    done = [n for n in names if n not in raw]
    out = mem.data[done]
    if raw:
        keep = raw + (["bunchPatternTable"] if "bunchPatternTable" in mem.data else [])
        res = func(None, raw, merge_with=mem.data[keep], **kw)
        res = res.drop_vars([v for v in keep if v not in raw and v in res])
        out = merge_on_trains(out if done else None, res)
    return merge_on_trains(merge_with, out, drop=names)


def processed_in_memory(mem: InMemory, name):
    """The peaks of digitizer channel ``name`` when the data in memory holds them
    already integrated and aligned (``<channel>peaks`` on a pulse dimension, as a
    stream's ``dataset()`` gives them), else None.

    Parameters
    ----------
    mem : InMemory
        The data.
    name : str
        A digitizer mnemonic ('MCP2raw', 'MCP2apd', 'FastADC5peaks'...).

    Returns
    -------
    xarray.DataArray or None
    """
    out = peaks_name(name)
    if name in mem.data and name != out:
        return None  # the raw traces (or on-board values) are there: integrate them
    da = mem.data.get(out)
    if da is None or not any(d in PULSE_DIMS.values() or d == "pulseId" for d in da.dims):
        return None
    return da
