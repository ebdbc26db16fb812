"""Bad input gives a ToolBox error that says what was asked, what exists and
what to pass; incomplete runs give warnings, never a crash.

Runs: 'basic' with 10 % of the trains dropped by the DAQ, 'basic' with the SCS
XGM (fast and slow) absent from the middle third, and 'basic' written in 3
sequence files of which one is truncated to half its size.
"""

import os
import shutil
import warnings

import numpy as np
import pytest
from extra_data import by_index

import scs_nb as tb
from scs_nb import sim


@pytest.fixture(scope="module")
def basic(simulated):
    return simulated("basic", trains=30, seed=5)


# -- unknown proposal, run ---------------------------------------------------
def test_unknown_proposal_names_the_paths_tried(basic, data_root):
    with pytest.raises(tb.ToolBoxPathError) as err:
        tb.open_run(123456, 1)
    msg = str(err.value)
    assert "123456" in msg and str(data_root) in msg and "p123456" in msg
    assert "EXTRA_DATA_DATA_ROOT" in msg
    with pytest.raises(tb.ToolBoxPathError):
        tb.load(123456, 1, ["nrj"])


def test_unknown_run_lists_available_runs(basic):
    with pytest.raises(tb.ToolBoxPathError) as err:
        tb.open_run(basic.proposal, 9876)
    msg = str(err.value)
    assert "r9876" in msg and str(basic.run_dir.parent) in msg
    assert str(basic.run) in msg.split("runs available")[1]
    with pytest.raises(tb.ToolBoxPathError):
        tb.find_run_path(basic.proposal, 9876)
    with pytest.raises(tb.ToolBoxPathError, match="proc"):
        tb.open_run(basic.proposal, basic.run, data="proc")


@pytest.mark.parametrize(
    "proposal, run",
    [
        ("abc", 1),
        (-3, 1),
        (10_000_000, 1),
        ("../../etc", 1),
        (900002, "r1; ls"),
        (900002, 0),
        (900002, 1.5),
    ],
)
def test_invalid_numbers(proposal, run):
    with pytest.raises((tb.ToolBoxValueError, tb.ToolBoxTypeError)):
        tb.open_run(proposal, run)


def test_data_location_cannot_escape_the_proposal(basic):
    with pytest.raises(tb.ToolBoxValueError):
        tb.open_run(basic.proposal, basic.run, data="../../..")
    with pytest.raises(tb.ToolBoxValueError):
        tb.find_run_path(basic.proposal, basic.run, data="/etc")


def test_run_by_path_missing_folder(tmp_path):
    with pytest.raises(tb.ToolBoxPathError, match="does not exist"):
        tb.run_by_path(tmp_path / "r0001")
    (tmp_path / "empty").mkdir()
    with pytest.raises(tb.ToolBoxPathError, match="no HDF5"):
        tb.run_by_path(tmp_path / "empty")


# -- mnemonics ---------------------------------------------------------------
def test_unknown_mnemonic_lists_the_run_mnemonics(basic):
    with pytest.raises(tb.ToolBoxValueError) as err:
        tb.load(basic.proposal, basic.run, ["nrj", "notAMnemonic"])
    msg = str(err.value)
    assert "notAMnemonic" in msg
    for name in ("nrj", "SCS_SA3", "PP800_DelayLine", "BAM1932S"):
        assert name in msg
    assert "newton" not in msg.split("available")[1]  # not in this run
    run = tb.open_run(basic.proposal, basic.run)
    with pytest.raises(tb.ToolBoxValueError, match="nrj"):
        tb.get_array(run, "notAMnemonic")
    with pytest.raises(tb.ToolBoxValueError, match="notAMnemonic"):
        tb.check_data_rate(run, ["notAMnemonic"])


def test_mnemonic_absent_from_run_names_the_missing_source(basic):
    with pytest.raises(tb.ToolBoxValueError) as err:
        tb.load(basic.proposal, basic.run, ["newton"])
    msg = str(err.value)
    assert "SCS_EXP_NEWTON/CAM/CAMERA:daqOutput" in msg and "missing" in msg
    run = tb.open_run(basic.proposal, basic.run)
    with pytest.raises(tb.ToolBoxValueError, match="SCS_EXP_NEWTON"):
        tb.get_array(run, "newton")


def test_custom_field_errors(basic):
    p, r = basic.proposal, basic.run
    with pytest.raises(tb.ToolBoxValueError, match="SCS_NOT/A/DEVICE"):
        tb.load(p, r, {"x": {"source": "SCS_NOT/A/DEVICE", "key": "a.value"}})
    with pytest.raises(tb.ToolBoxValueError, match="actualCurrent.value"):
        tb.load(p, r, {"x": {"source": "SCS_CDIFFT_MAG/SUPPLY/CURRENT", "key": "actual_cur"}})
    with pytest.raises(tb.ToolBoxValueError, match="source"):
        tb.load(p, r, {"x": {"key": "a"}})
    with pytest.raises(tb.ToolBoxTypeError):
        tb.load(p, r, 42)
    with pytest.raises(tb.ToolBoxValueError, match="dim"):
        tb.load(
            p,
            r,
            {
                "x": {
                    "source": "SCS_BLU_XGM/XGM/DOOCS:output",
                    "key": "data.intensityTD",
                    "dim": ["a", "b", "c"],
                }
            },
        )


def test_bad_arguments(basic):
    run = tb.open_run(basic.proposal, basic.run)
    for step in (0, -0.5, "big", float("nan")):
        with pytest.raises(tb.ToolBoxValueError, match="stepsize"):
            tb.get_array(run, "nrj", step)
    with pytest.raises(tb.ToolBoxValueError, match="subset"):
        tb.open_run(basic.proposal, basic.run, subset="first five")
    with pytest.raises(tb.ToolBoxValueError, match="rois"):
        tb.load(
            basic.proposal,
            basic.run,
            ["nrj"],
            rois={"SCS_SA3": {"a": {"roi": by_index[:2], "dim": ["p"]}}},
        )
    with pytest.raises(tb.ToolBoxValueError, match="runNB"):
        tb.load(basic.proposal)
    with pytest.raises(tb.ToolBoxTypeError):
        tb.get_array("not a run", "nrj")
    with pytest.raises(tb.ToolBoxTypeError):
        tb.concatenateRuns([np.zeros(3)])


# -- incomplete runs ---------------------------------------------------------
def test_missing_trains_warn(simulated):
    res = simulated("basic", trains=60, missing_trains=0.1, seed=6)
    with pytest.warns(UserWarning, match=r"dropped by the DAQ") as rec:
        run, ds = tb.load(res.proposal, res.run, ["nrj", "SCS_photonFlux"])
    assert "6 of 60 trains (10.0 %)" in str(rec[0].message)
    np.testing.assert_array_equal(ds.trainId, res.truth["train_ids"])
    np.testing.assert_array_equal(ds["nrj"], np.float32(res.truth["readback"]["nrj"]))


def test_few_missing_trains_do_not_warn(simulated):
    res = simulated("basic", trains=60, missing_trains=1 / 30, seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run, ds = tb.load(res.proposal, res.run, ["nrj"])
    assert ds.sizes["trainId"] == 58


def test_absent_source_warns_and_keeps_trains_with_data(simulated):
    res = simulated("basic", trains=30, absent="SCS_BLU_XGM", seed=7)
    absent = np.asarray(res.truth["absent"]["SCS_BLU_XGM/XGM/DOOCS"], np.uint64)
    assert len(absent) == 10
    with pytest.warns(UserWarning, match="SCS_photonFlux") as rec:
        run, ds = tb.load(
            res.proposal, res.run, ["nrj", "SCS_photonFlux", "SCS_SA3"], extract_xgm=False
        )
    msg = str(rec[0].message)
    assert "SCS_BLU_XGM/XGM/DOOCS" in msg and "20 of 30 trains" in msg
    assert ds.sizes["trainId"] == 20
    assert not np.isin(ds.trainId.values, absent).any()
    keep = ~np.isin(np.asarray(res.truth["train_ids"], np.uint64), absent)
    flux = np.float32(res.truth["xgm"]["SCS"]["photonFlux_uJ"])[keep]
    np.testing.assert_array_equal(ds["SCS_photonFlux"], flux)
    # a field of the whole run alone loads every train, without warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run, ds = tb.load(res.proposal, res.run, ["nrj"])
    assert ds.sizes["trainId"] == 30


@pytest.fixture(scope="module")
def truncated_run(data_root):
    """'basic' in 3 files of 10 trains; the middle file is cut to half its size."""
    res = sim.simulate(
        "basic",
        900003,
        1,
        trains=30,
        data_root=data_root,
        trains_per_file=10,
        seed=8,
        overwrite=True,
    )
    assert len(res.files) == 3
    bad = res.files[1]
    os.truncate(bad, os.path.getsize(bad) // 2)
    res.proposal, res.run, res.bad = 900003, 1, bad
    return res


def test_truncated_file_is_skipped_with_a_warning(truncated_run):
    res = truncated_run
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        run, ds = tb.load(res.proposal, res.run, ["nrj"])
    messages = [str(w.message) for w in rec]
    assert any(
        res.bad.name in m and str(res.run_dir) in m and "truncated" in m for m in messages
    ), messages
    assert all(w.filename == __file__ for w in rec), [w.filename for w in rec]
    # and the trains of the skipped file are reported missing
    assert any("10 of 30 trains" in m for m in messages), messages
    tids = np.asarray(res.truth["train_ids"])
    expected = np.concatenate([tids[:10], tids[20:]])
    np.testing.assert_array_equal(ds.trainId, expected)
    rb = np.float32(res.truth["readback"]["nrj"])
    np.testing.assert_array_equal(ds["nrj"], np.concatenate([rb[:10], rb[20:]]))
    with pytest.warns(UserWarning, match=str(res.bad.name)) as rec:
        run = tb.run_by_path(res.run_dir)
    assert len(run.files) == 2
    assert rec[0].filename == __file__


def test_run_without_readable_file_is_a_file_error(data_root, tmp_path):
    res = sim.simulate("basic", 900003, 2, trains=5, data_root=data_root, seed=8, overwrite=True)
    for f in res.files:
        os.truncate(f, 1000)
    with pytest.raises(tb.ToolBoxFileError) as err:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tb.open_run(900003, 2)
    assert res.files[0].name in str(err.value)
    copy = tmp_path / "r0002"
    shutil.copytree(res.run_dir, copy)
    with pytest.raises(tb.ToolBoxFileError, match=res.files[0].name):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tb.run_by_path(copy)


def test_load_validate_reports_problems(truncated_run, basic):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        tb.load(truncated_run.proposal, truncated_run.run, ["nrj"], validate=True)
    messages = [str(w.message) for w in rec]
    assert any(
        "extra-data-validate found" in m and truncated_run.bad.name in m for m in messages
    ), messages
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run, ds = tb.load(basic.proposal, basic.run, ["nrj"], validate=True)
    assert ds.sizes["trainId"] == 30


def test_damaged_data_is_a_file_error_naming_the_files(basic, monkeypatch):
    """A file that opens but whose data cannot be read (h5py OSError, e.g. a
    corrupt compressed chunk) gives a ToolBoxFileError naming source and files."""
    from extra_data.keydata import KeyData

    def broken(self, *args, **kwargs):
        raise OSError("Can't synchronously read data (inflate() failed)")

    monkeypatch.setattr(KeyData, "xarray", broken)
    with pytest.raises(tb.ToolBoxFileError) as err:
        tb.load(basic.proposal, basic.run, ["nrj"])
    msg = str(err.value)
    assert "SA3_XTD10_MONO/MDL/PHOTON_ENERGY" in msg and basic.files[0].name in msg
    assert "inflate() failed" in msg
