"""Live data over the real karabo-bridge protocol: simulated runs served on
127.0.0.1 (random free port) and received by ``scs_nb.live.Stream`` give what the
offline functions give on the same trains."""

import glob
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import xarray as xr

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError

pytest.importorskip("karabo_bridge")

from scs_nb.live import Replay, Stream

FIELDS = ["SCS_SA3", "MCP2raw", "BAM1932M", "nrj", "FastADC5raw"]


def _plain(da):
    return da.reset_coords(drop=True).drop_attrs()


def _receive(run, fields, n, **kw):
    """All of ``n`` trains of ``run`` received over the bridge, then stopped."""
    with Replay(run, rate=0) as r:
        assert r.endpoint.startswith("tcp://127.0.0.1:")
        s = Stream(r.endpoint, fields, **kw)
        try:
            end = time.monotonic() + 60
            while (s.last_train or 0) < int(run.train_ids[-1]) and time.monotonic() < end:
                time.sleep(0.02)
        finally:
            s.stop()
    return s


@pytest.fixture(scope="module")
def delay_run(simulated):
    res = simulated("delay_scan", trains=40)
    return tb.open_run(res.proposal, res.run)


def test_simulator_writes_no_hdf5_booleans_and_runs_serialise(simulated):
    """Booleans are u1 as in real files; every train of a run with boolean keys
    (the PES gas valves) goes through the bridge serialiser."""
    from karabo_bridge.serializer import serialize

    res = simulated("pes", trains=5)
    bools = []

    def collect(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype == np.bool_:
            bools.append(name)

    for f in glob.glob(str(res.run_dir / "*.h5")):
        with h5py.File(f) as h:
            h.visititems(collect)
    assert not bools, f"boolean datasets: {bools[:5]}"
    run = tb.open_run(res.proposal, res.run)
    valves = [s for s in run.control_sources if "/DCTRL/" in s]
    assert valves, "the PES scenario should record its gas valves"
    assert run[valves[0], "isOpen.value"].ndarray().dtype == np.uint8
    assert run["SA3_XTD10_PES/ADC/1", "board1.enable.value"].ndarray().dtype == np.uint8
    for _, data in run.trains():
        for d in data.values():
            for k in [k for k, v in d.items() if getattr(v, "dtype", None) == np.dtype(object)]:
                del d[k]
        serialize(data)


def test_stream_dataset_and_pulse_functions_equal_offline(delay_run):
    run = delay_run
    s = _receive(run, FIELDS, len(run.train_ids), max_trains=30)
    tids = s.train_ids
    assert len(tids) == 30 and s.dropped == 0 and s.incomplete == 0
    np.testing.assert_array_equal(tids, np.asarray(run.train_ids[-30:], np.uint64))
    ds = s.dataset()
    _, off = tb.load(run, FIELDS)
    off = off.sel(trainId=tids)
    assert set(ds.data_vars) == set(off.data_vars)  # MCP2raw -> MCP2peaks, as load
    for v in off.data_vars:
        assert ds[v].dims == off[v].dims
        xr.testing.assert_equal(_plain(ds[v]), _plain(off[v]))
    # the functions accept the Stream and its dataset as they accept a run
    xr.testing.assert_equal(
        _plain(tb.get_xgm(s, "SCS_SA3")["SCS_SA3"]),
        _plain(tb.get_xgm(run, "SCS_SA3")["SCS_SA3"].sel(trainId=tids)),
    )
    xr.testing.assert_equal(
        _plain(tb.get_xgm(ds)["SCS_SA3"]), _plain(tb.get_xgm(s, "SCS_SA3")["SCS_SA3"])
    )
    p_off = tb.get_peaks(run, None, "MCP2raw").sel(trainId=tids)
    p_live = tb.get_peaks(s, None, "MCP2raw")
    xr.testing.assert_equal(_plain(p_live), _plain(p_off))
    assert {k: p_live.attrs[k] for k in ("pulseStart", "pulseStop", "baseStart", "baseStop")} == {
        k: p_off.attrs[k] for k in ("pulseStart", "pulseStop", "baseStart", "baseStop")
    }
    xr.testing.assert_equal(
        _plain(tb.get_tim_peaks(ds)["MCP2peaks"]), _plain(p_off.rename("MCP2peaks"))
    )
    xr.testing.assert_equal(
        _plain(tb.get_digitizer_peaks(s, "MCP2raw")["MCP2peaks"]),
        _plain(tb.get_digitizer_peaks(run, "MCP2raw")["MCP2peaks"].sel(trainId=tids)),
    )
    xr.testing.assert_equal(
        _plain(tb.get_bam(s, "BAM1932M")["BAM1932M"]),
        _plain(tb.get_bam(run, "BAM1932M")["BAM1932M"].sel(trainId=tids)),
    )
    xr.testing.assert_equal(
        _plain(tb.get_laser_peaks(s, "FastADC5raw")["FastADC5peaks"]),
        _plain(tb.get_laser_peaks(run, "FastADC5raw")["FastADC5peaks"].sel(trainId=tids)),
    )
    assert ds.attrs["dropped"] == 0 and ds.attrs["endpoint"] == s.endpoint


def test_peak_windows_kept_and_only_new_trains_integrated(delay_run, monkeypatch):
    from scs_nb.pulses import digitizers

    s = _receive(delay_run, ["SCS_SA3", "MCP2raw"], len(delay_run.train_ids), max_trains=40)
    integrated = []
    real = digitizers.peaks_from_raw_trace

    def counting(traces, *a, **k):
        integrated.append(len(traces))
        return real(traces, *a, **k)

    monkeypatch.setattr(digitizers, "peaks_from_raw_trace", counting)
    first = tb.get_peaks(s.live_data(last=25), None, "MCP2raw")
    assert integrated == [25]
    found = s.cache["integ", "MCP2raw"]
    full = tb.get_peaks(s, None, "MCP2raw")
    assert integrated == [25, 15]  # only the 15 trains not integrated before
    assert s.cache["integ", "MCP2raw"] is found  # windows found once, kept
    xr.testing.assert_equal(full.sel(trainId=first.trainId), first)
    off = tb.get_peaks(delay_run, None, "MCP2raw", autoFind=False, integParams=found[0])
    np.testing.assert_array_equal(full.values, off.sel(trainId=full.trainId).values)


def test_missing_trains_and_source_absent_for_part_of_the_run(simulated):
    res = simulated("delay_scan", trains=45, missing_trains=0.1, absent="BAM_1932M_TL:output")
    run = tb.open_run(res.proposal, res.run)
    s = _receive(run, ["SCS_SA3", "BAM1932M"], len(run.train_ids), max_trains=100)
    span = int(run.train_ids[-1] - run.train_ids[0] + 1)
    absent = set(res.truth["absent"]["SCS_ILH_LAS/DOOCS/BAM_1932M_TL:output"])
    assert 0 < len(absent) and span > len(run.train_ids)
    assert s.dropped == span - len(run.train_ids)  # train ids missing from the run
    assert s.incomplete == len(absent & set(map(int, run.train_ids)))  # no BAM: not kept
    assert not set(map(int, s.train_ids)) & absent
    with pytest.warns(UserWarning, match="missing"):
        _, off = tb.load(run, ["SCS_SA3", "BAM1932M"])
    ds = s.dataset()
    np.testing.assert_array_equal(ds.trainId.values, off.trainId.values)
    for v in off.data_vars:
        xr.testing.assert_equal(_plain(ds[v]), _plain(off[v]))


def test_endpoint_sending_other_sources_is_named(delay_run):
    with Replay(delay_run, rate=0, loop=True) as r:
        with pytest.warns(UserWarning, match="hRIXS"):
            s = Stream(r.endpoint, ["SCS_SA3", "hRIXS_det"], max_trains=5)
            with pytest.raises(ToolBoxValueError) as err:
                s.wait(5, timeout=1.5)
        s.stop()
    msg = str(err.value)
    assert "SCS_BLU_XGM/XGM/DOOCS:output" in msg  # what the endpoint sends
    assert "hRIXS_det: SCS_HRIXS_DET/CAM/CAMERA:daqOutput" in msg  # what is missing


def test_silent_then_restarted_sender(delay_run):
    """The sender stops (silence), then a new one starts on the same port from the
    first train: the stream reconnects and begins a new buffer."""
    r1 = Replay(delay_run, rate=0).start()
    endpoint = r1.endpoint
    port = int(endpoint.rsplit(":", 1)[1])
    s = Stream(endpoint, ["SCS_SA3"], max_trains=100, timeout=0.5)
    try:
        s.wait(len(delay_run.train_ids), timeout=30)
        r1.stop()
        time.sleep(1.0)  # silence: longer than the stream's timeout
        assert s.rate == 0.0
        with Replay(delay_run, rate=0, port=port) as r2:
            end = time.monotonic() + 30
            while s.restarts == 0 and time.monotonic() < end:
                time.sleep(0.05)
            s.wait(10, timeout=30)
            assert r2.endpoint == endpoint
        assert s.restarts == 1 and s.error is None
    finally:
        s.stop()
        r1.stop()
    assert not s.running


def test_live_binner_equals_bin_dssc(simulated, tmp_path):
    from scs_nb.detectors.dssc.binning import LiveBinner, bin_dssc, dssc_dark, open_binned_dssc

    res = simulated("dssc_delay_scan", modules="0,5", trains=24, npulses=4, nsteps=6)
    dark_res = simulated("dssc_dark", modules="0,5", trains=4, npulses=4)
    run = tb.open_run(res.proposal, res.run)
    modules = [0, 5]
    dark = {m: dssc_dark(dark_res.proposal, dark_res.run, m) for m in modules}
    lb = LiveBinner(modules, xaxis="delay", bin_width=0.25, dark=dark)
    with Replay(run, rate=0) as r:
        s = Stream(r.endpoint, lb.fields, frames=lb.frames, max_trains=100)
        try:
            s.wait(10, timeout=60)
            lb.update(s)  # train by train: a first part ...
            s.wait(len(run.train_ids), timeout=60)
            lb.update(s)  # ... then the rest
        finally:
            s.stop()
    assert lb.trains == len(run.train_ids)
    live = lb.result()
    bin_dssc(
        res.proposal,
        res.run,
        modules=modules,
        xaxis="delay",
        bin_width=0.25,
        dark_run=dark_res.run,
        backend="sequential",
        path=str(tmp_path),
    )
    off = open_binned_dssc(str(tmp_path)).load()
    np.testing.assert_array_equal(live["delay"].values, off["delay"].values)
    np.testing.assert_array_equal(live["hist"].values, off["hist"].isel(module=0).values)
    np.testing.assert_allclose(
        live["xgm"].values, off["xgm"].isel(module=0).values, rtol=1e-6, equal_nan=True
    )
    a = live["data"].values
    b = off["data"].transpose(*live["data"].dims).values
    # float32 partial sums per call of the kernel vs per chunk of bin_dssc
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.nanmax(np.abs(b)))


def test_live_replay_cli_serves_on_loopback(delay_run):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "scs_nb.cli",
            "live-replay",
            str(delay_run.run_metadata()["proposalNumber"]),
            str(delay_run.run_metadata()["runNumber"]),
            "--port",
            "0",
            "--rate",
            "50",
            "--duration",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "on tcp://127.0.0.1:" in out.stdout


def test_replay_refuses_bad_input(delay_run):
    with pytest.raises(ToolBoxValueError, match="rate"):
        Replay(delay_run, rate=-1)
    with pytest.raises(ToolBoxValueError, match="no source"):
        Replay(delay_run, sources="NOPE*")
    with pytest.raises(ToolBoxValueError, match="endpoint"):
        Stream("127.0.0.1:1234", ["SCS_SA3"])
    with pytest.raises(ToolBoxValueError, match="unknown mnemonic"):
        Stream("tcp://127.0.0.1:1", ["NOPE"])


def test_live_view_headless_template(run_template, data_root, tmp_path):
    text, images = run_template("live_view", tmp_path, duration=3.0)
    assert "practice: replaying" in text
    assert "trains held" in text or "LiveView.value" in text
    assert images >= 1
    value = text.split("LiveView.value = ")[1].splitlines()[0]
    assert "'problem': None" in value
    trains = int(value.split("'trains': ")[1].split(",")[0])
    assert trains >= 10  # about 10 trains/s for 3 s
