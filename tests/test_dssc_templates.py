"""The DSSC templates run headless (papermill, kernel python3) on small
simulated runs: one module, 12 trains, 10 frames per train."""
import os

import nbformat
import pytest
import xarray as xr

papermill = pytest.importorskip("papermill")

TEMPLATES = os.path.join(os.path.dirname(__file__), os.pardir, "templates")


def _run(name, tmp_path, **params):
    out = tmp_path / f"{name}.ipynb"
    papermill.execute_notebook(os.path.join(TEMPLATES, f"{name}.ipynb"), str(out),
                               parameters=params, kernel_name="python3", progress_bar=False,
                               cwd=str(tmp_path))
    return nbformat.read(str(out), as_version=4)


def _images(nb):
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))


def test_dssc_binning_template(data_root, tmp_path):
    path = tmp_path / "binned"
    nb = _run("dssc_binning", tmp_path, proposal=900002, run=441, dark_run=440, modules=[0],
              bin_width=1.0, n_workers=0, sim_trains=12, path=str(path))
    assert _images(nb) >= 5
    ds = xr.open_mfdataset(str(path) + "/*.h5", parallel=True, join="inner")
    assert list(ds.module.values) == [0] and set(ds.pulse.values) == {"pumped", "unpumped"}


def test_dssc_binner_template(data_root, tmp_path):
    nb = _run("dssc_binner", tmp_path, proposal=900002, run=443, dark_run=442, modules=[0],
              bin_width=1.0, sim_trains=12, path=str(tmp_path / "legacy"))
    assert _images(nb) >= 5
    assert (tmp_path / "legacy" / "run_443_formatted.h5").exists()
