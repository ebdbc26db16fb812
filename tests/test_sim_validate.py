"""Every simulated scenario is a valid EuXFEL run, and its ground truth is what
the files hold.

Each registered scenario is written with 2 trains into a private folder and
checked with the ``extra-data-validate`` command (0 problems, exit code 0),
then opened with ``extra_data``.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scs_nb import sim

VALIDATE = Path(sys.executable).with_name("extra-data-validate")


@pytest.mark.parametrize("scenario", sim.list_scenarios())
def test_scenario_passes_extra_data_validate(scenario, tmp_path):
    import extra_data as ed

    # a folder of its own per scenario: extra_data caches open files by path within a process,
    # and pytest reuses the numbered tmp_path of a passed (and removed) test
    res = sim.simulate(scenario, 900999, 1, trains=2, data_root=tmp_path / scenario, seed=3)
    try:
        assert res.run_dir.is_dir() and res.files
        # the truth lies beside the run folder, never inside raw/
        assert "raw" not in res.truth_file.relative_to(tmp_path / scenario).parts
        proc = subprocess.run(
            [str(VALIDATE), str(res.run_dir)], capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "No problems found" in proc.stdout
        run = ed.RunDirectory(str(res.run_dir))
        np.testing.assert_array_equal(
            np.asarray(run.train_ids, np.uint64), np.asarray(res.truth["train_ids"], np.uint64)
        )
        assert set(run.all_sources) == set(res.truth["sources"])
    finally:
        shutil.rmtree(res.run_dir, ignore_errors=True)


def test_simulation_is_reproducible_from_seed(tmp_path):
    a = sim.simulate("basic", 900998, 1, trains=5, data_root=tmp_path / "a", seed=7)
    b = sim.simulate("basic", 900998, 1, trains=5, data_root=tmp_path / "b", seed=7)
    c = sim.simulate("basic", 900998, 1, trains=5, data_root=tmp_path / "c", seed=8)
    assert a.truth["readback"] == b.truth["readback"]
    assert a.truth["xgm"]["SCS"]["sa3_fast_raw"] == b.truth["xgm"]["SCS"]["sa3_fast_raw"]
    assert a.truth["readback"]["nrj"] != c.truth["readback"]["nrj"]


def test_missing_trains_are_gaps_in_train_ids(simulated):
    res = simulated("basic", trains=60, missing_trains=0.1)
    tids = np.asarray(res.truth["train_ids"])
    missing = np.asarray(res.truth["missing_train_ids"])
    assert len(missing) == 6 and len(tids) == 54
    assert not np.isin(missing, tids).any()
    assert missing.min() > tids.min() and missing.max() < tids.max()


def test_readback_noise_is_the_encoder_noise(simulated):
    """The written readbacks scatter around the set-points with the documented
    encoder noise (mono: 0.01 eV, delay line: 1e-4 mm)."""
    t = simulated("delay_scan", trains=200).truth
    nrj = np.asarray(t["readback"]["nrj"]) - np.asarray(t["nrj_eV"])
    dl = np.asarray(t["readback"]["PP800_DelayLine"]) - np.asarray(t["delay_line_mm"])
    # the standard deviation of 200 normal draws is within ~5 sigma of 10 %
    assert abs(nrj.std() / 0.01 - 1) < 0.25
    assert abs(dl.std() / 1e-4 - 1) < 0.25
    assert abs(dl.mean()) < 5 * 1e-4 / np.sqrt(200)
