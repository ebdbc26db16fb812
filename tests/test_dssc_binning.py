"""DSSC binning: the engine against a plain numpy reference, and the physics
(pump-probe dynamics, resonance, XGM) against the simulator's ground truth.

Runs: 2 modules, 24 trains, 6 frames per train (pattern pumped/unpumped),
delays -1..4 ps in 6 steps; dark run of 10 trains with the same dark offsets.
"""

import os

import h5py
import numpy as np
import pytest
import xarray as xr

import scs_nb as tb
from scs_nb.detectors.dssc.binning import raw
from scs_nb.sim import dssc as simdssc

NPULSES = 6
SIM = dict(modules="0,1", trains=24, npulses=NPULSES, nsteps=6)


@pytest.fixture(scope="module")
def runs(simulated):
    data = simulated("dssc_delay_scan", **SIM)
    dark = simulated("dssc_dark", modules="0,1", trains=10, npulses=NPULSES)
    return data, dark


@pytest.fixture(scope="module")
def binned(runs, tmp_path_factory):
    data, dark = runs
    out = tmp_path_factory.mktemp("dssc_binned")
    files = tb.bin_dssc(
        data.proposal,
        data.run,
        dark_run=dark.run,
        path=str(out),
        bin_width=0.5,
        backend="sequential",
    )
    return out, files


def _raw(run_dir, module):
    """All frames of a module with train ids and cells, read with h5py only."""
    src = raw.module_source(module)
    frames, tids = [], []
    for f in sorted(os.listdir(run_dir)):
        if f"DSSC{module:02d}" in f:
            with h5py.File(os.path.join(run_dir, f)) as h:
                frames.append(h[f"INSTRUMENT/{src}/image/data"][:, 0].astype(np.float64))
                tids.append(h[f"INSTRUMENT/{src}/image/trainId"][:])
    frames, tids = np.concatenate(frames), np.concatenate(tids)
    cells = np.concatenate([np.arange(c) for c in np.unique(tids, return_counts=True)[1]])
    return frames, tids, cells


def test_binned_equals_numpy_reference(runs, binned):
    data, dark = runs
    out, files = binned
    assert sorted(os.path.basename(f) for f in files) == [
        f"run_{data.run}_module0.h5",
        f"run_{data.run}_module1.h5",
    ]
    ds = tb.load_xarray(files[0])
    frames, tids, cells = _raw(data.run_dir, 0)
    dframes, _, dcells = _raw(dark.run_dir, 0)
    dark_mean = np.stack([dframes[dcells == c].mean(0) for c in range(NPULSES)])
    # XGM of each frame: the file values (truth of what the XGM wrote)
    train_ids = np.asarray(data.truth["train_ids"], np.uint64)
    xgm = np.asarray(data.truth["xgm"]["SCS"]["sa3_fast_raw"], np.float64)
    ti = np.searchsorted(train_ids, tids)
    w = 1.0 / xgm[ti, cells]
    delay = ds.delay.values
    # the bin of each train: the delay coordinate the binner used
    run = tb.open_run(data.proposal, data.run)
    x = tb.detectors.dssc.dssc_xaxis(run, "delay")
    xb = np.round(np.round(x.values / 0.5) * 0.5, 4) + 0.0
    train_bin = dict(zip(x.trainId.values.tolist(), xb.tolist()))
    labels = np.array(["pumped" if c % 2 == 0 else "unpumped" for c in cells])
    fbin = np.array([train_bin[int(t)] for t in tids])
    for d in delay:
        for p in ("pumped", "unpumped"):
            sel = (fbin == d) & (labels == p)
            ref = ((frames[sel] - dark_mean[cells[sel]]) * w[sel, None, None]).mean(0)
            got = ds["data"].sel(delay=d, pulse=p).isel(module=0).values
            assert int(ds["hist"].sel(delay=d, pulse=p).isel(module=0)) == sel.sum()
            np.testing.assert_allclose(got, ref, rtol=2e-5, atol=1e-6 * np.abs(ref).max())
            # XGM binned alike
            ref_xgm = xgm[ti[sel], cells[sel]].mean()
            np.testing.assert_allclose(
                float(ds["xgm"].sel(delay=d, pulse=p).isel(module=0)), ref_xgm, rtol=1e-5
            )


def test_raw_sums_without_dark_or_xgm(runs, tmp_path):
    data, _ = runs
    binner = tb.create_dssc_bins("pulse", np.arange(NPULSES), ["a", "b", "c"] * 2)
    ds = tb.process_dssc_data(
        data.proposal, data.run, 1, 4, None, {"pulse": binner}, path=str(tmp_path)
    )
    frames, tids, cells = _raw(data.run_dir, 1)
    for i, lab in enumerate("abc"):
        sel = (cells % 3) == i
        ref_sum = frames[sel].sum(0)
        got = ds["data"].sel(pulse=lab).isel(module=0, trainId=0).values.astype(np.float64)
        n = int(ds["hist"].sel(pulse=lab).isel(module=0, trainId=0))
        assert n == sel.sum()
        np.testing.assert_allclose(got * n, ref_sum, rtol=1e-6)


def test_pump_probe_recovers_injected_dynamics(runs, binned):
    data, _ = runs
    out, _ = binned
    ds = xr.open_mfdataset(str(out) + "/*.h5", parallel=True, join="inner")
    assert ds.sizes["module"] == 2 and list(ds.pulse.values) == ["pumped", "unpumped"]
    t = data.truth["dssc"]
    gain = t["gain_adu_per_photon"]
    run = tb.open_run(data.proposal, data.run)
    x = tb.detectors.dssc.dssc_xaxis(run, "delay")
    xb = np.round(np.round(x.values / 0.5) * 0.5, 4) + 0.0
    true_delay = np.asarray(t["delay_ps"])
    tids = np.asarray(data.truth["train_ids"])
    for m in (0, 1):
        mean = ds["data"].sel(module=m).mean(("x", "y")).compute()
        for d in ds.delay.values:
            trains = np.isin(tids, x.trainId.values[xb == d])
            exp_p = (
                np.mean(
                    [simdssc.expected_module_mean(t, m, td, True) for td in true_delay[trains]]
                )
                * gain
            )
            exp_u = simdssc.expected_module_mean(t, m, 0.0, False) * gain
            n = int(ds["hist"].sel(module=m, delay=d, pulse="pumped"))
            # noise: 1 % XGM resolution on the whole signal, per frame, and the
            # module-averaged pixel noise; 5 sigma
            sigma = np.sqrt(2.0 / n) * (0.0101 * exp_u + 3.0 / 256 / 400)
            got_p = float(mean.sel(delay=d, pulse="pumped"))
            got_u = float(mean.sel(delay=d, pulse="unpumped"))
            assert abs((got_p - got_u) - (exp_p - exp_u)) < 5 * sigma + 0.002 * exp_u, (
                m,
                d,
                got_p - got_u,
                exp_p - exp_u,
                sigma,
            )
            assert abs(got_u - exp_u) < 0.02 * exp_u
    # the dynamics is resolved: a drop after time zero that recovers
    diff = (
        (ds["data"].sel(pulse="pumped") - ds["data"].sel(pulse="unpumped"))
        .mean(("module", "x", "y"))
        .compute()
    )
    assert diff.sel(delay=-1.0) > diff.min() + 0.5 * abs(float(diff.min()))
    assert float(diff.idxmin()) in (0.0, 0.5, 1.0)


def test_energy_scan_resonance(simulated, tmp_path):
    data = simulated("dssc_energy_scan", modules="0", trains=22, npulses=4, nsteps=11)
    dark = simulated("dssc_dark", modules="0", trains=6, npulses=4)
    tb.bin_dssc(
        data.proposal,
        data.run,
        xaxis="nrj",
        bin_width=1.0,
        pattern=["x"],
        dark_run=dark.run,
        path=str(tmp_path),
        backend="sequential",
    )
    ds = tb.open_binned_dssc(str(tmp_path))
    t = data.truth["dssc"]
    got = ds["data"].sel(module=0, pulse="x").mean(("x", "y")).compute()
    exp = [
        simdssc.expected_module_mean(t, 0, energy_ev=e) * t["gain_adu_per_photon"]
        for e in got.nrj.values
    ]
    np.testing.assert_allclose(got.values, exp, rtol=0.02)
    assert float(got.nrj[np.argmax(got.values)]) == 930.0
    assert exp[5] > 1.8 * exp[0]  # the resonance is strong enough to matter


def test_bin_dssc_with_dask_workers(runs, binned, tmp_path):
    data, dark = runs
    out, _ = binned
    files = tb.bin_dssc(
        data.proposal,
        data.run,
        dark_run=dark.run,
        path=str(tmp_path),
        bin_width=0.5,
        backend="dask",
        n_workers=2,
    )
    assert len(files) == 2
    a = tb.open_binned_dssc(str(tmp_path)).load()
    b = tb.open_binned_dssc(str(out)).load()
    xr.testing.assert_identical(a["data"], b["data"])


def test_intra_darks(simulated, tmp_path):
    """Every second frame dark: with stride 2 the XGM of pulse j normalises frame
    2j; the intra-dark frames hold no signal after dark subtraction."""
    data = simulated(
        "dssc_delay_scan", modules="0", trains=8, npulses=4, nsteps=2, intra_darks=True
    )
    dark = simulated("dssc_dark", modules="0", trains=4, npulses=4, intra_darks=True)
    assert (
        data.truth["dssc"]["frame_pattern"]
        == ["pumped", "intra_dark", "unpumped", "intra_dark"] * 2
    )
    tb.bin_dssc(
        data.proposal,
        data.run,
        dark_run=dark.run,
        bin_width=10.0,
        pattern=["pumped", "intra_dark", "unpumped", "intra_dark"],
        dssc_coords_stride=2,
        path=str(tmp_path),
        backend="sequential",
    )
    ds = tb.open_binned_dssc(str(tmp_path)).load()
    assert list(ds.pulse.values) == ["pumped", "intra_dark", "unpumped"]
    assert int(ds["hist"].sel(pulse="intra_dark").sum()) == 8 * 4
    mean = ds["data"].mean(("module", "x", "y"))
    # intra-darks: raw ADU minus dark, zero within the dark estimate noise
    assert abs(float(mean.sel(pulse="intra_dark").mean())) < 0.05
    t = data.truth["dssc"]
    exp_u = simdssc.expected_module_mean(t, 0, 0.0, False) * t["gain_adu_per_photon"]
    np.testing.assert_allclose(float(mean.sel(pulse="unpumped").mean()), exp_u, rtol=0.02)
    assert np.all(np.isnan(ds["xgm"].sel(pulse="intra_dark")))


def test_module_file_write_takes_no_distributed_lock(tmp_path):
    """On a dask worker xarray would guard each variable's write with a distributed
    Lock (a scheduler round trip each: most of what a dask task lost against the
    same task in-process, benchmarks/dssc_binning.py --cluster local); module files
    are one task's own, so write_module_file takes a process-local lock."""
    import xarray as xr
    from distributed import Client, LocalCluster
    from xarray.backends.locks import get_write_lock

    def distributed_lock():
        return type(get_write_lock("m.h5")).__module__.startswith("distributed")

    from scs_nb.detectors.dssc.binning import store

    ds = xr.Dataset({"data": (("x", "y"), np.arange(6.0).reshape(2, 3))}, attrs={"p": 1})
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        assert distributed_lock()
        with store._local_write_lock(ds):
            assert not distributed_lock()
        assert distributed_lock()
        with store._local_write_lock(ds.chunk()):  # dask arrays: xarray's own choice
            assert distributed_lock()
        store.write_module_file(ds, str(tmp_path / "m.h5"))
    with xr.open_dataset(tmp_path / "m.h5", engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), ds)
