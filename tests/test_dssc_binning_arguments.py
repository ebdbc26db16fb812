"""bin_dssc refuses the arguments that used to bin silently wrong, before anything is
read or written: a pattern given as one string (split into characters), a stride <= 0
(the XGM normalisation of other frames), a NaN delay origin (0 bins written, then
counted complete), a NaN or infinite bin width. A module file with 0 bins never counts
as complete; get_array refuses a step too small for float32 values."""

import h5py
import numpy as np
import pytest
import xarray as xr

import scs_nb as tb
from scs_nb.detectors.dssc.binning.bins import pattern_binner
from scs_nb.detectors.dssc.binning.store import complete_file, write_module_file
from scs_nb.errors import ToolBoxValueError

KW = dict(bin_width=1.0, backend="sequential", xgm_normalization=False, bam=None)


@pytest.fixture(scope="module")
def run(simulated):
    return simulated("dssc_delay_scan", modules="0", trains=8, npulses=4, nsteps=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(pattern="pumped"), r"pattern=\['pumped'\]"),
        (dict(pattern=["pumped", 3]), "labels must be text"),
        (dict(dssc_coords_stride=0), "dssc_coords_stride must be >= 1"),
        (dict(dssc_coords_stride=-2), "dssc_coords_stride must be >= 1"),
        (dict(dssc_coords_stride=[0, 0, 1]), "distinct integers"),
        (dict(delay_origin=np.nan), "delay_origin must be a finite"),
        (dict(delay_origin="zero"), "delay_origin must be a finite"),
        (dict(bin_width=np.nan), "bin_width must be a finite number > 0"),
        (dict(bin_width=np.inf), "bin_width must be a finite number > 0"),
        (dict(bin_width="0.1"), "bin_width must be a finite number > 0"),
    ],
)
def test_refused_before_anything_is_written(run, tmp_path, kwargs, match):
    args = {**KW, **kwargs}
    with pytest.raises(ToolBoxValueError, match=match):
        tb.bin_dssc(run.proposal, run.run, path=str(tmp_path / "out"), **args)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.h5"))


def test_pattern_binner_refuses_a_string():
    with pytest.raises(ToolBoxValueError, match=r"\['pumped'\]"):
        pattern_binner("pumped", 4)
    assert list(pattern_binner(["pumped", "unpumped"], 4).values) == [
        "pumped",
        "unpumped",
        "pumped",
        "unpumped",
    ]


def test_module_file_with_no_bins_is_never_complete(tmp_path):
    fname = str(tmp_path / "run_1_module0.h5")
    empty = xr.Dataset(
        {"data": (("delay", "pulse"), np.zeros((0, 2)))},
        coords={"delay": np.zeros(0), "pulse": ["pumped", "unpumped"]},
        attrs={"params_hash": "abc"},
    )
    write_module_file(empty, fname)
    with h5py.File(fname) as f:
        assert f.attrs["params_hash"] in ("abc", b"abc")
    assert complete_file(fname, "abc") is False  # redone, never reused
    full = empty.isel(delay=[]).reindex(delay=[1.0], fill_value=0.0)
    write_module_file(full, fname)
    assert complete_file(fname, "abc") is True


def test_binning_still_works(run, tmp_path):
    files = tb.bin_dssc(run.proposal, run.run, path=str(tmp_path), pattern=["a", "b"], **KW)
    ds = tb.load_xarray(files[0])
    assert ds.sizes["delay"] > 0 and set(ds["pulse"].values) == {"a", "b"}


def test_get_array_step_too_small_for_float32(simulated):
    basic = simulated("basic", trains=10)
    arr = tb.get_array(tb.open_run(basic.proposal, basic.run), "SCS_SA3")
    assert arr.dtype == np.float32  # the XGM's pulse energies
    run = tb.open_run(basic.proposal, basic.run)
    with pytest.raises(ToolBoxValueError, match="step is too small for the float32"):
        tb.get_array(run, "SCS_SA3", stepsize=1e-300)
    rounded = tb.get_array(run, "SCS_SA3", stepsize=0.5)
    finite = np.isfinite(arr.values)
    assert np.all(np.abs(rounded.values[finite] - arr.values[finite]) <= 0.25 + 1e-6)
    assert not np.isnan(rounded.values[finite]).any()
