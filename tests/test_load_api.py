"""The loading API recovers what the simulator wrote.

Slow data are compared with the readbacks the simulator wrote (``truth
['readback']``), exactly; XGM fast data loaded raw with the uncalibrated values
it injected (``truth['xgm'][...]['sa3_fast_raw']``), exactly.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from extra_data import by_index

import scs_nb as tb

SLOW = [
    "nrj",
    "nrj_target",
    "UND",
    "PP800_DelayLine",
    "PP800_PhaseShifter",
    "scannerX",
    "scannerY",
    "magnet",
]


@pytest.fixture(scope="module")
def delay_run(simulated):
    return simulated("delay_scan", trains=40, seed=1)


def test_find_proposal_reads_data_root_at_call_time(delay_run, data_root, tmp_path, monkeypatch):
    path = tb.find_proposal(delay_run.proposal)
    assert Path(path) == delay_run.run_dir.parent.parent
    assert tb.find_proposal(f"p{delay_run.proposal:06d}") == path
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(tmp_path))
    with pytest.raises(tb.ToolBoxPathError) as err:
        tb.find_proposal(delay_run.proposal)
    assert str(tmp_path) in str(err.value) and "EXTRA_DATA_DATA_ROOT" in str(err.value)
    assert f"p{delay_run.proposal:06d}" in str(err.value)


def test_find_run_path_and_open_run(delay_run):
    p, r = delay_run.proposal, delay_run.run
    assert Path(tb.find_run_path(p, r)) == delay_run.run_dir
    assert Path(tb.find_run_path(str(p), f"r{r:04d}", data="all")) == delay_run.run_dir
    run = tb.open_run(p, r)
    np.testing.assert_array_equal(run.train_ids, delay_run.truth["train_ids"])
    sub = tb.open_run(p, r, subset=by_index[:5])
    np.testing.assert_array_equal(sub.train_ids, delay_run.truth["train_ids"][:5])
    sub = tb.open_run(p, r, subset=np.s_[10:20])
    assert len(sub.train_ids) == 10


def test_mnemonics_for_run_by_numbers(delay_run):
    names = tb.mnemonics_for_run(delay_run.proposal, delay_run.run)
    assert {"nrj", "PP800_DelayLine", "SCS_SA3", "bunchPatternTable"} <= set(names)
    assert "newton" not in names


def test_run_by_path_on_a_folder(delay_run):
    run = tb.run_by_path(delay_run.run_dir)
    np.testing.assert_array_equal(run.train_ids, delay_run.truth["train_ids"])
    run = tb.run_by_path(str(delay_run.run_dir))
    assert "SA3_XTD10_MONO/MDL/PHOTON_ENERGY" in run.control_sources


def test_load_recovers_slow_readbacks_exactly(delay_run):
    truth = delay_run.truth
    run, ds = tb.load(delay_run.proposal, delay_run.run, SLOW)
    assert set(SLOW) <= set(ds.data_vars)
    np.testing.assert_array_equal(ds.trainId.values, np.asarray(truth["train_ids"], np.uint64))
    assert ds.trainId.dtype == np.uint64
    for name in SLOW:
        written = np.asarray(truth["readback"][name]).astype(ds[name].dtype)
        np.testing.assert_array_equal(ds[name].values, written, err_msg=name)
    # the set-points of the scan are the readbacks within the encoder noise (1e-4 mm)
    np.testing.assert_allclose(ds["PP800_DelayLine"], truth["delay_line_mm"], atol=6e-4)
    np.testing.assert_allclose(ds["nrj"], truth["nrj_eV"], atol=0.06)
    assert ds.attrs["runFolder"] == str(delay_run.run_dir)
    assert ds.attrs["proposal"] == delay_run.proposal and ds.attrs["runNB"] == delay_run.run
    assert ds["nrj"].attrs["units"] == "eV"


def test_load_single_field_string_and_subset(delay_run):
    run, ds = tb.load(delay_run.proposal, delay_run.run, "nrj", subset=by_index[3:8])
    assert list(ds.data_vars) == ["nrj"]
    np.testing.assert_array_equal(ds.trainId, delay_run.truth["train_ids"][3:8])
    assert len(run.train_ids) == 5


def test_load_custom_dict_fields(delay_run):
    fields = [
        {
            "current": {
                "source": "SCS_CDIFFT_MAG/SUPPLY/CURRENT",
                "key": "actualCurrent.value",
                "dim": None,
            }
        },
        {"target": {"source": "SCS_ILH_LAS/MOTOR/LT3", "key": "ATargetPosition"}},
    ]
    run, ds = tb.load(delay_run.proposal, delay_run.run, fields)
    np.testing.assert_array_equal(ds["current"], np.float32(delay_run.truth["readback"]["magnet"]))
    np.testing.assert_array_equal(ds["target"], delay_run.truth["delay_line_mm"])


def test_xgm_fast_data_loaded_raw_equals_truth(simulated):
    res = simulated("xgm_calibration", trains=20, seed=4)
    run, ds = tb.load(res.proposal, res.run, ["SCS_SA3", "SCS_photonFlux"], extract_xgm=False)
    truth = res.truth["xgm"]["SCS"]
    assert ds["SCS_SA3"].dims == ("trainId", "XGMbunchId")
    for i, raw in enumerate(truth["sa3_fast_raw"]):
        n = len(raw)
        np.testing.assert_array_equal(ds["SCS_SA3"][i, :n], np.float32(raw))
        assert (ds["SCS_SA3"][i, n:] == 1.0).all()  # unused entries hold 1.0
    np.testing.assert_array_equal(ds["SCS_photonFlux"], np.float32(truth["photonFlux_uJ"]))


def test_load_rois(simulated):
    res = simulated("xgm_calibration", trains=20, seed=4)
    rois = {
        "SCS_SA3": {
            "first": {"roi": by_index[0:5], "dim": ["pulse"]},
            "rest": {"roi": by_index[5:20], "dim": ["pulse2"]},
        }
    }
    run, ds = tb.load(res.proposal, res.run, ["SCS_SA3"], rois=rois, extract_xgm=False)
    assert "SCS_SA3" not in ds and ds["first"].shape == (20, 5) and ds["rest"].shape == (20, 15)
    raw = np.float32(res.truth["xgm"]["SCS"]["sa3_fast_raw"])
    np.testing.assert_array_equal(ds["first"], raw[:, :5])
    np.testing.assert_array_equal(ds["rest"], raw[:, 5:20])


def test_load_without_fields_gives_train_ids(delay_run):
    run, ds = tb.load(delay_run.proposal, delay_run.run)
    assert len(ds.data_vars) == 0
    np.testing.assert_array_equal(ds.trainId, delay_run.truth["train_ids"])


def test_load_data_proc_and_all(delay_run, tmp_path):
    """data='all' takes 'proc' sources over 'raw' ones when a proc folder exists."""
    import shutil

    proc = delay_run.run_dir.parent.parent / "proc" / delay_run.run_dir.name
    try:
        shutil.copytree(delay_run.run_dir, proc)
        for f in proc.glob("RAW-*.h5"):
            f.rename(f.with_name(f.name.replace("RAW-", "CORR-")))
        run, ds = tb.load(delay_run.proposal, delay_run.run, ["nrj"], data="proc")
        assert all("CORR-" in os.path.basename(f.filename) for f in run.files)
        run, ds = tb.load(delay_run.proposal, delay_run.run, ["nrj"], data="all")
        assert any("CORR-" in os.path.basename(f.filename) for f in run.files)
        np.testing.assert_array_equal(ds["nrj"], np.float32(delay_run.truth["readback"]["nrj"]))
    finally:
        shutil.rmtree(proc.parent, ignore_errors=True)


@pytest.mark.parametrize("stepsize", [0.5, 0.25, 0.1])
def test_get_array_rounds_to_stepsize(delay_run, stepsize):
    run = tb.open_run(delay_run.proposal, delay_run.run)
    arr = tb.get_array(run, "PP800_DelayLine", stepsize)
    assert isinstance(arr, xr.DataArray) and arr.name == "PP800_DelayLine"
    written = np.asarray(delay_run.truth["readback"]["PP800_DelayLine"])
    np.testing.assert_allclose(arr.values, stepsize * np.round(written / stepsize))
    # every value is an integer multiple of the step
    np.testing.assert_allclose(arr / stepsize, np.round(arr / stepsize), atol=1e-9)


def test_get_array_groups_the_scan_steps(delay_run):
    """Rounding the delay-line readback to the scan step recovers the set-points."""
    setpoints = np.asarray(delay_run.truth["scan"]["setpoints"])
    # -1 .. 1 mm in 10 steps of 2/9 mm: odd multiples of 1/9 mm, the grid to round to;
    # the encoder noise (1e-4 mm) is far below half the grid
    step = (setpoints[1] - setpoints[0]) / 2
    arr = tb.get_array(
        mnemonic="PP800_DelayLine",
        stepsize=step,
        proposalNB=delay_run.proposal,
        runNB=delay_run.run,
    )
    np.testing.assert_allclose(arr, delay_run.truth["delay_line_mm"], atol=1e-9)
    assert len(np.unique(arr)) == len(setpoints)


def test_get_array_without_stepsize_none_mnemonic_and_subset(delay_run):
    run = tb.open_run(delay_run.proposal, delay_run.run)
    arr = tb.get_array(run, "nrj")
    np.testing.assert_array_equal(arr, np.float32(delay_run.truth["readback"]["nrj"]))
    ones = tb.get_array(run)
    assert (ones == 1).all() and len(ones) == len(delay_run.truth["train_ids"])
    assert ones.dims == ("trainId",)
    sub = tb.get_array(run, "nrj", subset=by_index[:4])
    assert len(sub) == 4


def test_load_run_values(delay_run):
    values = tb.load_run_values(delay_run.proposal, delay_run.run)
    rb = delay_run.truth["readback"]
    # RUN holds the value at the start of the run
    assert values["nrj"] == np.float32(rb["nrj"][0])
    assert values["PP800_DelayLine"] == rb["PP800_DelayLine"][0]
    assert "SCS_SA3" not in values  # INSTRUMENT data has no run value
    run = tb.open_run(delay_run.proposal, delay_run.run)
    assert tb.load_run_values(run)["magnet"] == np.float32(rb["magnet"][0])
    everything = tb.load_run_values(run, which="all")
    mono = everything["SA3_XTD10_MONO/MDL/PHOTON_ENERGY"]
    assert mono["actualEnergy.value"] == values["nrj"]
    assert "SoftMonoPhotonEnergy" in str(mono["classId.value"])
    with pytest.raises(tb.ToolBoxValueError):
        tb.load_run_values(run, which="some")


def test_concatenate_runs(simulated):
    a = simulated("energy_scan", trains=20, seed=1)
    b = simulated("basic", trains=15, seed=2)
    _, da = tb.load(a.proposal, a.run, ["nrj", "magnet"])
    _, db = tb.load(b.proposal, b.run, ["nrj", "magnet"])
    both = tb.concatenateRuns([db, da])  # sorted by first train id whatever the order
    assert both.sizes["trainId"] == 35
    first, second = sorted([da, db], key=lambda d: int(d.trainId[0]))
    np.testing.assert_array_equal(both.trainId[: len(first.trainId)], first.trainId)
    assert both.attrs["runNB"] == [first.attrs["runNB"], second.attrs["runNB"]]
    _, dc = tb.load(b.proposal, b.run, ["nrj"])
    with pytest.raises(tb.ToolBoxValueError, match="not identical"):
        tb.concatenateRuns([da, dc])
    with pytest.raises(tb.ToolBoxValueError):
        tb.concatenateRuns([])


def test_check_data_rate(simulated):
    res = simulated("basic", trains=30, absent="SCS_BLU_XGM")
    run = tb.open_run(res.proposal, res.run)
    rates = tb.check_data_rate(run)
    assert rates["nrj"] == 1.0
    n_absent = len(res.truth["absent"]["SCS_BLU_XGM/XGM/DOOCS"])
    expected = 1 - n_absent / 30
    assert rates["SCS_photonFlux"] == pytest.approx(expected)
    assert rates["SCS_SA3"] == pytest.approx(expected)
    one = tb.check_data_rate(run, "SCS_SA3")
    assert list(one) == ["SCS_SA3"]
    custom = tb.check_data_rate(
        run, {"extra": {"source": "SCS_CDIFFT_MAG/SUPPLY/CURRENT", "key": "actualCurrent.value"}}
    )
    assert custom == {"extra": 1.0}


def test_load_hands_pulse_fields_to_the_pulses_area(simulated, monkeypatch):
    """With extract_* True, load calls get_xgm / get_bam / get_digitizer_peaks with
    merge_with=<the raw dataset>, as the ToolBox load does; with False it does not."""
    import importlib

    load_mod = importlib.import_module("scs_nb.load")  # tb.load is the function

    res = simulated("basic", trains=10, seed=12)
    calls = []

    def recorder(fname):
        def f(run, *args, **kwargs):
            calls.append(
                (
                    fname,
                    args,
                    {k: v for k, v in kwargs.items() if k != "merge_with"},
                    sorted(kwargs["merge_with"].data_vars),
                )
            )
            return kwargs["merge_with"]

        return f

    monkeypatch.setattr(load_mod, "_pulse_function", recorder)
    fields = ["nrj", "SCS_SA3", "XTD10_XGM", "BAM1932S", "MCP2apd", "FastADC4peaks"]
    run, ds = tb.load(
        res.proposal,
        res.run,
        fields,
        bunchPattern={"MCP2apd": "sase3", "FastADC4peaks": "scs_ppl"},
    )
    names = [c[0] for c in calls]
    assert names == ["get_digitizer_peaks", "get_digitizer_peaks", "get_xgm", "get_bam"]
    assert calls[0][2] == {"mnemonic": "MCP2apd", "bunchPattern": "sase3"}
    assert calls[1][2] == {"mnemonic": "FastADC4peaks", "bunchPattern": "scs_ppl"}
    assert calls[2][2] == {"mnemonics": ["SCS_SA3", "XTD10_XGM"]}
    assert calls[3][2] == {"mnemonics": ["BAM1932S"]}
    assert set(calls[2][3]) == set(fields)  # merge_with holds the raw fields
    calls.clear()
    tb.load(
        res.proposal,
        res.run,
        fields,
        extract_digitizers=False,
        extract_xgm=False,
        extract_bam=False,
    )
    assert calls == []


def test_load_extracts_xgm_pulses_on_the_bunch_pattern(simulated):
    """Default load: the XGM SASE3 array aligned on sa3_pId equals the injected
    (uncalibrated) pulse energies, one per SASE3 pulse."""
    res = simulated("xgm_calibration", trains=20, seed=4)
    run, ds = tb.load(res.proposal, res.run, ["SCS_SA3", "nrj"])
    assert ds["SCS_SA3"].dims == ("trainId", "sa3_pId")
    raw = np.float32(res.truth["xgm"]["SCS"]["sa3_fast_raw"])
    np.testing.assert_array_equal(ds["SCS_SA3"].values, raw)
    np.testing.assert_array_equal(ds["sa3_pId"], res.truth["pattern"]["sase3_pulse_ids"][0])
    assert ds.attrs["runNB"] == res.run
