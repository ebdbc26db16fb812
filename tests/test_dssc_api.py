"""DSSC ToolBox API (DSSCBinner, DSSCFormatter, dssc_data, dssc_misc), safe
outputs (atomic, resumable, interrupted runs) and error messages.

Runs: 2 modules, 12 trains, 4 frames (pumped/unpumped) + intra-dark variants.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import xarray as xr

import scs_nb as tb
from scs_nb.detectors import frames
from scs_nb.detectors.dssc.binning import raw, reduce
from scs_nb.detectors.frames import accumulate


@pytest.fixture(scope="module")
def run(simulated):
    return simulated("dssc_delay_scan", modules="0,1", trains=12, npulses=4, nsteps=3)


@pytest.fixture(scope="module")
def dark(simulated):
    return simulated("dssc_dark", modules="0,1", trains=4, npulses=4)


def _binners(info, run_obj=None):
    pulse = tb.create_dssc_bins(
        "pulse",
        np.arange(info["frames_per_train"]),
        ["pumped", "unpumped"] * (info["frames_per_train"] // 2),
    )
    tids = info["trainIds"]
    train = tb.create_dssc_bins("trainId", tids, np.arange(len(tids)) // 4)
    return {"pulse": pulse, "trainId": train}


def test_dsscbinner_and_formatter(run, dark, tmp_path):
    info = tb.load_dssc_info(run.proposal, run.run)
    assert info["frames_per_train"] == 4 and info["number_of_trains"] == 12
    assert info["dims"] == (128, 512) and info["total_frames"] == 48
    b = tb.DSSCBinner(run.proposal, run.run, binners=_binners(info), dssc_coords_stride=1)
    assert b.get_info() == {"trainId": 3, "pulse": 2, "x": 128, "y": 512}
    b.load_xgm()
    xgm_b = b.get_xgm_binned()
    truth = np.asarray(run.truth["xgm"]["SCS"]["sa3_fast_raw"])
    np.testing.assert_allclose(
        xgm_b["xgm"].sel(pulse="pumped").values, truth[:, 0::2].reshape(3, -1).mean(1), rtol=1e-5
    )
    # dark processed with the same class: every frame its own bin
    dinfo = tb.load_dssc_info(dark.proposal, dark.run)
    db = tb.DSSCBinner(
        dark.proposal,
        dark.run,
        binners={"pulse": tb.create_dssc_bins("pulse", np.arange(4), np.arange(4))},
    )
    db.process_data(filepath=str(tmp_path / "dark"), backend="sequential")
    fd = tb.DSSCFormatter(str(tmp_path / "dark"))
    fd.combine_files()
    dark_img = fd.data["data"].isel(trainId=0)
    assert dict(dark_img.sizes) == {"pulse": 4, "module": 2, "x": 128, "y": 512}
    assert dinfo["frames_per_train"] == 4
    # the run, dark-subtracted and XGM-normalised, with a pulse mask
    b.create_pulsemask("xgm", (0, np.inf))
    b.process_data(
        modules=[0, 1],
        filepath=str(tmp_path / "run"),
        backend="sequential",
        dark_image=dark_img,
        xgm_normalization=True,
    )
    f = tb.DSSCFormatter(str(tmp_path / "run"))
    f.combine_files()
    f.add_attributes({"run_type": "delay scan", "dark_run": dark.run})
    f.save_formatted_data(str(tmp_path / "formatted.h5"))
    data = tb.load_xarray(str(tmp_path / "formatted.h5"))
    assert data["data"].dims == ("trainId", "pulse", "module", "x", "y")
    # the same numbers as the main path with the same bins
    ref = tb.bin_dssc(
        run.proposal,
        run.run,
        dark_run=dark.run,
        path=str(tmp_path / "main"),
        bin_width=100.0,
        backend="sequential",
    )
    main = tb.load_xarray(ref[0])
    a = data["data"].sel(module=0).mean("trainId").values
    # equal weights per train bin (4 trains each): the mean over bins is the run mean
    np.testing.assert_allclose(
        a, main["data"].isel(module=0).sel(delay=0.0).values, rtol=1e-4, atol=1e-7
    )


def test_tim_binned(run):
    """TIM (MCP peaks) binned like the frames: pumped and unpumped pulses see the
    same mean intensity, proportional to the XGM."""
    info = tb.load_dssc_info(run.proposal, run.run)
    b = tb.DSSCBinner(
        run.proposal,
        run.run,
        binners=_binners(info),
        dssc_coords_stride=1,
        tim_names=["MCP2apd", "MCP3apd"],
    )
    tim = b.get_tim_binned()["tim"]
    xgm = b.get_xgm_binned()["xgm"]
    assert tim.shape == (3, 2) and np.all(np.isfinite(tim))
    r = np.corrcoef(np.abs(tim.values).ravel(), xgm.values.ravel())[0, 1]
    assert r > 0.5
    with pytest.raises(tb.ToolBoxValueError, match="MCP9apd"):
        tb.DSSCBinner(run.proposal, run.run, tim_names=["MCP9apd"]).load_tim()


def test_resume_skips_complete_and_interrupt_reruns_identically(run, dark, tmp_path, monkeypatch):
    kw = dict(dark_run=dark.run, bin_width=0.5, backend="sequential", chunksize=1)
    ref = tb.bin_dssc(run.proposal, run.run, path=str(tmp_path / "ref"), **kw)
    out = tmp_path / "out"
    # interrupted in the middle of module 1: module 0 is dark (4 chunks of one
    # train) + run (12 chunks); module 1 dark 4 chunks, then 6 of 12 chunks
    calls = []
    real = accumulate._accumulate

    def interrupting(*args):
        calls.append(1)
        if len(calls) == 16 + 4 + 6:
            raise KeyboardInterrupt("simulated interruption")
        return real(*args)

    monkeypatch.setattr(accumulate, "_accumulate", interrupting)
    with pytest.raises(KeyboardInterrupt):
        tb.bin_dssc(run.proposal, run.run, path=str(out), **kw)
    monkeypatch.setattr(accumulate, "_accumulate", real)
    assert (out / f"run_{run.run}_module0.h5").exists()
    assert not (out / f"run_{run.run}_module1.h5").exists()
    assert not [f for f in os.listdir(out) if f.endswith(".part")]
    m0 = os.stat(out / f"run_{run.run}_module0.h5").st_mtime_ns
    files = tb.bin_dssc(run.proposal, run.run, path=str(out), **kw)
    assert os.stat(out / f"run_{run.run}_module0.h5").st_mtime_ns == m0  # skipped
    for a, b in zip(sorted(ref), sorted(files)):
        xr.testing.assert_identical(
            tb.load_xarray(a)[["data", "hist", "xgm"]], tb.load_xarray(b)[["data", "hist", "xgm"]]
        )
    # other parameters into the same folder: an error, unless overwrite
    with pytest.raises(tb.ToolBoxFileError, match="overwrite=True"):
        tb.bin_dssc(run.proposal, run.run, path=str(out), **{**kw, "bin_width": 1.0})
    tb.bin_dssc(run.proposal, run.run, path=str(out), overwrite=True, **{**kw, "bin_width": 1.0})
    assert tb.load_xarray(files[0]).attrs["bin_width"] == 1.0


def test_killed_worker_rerun_identical(run, dark, tmp_path):
    """A worker process killed (SIGKILL) while binning: the rerun completes and
    gives the same files as an uninterrupted run."""
    out = tmp_path / "killed"
    script = textwrap.dedent(f"""
        import time, os
        os.environ['EXTRA_DATA_DATA_ROOT'] = {os.environ['EXTRA_DATA_DATA_ROOT']!r}
        import scs_nb as tb
        from scs_nb.detectors.frames import accumulate
        slow = accumulate._accumulate
        def slowly(*a):
            time.sleep(0.15)
            return slow(*a)
        accumulate._accumulate = slowly
        tb.bin_dssc({run.proposal}, {run.run}, dark_run={dark.run}, path={str(out)!r},
                    bin_width=0.5, backend='sequential', chunksize=1)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    target = out / f"run_{run.run}_module0.h5"
    t0 = time.time()
    while not target.exists() and time.time() - t0 < 60 and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(1.0)  # module 1 is being binned now
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert target.exists()
    assert not (out / f"run_{run.run}_module1.h5").exists()
    kw = dict(dark_run=dark.run, bin_width=0.5, backend="sequential", chunksize=1)
    files = tb.bin_dssc(run.proposal, run.run, path=str(out), **kw)
    ref = tb.bin_dssc(run.proposal, run.run, path=str(tmp_path / "ref"), **kw)
    assert not [f for f in os.listdir(out) if f.endswith(".part")]
    a = xr.open_mfdataset(str(out) + "/*.h5", parallel=True, join="inner").load()
    b = xr.open_mfdataset(str(tmp_path / "ref") + "/*.h5", parallel=True, join="inner").load()
    xr.testing.assert_identical(a[["data", "hist", "xgm"]], b[["data", "hist", "xgm"]])
    assert len(files) == len(ref) == 2


def test_errors(run, dark, simulated, tmp_path):
    # a module that was not recorded
    with pytest.raises(tb.ToolBoxPathError, match=r"modules present: \[0, 1\]"):
        tb.bin_dssc(run.proposal, run.run, modules=[5], path=str(tmp_path))
    # a dark run with another number of frames
    dark6 = simulated("dssc_dark", modules="0,1", trains=3, npulses=6)
    with pytest.raises(tb.ToolBoxValueError, match="frames per train"):
        tb.bin_dssc(
            run.proposal,
            run.run,
            dark_run=dark6.run,
            path=str(tmp_path / "d"),
            backend="sequential",
        )
    # binners that do not match the run
    info = tb.load_dssc_info(run.proposal, run.run)
    b = tb.DSSCBinner(run.proposal, run.run, dssc_coords_stride=1)
    with pytest.raises(tb.ToolBoxValueError, match="records 4 frames per train"):
        b.add_binner("pulse", tb.create_dssc_bins("pulse", np.arange(6), ["a", "b"] * 3))
    with pytest.raises(tb.ToolBoxValueError, match="none in common"):
        b.add_binner(
            "trainId", tb.create_dssc_bins("trainId", info["trainIds"] + 10**6, np.zeros(12))
        )
    with pytest.raises(tb.ToolBoxValueError, match="not one of"):
        b.add_binner("cell", tb.create_dssc_bins("pulse", np.arange(4), np.arange(4)))
    # a dark image of the wrong shape
    with pytest.raises(tb.ToolBoxValueError, match="dark"):
        reduce.dark_for_module(np.zeros((3, 128, 512)), 0, 4)
    with pytest.raises(tb.ToolBoxValueError):
        tb.module_group(4)
    assert tb.module_group(2) == [8, 9, 10, 11]


def test_data_and_masks(tmp_path):
    ds = xr.Dataset(
        {"data": (("pulse", "x"), np.arange(6.0).reshape(2, 3))}, coords={"pulse": ["a", "b"]}
    )
    f = str(tmp_path / "d.h5")
    tb.save_xarray(f, ds)
    with pytest.raises(tb.ToolBoxFileError):
        tb.save_xarray(f, ds)  # the group exists
    tb.save_xarray(f, ds * 2, group="extra")
    tb.save_attributes_h5(f, {"run": 3, "info": {"a": 1}})
    xr.testing.assert_identical(tb.load_xarray(f), ds)
    xr.testing.assert_identical(tb.load_xarray(f, group="extra"), ds * 2)
    mask = tb.quickmask_DSSC_ASIC([(3, 1, 7)])
    assert mask.shape == (16, 128, 512) and mask.sum() == 16 * 128 * 512 - 64 * 64
    assert mask[3, 64:, 448:].sum() == 0
    mfile = tmp_path / "mask.txt"
    mfile.write_text("# module row column\n0 0 0\n15 1 3\n")
    m2 = tb.load_mask(str(mfile), mask)
    assert m2.sum() == mask.sum() - 2 * 64 * 64
    with pytest.raises(tb.ToolBoxValueError):
        tb.quickmask_DSSC_ASIC([(16, 0, 0)])


def test_engine_kernel_chunks_and_prefetch(run):
    """Chunk size and prefetching do not change the sums."""
    idx = raw.index_module(str(run.run_dir), 0)
    fb = np.tile(np.arange(4) % 2, (len(idx.train_ids), 1))
    w = np.random.default_rng(1).uniform(0.5, 2, fb.shape).astype(np.float32)
    a = frames.bin_frames(idx, fb, w, 2, chunk_trains=1, prefetch=False)
    b = frames.bin_frames(idx, fb, w, 2, chunk_trains=5, prefetch=True)
    np.testing.assert_allclose(a.sums, b.sums, rtol=1e-6)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert frames.read_all(idx) == idx.nbytes
