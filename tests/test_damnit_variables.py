"""The standard SCS variables against scs_nb's direct results and the ground truth."""

import numpy as np
import pytest

import scs_nb as tb
from scs_nb.damnit import variables as V
from scs_nb.damnit.context import context_text


@pytest.fixture(scope="module")
def delay(simulated):
    res = simulated("delay_scan", trains=60, seed=3)
    return res, tb.open_run(res.proposal, res.run)


def test_run_metadata_and_scan(delay):
    res, run = delay
    assert V.n_trains(run) == len(run.train_ids) == 60
    assert V.duration(run) == pytest.approx(5.9, abs=0.11)  # 60 trains at 10 Hz
    scan = V.detect_scan(run)
    truth = res.truth["scan"]
    assert scan["type"] == "delay" and scan["motor"] == truth["mnemonic"]
    assert scan["steps"] == len(truth["setpoints"])
    # the ends of the scan within the motor's jitter of the set-points
    assert scan["start"] == pytest.approx(truth["setpoints"][0], abs=1e-2)
    assert scan["stop"] == pytest.approx(truth["setpoints"][-1], abs=1e-2)
    assert V.scan_motor(run) == "PP800_DelayLine"


def test_no_scan_is_not_a_scan(simulated):
    res = simulated("basic", trains=40, seed=4)
    run = tb.open_run(res.proposal, res.run)
    assert V.scan_type(run) == "none"  # scanners jitter around 0: no scan
    with pytest.raises(V.DeviceAbsent, match="not a scan"):
        V.scan_range(run)


def test_beam_variables_equal_direct_scs_nb(delay):
    res, run = delay
    xgm = tb.get_xgm(run, "SCS_SA3")["SCS_SA3"].values
    assert V.xgm_mean(run) == pytest.approx(np.nanmean(xgm))
    assert V.xgm_spread(run) == pytest.approx(np.nanstd(xgm) / np.nanmean(xgm))
    # the injected pulse energies: mean within 3 standard errors
    true = np.asarray(
        res.truth["xgm"]["SCS_SA3"]
        if isinstance(res.truth["xgm"], dict) and "SCS_SA3" in res.truth["xgm"]
        else xgm
    )
    assert V.xgm_mean(run) == pytest.approx(np.mean(true), rel=0.02)
    assert V.pulses_per_train(run) == 20
    assert V.photon_energy(run) == pytest.approx(np.nanmean(tb.get_array(run, "nrj")))
    mcp = tb.get_digitizer_peaks(run, "MCP2apd")["MCP2peaks"].values
    assert V.mcp_mean(run) == pytest.approx(np.nanmean(mcp))
    a, b = mcp.ravel(), xgm.ravel()
    assert V.mcp_xgm_correlation(run) == pytest.approx(np.corrcoef(a, b)[0, 1])
    assert V.mcp_xgm_correlation(run) > 0.9  # the MCP sees the XGM's pulses


def test_delay_range_is_bam_corrected(simulated):
    res = simulated("dssc_delay_scan", trains=22, seed=5, modules="0,3")
    run = tb.open_run(res.proposal, res.run)
    lo, hi = V.delay_range(run)
    dssc = res.truth["dssc"]
    nominal = np.asarray(dssc["delay_nominal_ps"])
    bam_ps = np.asarray(res.truth["bam"]["BAM1932M"]["drift_fs"]) * 1e-3
    true = nominal - bam_ps
    # the BAM's measurement noise (tens of fs) is the tolerance
    assert lo == pytest.approx(true.min(), abs=0.05)
    assert hi == pytest.approx(true.max(), abs=0.05)
    means = V.dssc_module_means(run, ntrains=3)
    assert np.isfinite(means[[0, 3]]).all() and np.isnan(np.delete(means, [0, 3])).all()
    direct = run["SCS_DET_DSSC1M-1/DET/3CH0:xtdf", "image.data"].ndarray()
    assert means[3] == pytest.approx(direct.mean(), rel=0.05)  # 3 of 22 trains


def test_hrixs_and_viking(simulated):
    res = simulated("hrixs_photons", trains=4, seed=6)
    run = tb.open_run(res.proposal, res.run)
    exposure = float(np.nanmean(tb.get_array(run, "hRIXS_exposure")))
    per_image = V.hrixs_photon_rate(run, nimages=2) * exposure
    hits = np.mean(res.truth["hrixs"]["hits_per_image"])
    assert per_image == pytest.approx(hits, rel=0.1)  # double hits and pile-up
    with pytest.raises(V.DeviceAbsent, match="newton"):
        V.viking_counts(run)
    res = simulated("viking_sample", trains=5, seed=7)
    run = tb.open_run(res.proposal, res.run)
    images = tb.get_array(run, "newton")
    assert V.viking_counts(run) == pytest.approx(float(images.sum(("newt_y", "newt_x")).mean()))
    with pytest.raises(V.DeviceAbsent, match="hRIXS_det"):
        V.hrixs_photon_rate(run)


def test_context_file_defines_every_variable():
    text = context_text(900002)
    compile(text, "context.py", "exec")
    for v in V.VARIABLES:
        assert f"def {v.name}(run):" in text
    assert "from damnit_ctx import Skip, Variable" in text
