"""Messages where raw errors were: an ROI on a mnemonic of one value per train, a NaN
integration window of get_peaks, a stepsize on values that are not numbers; each a
ToolBoxValueError naming what was asked and what to pass."""

import sys

import numpy as np
import pytest
import xarray as xr
from extra_data import RunDirectory, by_index

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError


@pytest.fixture(scope="module")
def basic(simulated):
    return simulated("basic", trains=10)


def test_roi_on_a_one_value_per_train_mnemonic(basic):
    rois = {"SCS_photonFlux": {"a": {"roi": by_index[0:2], "dim": ["x"]}}}
    with pytest.raises(ToolBoxValueError, match="single value"):
        tb.load(basic.proposal, basic.run, ["SCS_photonFlux"], rois=rois)
    # an ROI with more indices than the entry has dimensions
    rois = {"SCS_SA3": {"a": {"roi": by_index[0:2, 0:3], "dim": ["x"]}}}
    with pytest.raises(ToolBoxValueError, match=r"entry of shape \(\d+,\)"):
        tb.load(basic.proposal, basic.run, ["SCS_SA3"], rois=rois)
    # a fitting ROI still loads
    rois = {"SCS_SA3": {"first": {"roi": by_index[0:2], "dim": ["XGMbunchId"]}}}
    _, ds = tb.load(basic.proposal, basic.run, ["SCS_SA3"], rois=rois, extract_xgm=False)
    assert ds["first"].sizes["XGMbunchId"] == 2


@pytest.mark.parametrize("key", ["pulseStart", "pulseStop", "baseStart", "period"])
def test_get_peaks_nan_window(simulated, key):
    res = simulated("pattern_change", trains=40)
    run = RunDirectory(str(res.run_dir))
    params = {
        "pulseStart": 100,
        "pulseStop": 120,
        "baseStart": 0,
        "baseStop": 50,
        "period": 24 * 440,
        "npulses": 20,
        key: np.nan,
    }
    with pytest.raises(ToolBoxValueError, match=rf"integParams\['{key}'\] must be a finite"):
        tb.get_peaks(run, None, "MCP2raw", autoFind=False, integParams=params)


def test_stepsize_on_text_values(basic, monkeypatch):
    tids = np.arange(10, dtype=np.uint64)
    text = xr.DataArray(np.array(["930.1"] * 10), dims=["trainId"], coords={"trainId": tids})
    monkeypatch.setattr(sys.modules["scs_nb.load"], "read", lambda run, name, alt=None, **kw: text)
    run = tb.open_run(basic.proposal, basic.run)
    with pytest.raises(ToolBoxValueError, match="holds <U5 values .not numbers."):
        tb.get_array(run, "nrj", stepsize=0.5)
