"""What loaded data holds, for a reader: units of mnemonics and a table of a Dataset.

* ``unit_of``: the unit of a mnemonic's values as ``tb.load`` returns them (XGM
  pulse energies in µJ, delay lines in mm, BAM in ps, digitizer integrals in ADC
  counts x samples, ...), '' when it has none or is not known;
* ``axis_label``: ``'name [unit]'`` for plot axes;
* ``summarize``: a table (one row per variable: dims, shape, unit, finite values,
  min, mean, max) shown in reports instead of a Dataset's repr.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import ToolBoxTypeError

__all__ = ["unit_of", "axis_label", "summarize"]

# (pattern over the whole mnemonic, unit), first match wins; units of the values that
# tb.load returns (pulse-resolved XGM energies, BAM in ps, digitizer integrals)
_UNITS = (
    (r"(SCS|XTD10)_(SA1|SA3|XGM)(_sigma)?", "µJ"),
    (r"(SCS|XTD10)_photonFlux(_sigma)?", "µJ"),
    (r"BAM\w*", "ps"),
    (r"PP800_DelayLine\w*|PP800_PhaseShifter|scanner[XYZ]|LIN_FOCUS|UND", "mm"),
    (r"nrj(_target)?", "eV"),
    (r"magnet", "A"),
    (r"(MCP\d|FastADC\d|I0_ILH|ILH_I0|PES_\d[A-D])peaks", "ADC counts x samples"),
    (r"(MCP\d|FastADC\d)apd", "ADC counts x samples"),
    (r"(MCP\d|FastADC\d|I0_ILH|ILH_I0|PES_\d[A-D])raw", "ADC counts"),
)


def unit_of(name) -> str:
    """The unit of a mnemonic's values as loaded by ``tb.load``.

    Parameters
    ----------
    name : str
        A mnemonic (``'SCS_SA3'``, ``'PP800_DelayLine'``, ``'MCP2peaks'``, ...).

    Returns
    -------
    str
        The unit (``'µJ'``, ``'mm'``, ``'ps'``, ``'eV'``, ``'A'``,
        ``'ADC counts x samples'``, ``'ADC counts'``), or ``''`` for a count, a
        dimensionless value or a name without a known unit.
    """
    for pattern, unit in _UNITS:
        if re.fullmatch(pattern, str(name)):
            return unit
    return ""


def axis_label(name, unit=None) -> str:
    """An axis label ``'name [unit]'`` (just ``name`` without a unit).

    Parameters
    ----------
    name : str
        A mnemonic or a quantity.
    unit : str, optional
        Its unit (default: :func:`unit_of` ``name``).

    Returns
    -------
    str
    """
    unit = unit_of(name) if unit is None else unit
    return f"{name} [{unit}]" if unit else str(name)


def summarize(ds) -> pd.DataFrame:
    """A table of a Dataset's variables, for a report (instead of its repr).

    Parameters
    ----------
    ds : xarray.Dataset
        E.g. from ``tb.load``; dask-backed variables are computed for the
        statistics.

    Returns
    -------
    pandas.DataFrame
        Indexed by variable: ``dims``, ``shape``, ``unit`` (:func:`unit_of`),
        ``finite`` (number of finite values), ``min``, ``mean``, ``max`` (NaN for
        a variable without finite numbers).

    Raises
    ------
    ToolBoxTypeError
        ``ds`` is not an xarray Dataset.
    """
    if not isinstance(ds, xr.Dataset):
        raise ToolBoxTypeError(
            f"summarize needs an xarray Dataset (e.g. from tb.load), got {type(ds).__name__}"
        )
    rows = {}
    for name, var in ds.data_vars.items():
        vals = np.asarray(var.values)
        num = vals.astype(float) if np.issubdtype(vals.dtype, np.number) else np.array([])
        ok = num[np.isfinite(num)]
        rows[name] = {
            "dims": ", ".join(map(str, var.dims)),
            "shape": " x ".join(map(str, var.shape)),
            "unit": unit_of(name),
            "finite": int(ok.size),
            "min": float(ok.min()) if ok.size else np.nan,
            "mean": float(ok.mean()) if ok.size else np.nan,
            "max": float(ok.max()) if ok.size else np.nan,
        }
    return pd.DataFrame.from_dict(rows, orient="index")
