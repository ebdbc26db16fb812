"""What a user installs works: every module imports, the templates are shipped
and their parameters cells are valid, and a simulated run loads with the
injected values. `make test-wheel` runs this file (with the compatibility and
mnemonic tests) against a wheel installed into a fresh venv (SCS_NB_WHEEL=1)."""

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scs_nb


def test_installed_from_the_wheel_when_asked():
    if os.environ.get("SCS_NB_WHEEL") != "1":
        pytest.skip("not the wheel run (make test-wheel)")
    path = Path(scs_nb.__file__).resolve()
    assert "site-packages" in path.parts, path
    # and not an editable install pointing back into a checkout
    assert (path.parent / "templates").is_dir() and (path.parent / "widgets").is_dir()


def test_every_module_imports():
    names = []
    # widgets/, kernels/, templates/ map into scs_nb (found under scs_nb in a wheel,
    # beside it in an editable install): walk each
    for pkg in ("scs_nb", "scs_nb.widgets", "scs_nb.kernels", "scs_nb.templates"):
        names.append(pkg)
        names += [
            m.name for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + ".")
        ]
    names = sorted(set(names))
    assert {
        "scs_nb.widgets",
        "scs_nb.kernels",
        "scs_nb.templates",
        "scs_nb.facility",
        "scs_nb.sim",
        "scs_nb.routines",
        "scs_nb.detectors.dssc",
    } <= set(names)
    failed = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # report all, not the first
            failed[name] = repr(exc)
    assert not failed


def test_templates_shipped_and_their_parameters_valid():
    from scs_nb.batch.templates import list_templates

    shipped = {t.name for t in list_templates()}
    assert {"load_run_data", "dssc_binning", "explore_run"} <= shipped
    checkout = Path(__file__).resolve().parents[1] / "templates"
    if checkout.is_dir():
        assert shipped == {p.stem for p in checkout.glob("*.ipynb")}
    out = subprocess.run(
        [sys.executable, "-m", "scs_nb.cli", "templates", "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("[ok:") == len(shipped)


def test_console_scripts_installed():
    bindir = Path(sys.executable).parent
    for script in ("scs-nb", "scs-activate-toolbox-kernel", "scs-create-toolbox-env"):
        assert (bindir / script).exists(), script


def test_simulated_run_loads_with_injected_values(tmp_path, monkeypatch):
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(tmp_path))
    res = scs_nb.sim.simulate("energy_scan", 900123, 2, trains=40, seed=3)
    truth = scs_nb.sim.ground_truth(900123, 2)
    run, ds = scs_nb.load(900123, 2, ["nrj", "SCS_SA3"])
    assert ds.sizes["trainId"] == 40
    # the mono follows the injected set points to its encoder noise
    steps = np.unique(np.round(ds["nrj"].values / 2) * 2)
    assert np.allclose(steps, truth["scan"]["setpoints"], atol=1e-6)
    assert Path(res.run_dir).name == "r0002"
