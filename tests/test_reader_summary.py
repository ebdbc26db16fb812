"""Units of mnemonics for axis labels, and the table that replaces a Dataset's repr
in reports."""

import numpy as np
import pytest
import xarray as xr

import scs_nb as tb
from scs_nb.errors import ToolBoxTypeError
from scs_nb.reader import axis_label, summarize, unit_of


@pytest.mark.parametrize(
    "name, unit",
    [
        ("SCS_SA3", "µJ"),
        ("XTD10_XGM", "µJ"),
        ("PP800_DelayLine", "mm"),
        ("scannerX", "mm"),
        ("BAM1932S", "ps"),
        ("nrj", "eV"),
        ("MCP2peaks", "ADC counts x samples"),
        ("FastADC5raw", "ADC counts"),
        ("npulses_sase3", ""),
        ("something_else", ""),
    ],
)
def test_units(name, unit):
    assert unit_of(name) == unit
    assert axis_label(name) == (f"{name} [{unit}]" if unit else name)


def test_axis_label_given_unit():
    assert axis_label("delay", "ps") == "delay [ps]"
    assert tb.axis_label is axis_label


def test_summarize_statistics():
    rng = np.random.default_rng(1)
    e = rng.normal(500, 50, (100, 20))
    e[3, 5] = np.nan
    ds = xr.Dataset(
        {
            "SCS_SA3": (("trainId", "sa3_pId"), e),
            "PP800_DelayLine": ("trainId", np.linspace(-0.5, 0.5, 100)),
            "flag": ("trainId", np.array(["a"] * 100)),
        }
    )
    t = summarize(ds)
    assert list(t.index) == ["SCS_SA3", "PP800_DelayLine", "flag"]
    row = t.loc["SCS_SA3"]
    assert row["dims"] == "trainId, sa3_pId" and row["shape"] == "100 x 20"
    assert row["unit"] == "µJ" and row["finite"] == 1999
    assert row["mean"] == pytest.approx(np.nanmean(e))
    assert t.loc["PP800_DelayLine", "min"] == -0.5 and t.loc["PP800_DelayLine", "max"] == 0.5
    assert t.loc["flag", "finite"] == 0 and np.isnan(t.loc["flag", "mean"])


def test_summarize_needs_a_dataset():
    with pytest.raises(ToolBoxTypeError, match="xarray Dataset"):
        summarize(np.zeros(3))
