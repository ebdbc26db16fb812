"""DSSC binning on bad input: clear errors for bad module numbers, a run without DSSC
and an unusable output path; corrupted frames (values above the 9-bit ADC range) are
counted, named and left out instead of biasing the means; a damaged sequence file fails
its module only, the other modules are written (readable by the group) and reused by a
rerun."""

import os
import stat
import warnings

import h5py
import numpy as np
import pytest
from conftest import copy_simulated_run

import scs_nb as tb
from scs_nb import atomic
from scs_nb.detectors.dssc.binning import DSSCModulesError, raw

KW = dict(bin_width=1.0, backend="sequential", xgm_normalization=False, bam=None)


@pytest.fixture(scope="module")
def run(simulated):
    # 3 modules, 12 trains of 4 frames
    return simulated("dssc_delay_scan", modules="0,1,2", trains=12, npulses=4, nsteps=3)


@pytest.fixture(scope="module")
def clean(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    files = tb.bin_dssc(run.proposal, run.run, path=str(out), **KW)
    return {f.rsplit("module", 1)[1]: tb.load_xarray(f) for f in files}


def _copy_run(run, data_root, number):
    """A copy of the run under another run number (to damage it)."""
    return copy_simulated_run(run, number)


def test_bad_modules_and_run_without_dssc(run, simulated):
    with pytest.raises(tb.ToolBoxValueError, match=r"list of DSSC module numbers.*\[16\]"):
        tb.bin_dssc(run.proposal, run.run, modules=16, **KW)
    with pytest.raises(tb.ToolBoxValueError, match="must be an integer 0..15, got 0.7"):
        tb.bin_dssc(run.proposal, run.run, modules=[0.7], **KW)
    with pytest.raises(tb.ToolBoxValueError, match="0..15, got 16"):
        tb.bin_dssc(run.proposal, run.run, modules=[16], **KW)
    basic = simulated("basic", trains=10)
    with pytest.raises(tb.ToolBoxValueError, match="no DSSC files"):
        tb.bin_dssc(basic.proposal, basic.run, **KW)


def test_corrupted_frames_left_out(run, clean, data_root, tmp_path):
    number = run.run + 500
    dst = _copy_run(run, data_root, number)
    f0 = sorted(dst.glob("*-DSSC00-S00000.h5"))[0]
    rng = np.random.default_rng(5)
    with h5py.File(f0, "r+") as f:  # 1 MiB of random bytes over frames 9-16
        d = f["INSTRUMENT/SCS_DET_DSSC1M-1/DET/0CH0:xtdf/image/data"]
        d[9:17] = rng.integers(0, 2**16, size=(8,) + d.shape[1:], dtype=np.uint16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        files = tb.bin_dssc(run.proposal, number, path=str(tmp_path), modules=[0, 1], **KW)
    msgs = [str(w.message) for w in caught if "ADC range" in str(w.message)]
    assert len(msgs) == 1, msgs
    assert "module 0: 8 frame(s)" in msgs[0] and f"{f0.name} frames 9-16" in msgs[0]
    ds = tb.load_xarray(files[0])
    assert ds.attrs["excluded_frames"] == 8 and ds.attrs["out_of_range_values"] > 8 * 60000
    assert ds.attrs["excluded"] == f"{f0.name} frames 9-16"
    assert clean["0.h5"].attrs["excluded_frames"] == 0
    ref = clean["0.h5"]
    # the 8 frames are out of the counts, and the means are those of the intact frames
    assert int(ref["hist"].sum() - ds["hist"].sum()) == 8
    m, r = float(ds["data"].mean()), float(ref["data"].mean())
    noise = float(ref["data"].std()) / np.sqrt(ref["hist"].values.sum())
    assert abs(m - r) < 5 * noise + 1e-3 * abs(r), (m, r)
    assert float(ds["data"].max()) <= raw.ADC_MAX
    # module 1 is untouched: identical to the clean binning
    np.testing.assert_array_equal(
        tb.load_xarray(files[1])["data"].values, clean["1.h5"]["data"].values
    )


def test_damaged_sequence_file_fails_its_module_only(run, clean, data_root, tmp_path):
    number = run.run + 600
    dst = _copy_run(run, data_root, number)
    bad = sorted(dst.glob("*-DSSC01-S00000.h5"))[0]
    with open(bad, "r+b") as f:  # a torn copy: the header survives
        f.truncate(4096)
    with pytest.raises(DSSCModulesError) as info:
        tb.bin_dssc(run.proposal, number, path=str(tmp_path), **KW)
    err = info.value
    assert "1 of 3 DSSC module(s) failed" in str(err) and bad.name in str(err)
    assert [o["status"] for o in err.report] == ["done", "failed", "done"]
    assert sorted(os.path.basename(f) for f in err.files) == [
        f"run_{number}_module0.h5",
        f"run_{number}_module2.h5",
    ]
    for m in (0, 2):  # the intact modules are written and correct
        np.testing.assert_array_equal(
            tb.load_xarray(str(tmp_path / f"run_{number}_module{m}.h5"))["data"].values,
            clean[f"{m}.h5"]["data"].values,
        )
        mode = stat.S_IMODE(os.stat(tmp_path / f"run_{number}_module{m}.h5").st_mode)
        assert mode == 0o666 & ~atomic.umask()
    # a rerun reuses the intact modules (reported as skipped) and fails module 1 again
    with pytest.raises(DSSCModulesError) as info:
        tb.bin_dssc(run.proposal, number, path=str(tmp_path), **KW)
    assert [o["status"] for o in info.value.report] == ["skipped", "failed", "skipped"]


def test_unwritable_output_path(run, tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(tb.ToolBoxPathError, match=r"is a file; pass path="):
        tb.bin_dssc(run.proposal, run.run, path=str(f / "out"), **KW)
    with pytest.raises(tb.ToolBoxPathError, match=r"not a folder; pass path="):
        tb.bin_dssc(run.proposal, run.run, path=str(f), **KW)
