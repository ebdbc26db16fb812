"""Reading one mnemonic (or a ``{'source', 'key', 'dim'}`` dict) from a run."""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import ToolBoxTypeError, ToolBoxValueError
from ..mnemonics import _alternatives, mnemonic_alternative, mnemonics


def resolve(run, mnemonic):
    """(name, {'source', 'key', 'dim'}) of a mnemonic name or dict present in run."""
    if isinstance(mnemonic, dict):
        if not {"source", "key"} <= set(mnemonic):
            raise ToolBoxValueError(
                f"a custom mnemonic needs 'source' and 'key', got {sorted(mnemonic)}; pass "
                "e.g. {'source': 'SCS_UTC1_ADQ/ADC/1:network', "
                "'key': 'digitizers.channel_1_A.raw.samples', 'dim': ['samplesId']}")
        alt = dict(mnemonic)
        alt.setdefault("dim", None)
        name = alt.get("name") or _name_of(alt) or alt["key"].replace(".", "_")
        if alt["source"] not in run.all_sources:
            raise ToolBoxValueError(f"source {alt['source']!r} is not in this run; see "
                                    "run.all_sources for what it contains")
        return name, alt
    if not isinstance(mnemonic, str):
        raise ToolBoxTypeError(f"a mnemonic must be a str or a dict, got {type(mnemonic)}")
    return mnemonic, mnemonic_alternative(run, mnemonic)


def _name_of(alt):
    for name in mnemonics:
        for a in _alternatives(name):
            if a["source"] == alt["source"] and a["key"] == alt["key"]:
                return name
    return None


def keydata(run, alt):
    return run[alt["source"], alt["key"]]


def load_array(run, mnemonic, name=None) -> xr.DataArray:
    """A mnemonic as a DataArray (trainId, <mnemonic dims>)."""
    mname, alt = resolve(run, mnemonic)
    kd = keydata(run, alt)
    arr = kd.xarray()
    dims = alt.get("dim") or []
    if arr.ndim - 1 != len(dims):
        dims = [f"{mname}_dim_{i}" for i in range(arr.ndim - 1)]
    arr = arr.rename({old: new for old, new in zip(arr.dims[1:], dims)})
    return arr.rename(name or mname)


def merge_on_trains(merge_with, new, drop=()):
    """Merge ``new`` into ``merge_with`` on their common trains; other
    dimensions (pulse ids) are joined as a union. Variables in ``drop`` (the
    raw arrays that ``new`` replaces) are removed from ``merge_with``."""
    new = new.to_dataset() if isinstance(new, xr.DataArray) else new
    if merge_with is None:
        return new
    base = merge_with.drop_vars([d for d in drop if d in merge_with])
    # drop dimension coordinates that no variable uses any more
    unused = [d for d in base.dims if not any(d in v.dims for v in base.data_vars.values())]
    base = base.drop_dims(unused)
    if "trainId" in base.dims and "trainId" in new.dims:
        common = np.intersect1d(base["trainId"].values, new["trainId"].values)
        base = base.sel(trainId=common)
        new = new.sel(trainId=common)
    return xr.merge([base, new], join="outer", compat="override", combine_attrs="override")
