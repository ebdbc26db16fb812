"""The DSSC templates run headless (papermill, kernel python3) on small
simulated runs: one module, 12 trains, 10 frames per train."""

import xarray as xr


def test_dssc_binning_template(data_root, tmp_path, run_template):
    path = tmp_path / "binned"
    _, images = run_template(
        "dssc_binning",
        tmp_path,
        proposal=900002,
        run=441,
        dark_run=440,
        modules=[0],
        bin_width=1.0,
        n_workers=0,
        sim_trains=12,
        path=str(path),
    )
    assert images >= 5
    ds = xr.open_mfdataset(str(path) + "/*.h5", parallel=True, join="inner")
    assert list(ds.module.values) == [0] and set(ds.pulse.values) == {"pumped", "unpumped"}


def test_dssc_binner_template(data_root, tmp_path, run_template):
    _, images = run_template(
        "dssc_binner",
        tmp_path,
        proposal=900002,
        run=443,
        dark_run=442,
        modules=[0],
        bin_width=1.0,
        sim_trains=12,
        path=str(tmp_path / "legacy"),
    )
    assert images >= 5
    assert (tmp_path / "legacy" / "run_443_formatted.h5").exists()
