"""The DSSC binning templates run headless on small simulated runs (one module, 12
trains, 10 frames per train), write their binned files and record the pump-probe
difference per delay bin, which follows the injected drop of the rings (negative
after time zero, none before)."""

import numpy as np
import xarray as xr

PROPOSAL = 900002


def _runs(simulated, run, dark):
    simulated("dssc_dark", run=dark, modules="0", trains=6)
    return simulated("dssc_delay_scan", run=run, modules="0", trains=12)


def _pump_probe(out):
    (r,) = [x for x in out.records if x["name"] == "pump_probe"]
    if "axis" in r:
        assert r["axis"] == "delay" and r["axis_unit"] == "ps"
    delay = r["axis_values"] if "axis_values" in r else r["delay_ps"]
    return np.asarray(delay, float), np.asarray(r["value"], float)


def _follows_truth(delay, diff):
    # pumping lowers the rings' signal after time zero; nothing changes long before it
    assert np.nanmin(diff[delay > 0.5]) < 0 < np.nanmax(delay)
    before = diff[delay < -0.5]
    if before.size:
        assert np.nanmax(np.abs(before)) < 0.5 * np.nanmax(np.abs(diff[delay > 0.5]))


def test_dssc_binning_template(simulated, tmp_path, run_template):
    _runs(simulated, 441, 440)
    path = tmp_path / "binned"
    out = run_template(
        "dssc_binning",
        tmp_path,
        proposal=PROPOSAL,
        run=441,
        dark_run=440,
        modules=[0],
        bin_width=1.0,
        n_workers=0,
        path=str(path),
    )
    assert out[1] >= 5
    ds = xr.open_mfdataset(str(path) + "/*.h5", parallel=True, join="inner")
    assert list(ds.module.values) == [0] and set(ds.pulse.values) == {"pumped", "unpumped"}
    _follows_truth(*_pump_probe(out))


def test_dssc_binner_template(simulated, tmp_path, run_template):
    _runs(simulated, 443, 442)
    out = run_template(
        "dssc_binner",
        tmp_path,
        proposal=PROPOSAL,
        run=443,
        dark_run=442,
        modules=[0],
        bin_width=1.0,
        path=str(tmp_path / "legacy"),
    )
    assert out[1] >= 5
    assert (tmp_path / "legacy" / "run_443_formatted.h5").exists()
    _follows_truth(*_pump_probe(out))
