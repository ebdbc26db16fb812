"""Merging pulse-resolved arrays into a Dataset on their common trains."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["merge_on_trains"]


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
