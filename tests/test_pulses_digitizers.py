"""Digitizer peaks: integrated peaks recovered from raw traces (autoFind and
explicit windows) and from on-board integration, within the noise bound of
the injected amplitudes, on the pulse ids of the bunch pattern."""

import matplotlib
import numpy as np
import pytest
from extra_data import RunDirectory

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError

matplotlib.use("Agg")


def _noise_bound(truth_ch, attrs):
    """5 sigma of a window integral: noise * sqrt(W + W^2 / B)."""
    w = attrs["pulseStop"] - attrs["pulseStart"]
    b = attrs["baseStop"] - attrs["baseStart"]
    return 5 * truth_ch["noise_counts"] * np.sqrt(w + w**2 / b)


def _check(da, res, channel, ids_key, dim):
    ch = res.truth["digitizers"][channel]
    tids = np.asarray(res.truth["train_ids"])
    ids = res.truth["pattern"][ids_key]
    assert da.dims == ("trainId", dim)
    bound = _noise_bound(ch, da.attrs)
    rel = []
    for tid, row in zip(da.trainId.values, da.values):
        i = int(np.flatnonzero(tids == tid)[0])
        fin = np.isfinite(row)
        assert np.array_equal(da[dim].values[fin], ids[i])
        err = row[fin] - np.asarray(ch["peaks"][i])
        assert np.all(np.abs(err) < np.maximum(bound, 0.01 * np.abs(ch["peaks"][i])))
        rel.append(err / np.asarray(ch["peaks"][i]))
    rel = np.concatenate(rel)
    assert abs(rel.mean()) < 2e-3  # no bias
    assert np.sqrt(np.mean(rel**2)) < 0.01  # within 1 % rms


@pytest.mark.parametrize("scenario", ["basic", "pattern_change"])
def test_mcp_raw_autofind(simulated, scenario):
    res = simulated(scenario, trains=40)
    run = RunDirectory(str(res.run_dir))
    da = tb.get_peaks(run, None, "MCP2raw", bunchPattern="sase3", keepAllSase=True)
    _check(da, res, "MCP2", "sase3_pulse_ids", "sa3_pId")


def test_mcp_raw_explicit_params_and_apd(simulated):
    res = simulated("pattern_change", trains=40)
    run = RunDirectory(str(res.run_dir))
    s = res.truth["digitizers"]["MCP2"]["onboard_settings"]
    params = {
        "pulseStart": s["initialDelay"],
        "pulseStop": s["initialDelay"] + s["peakSamples"],
        "baseStart": s["baseStart"],
        "baseStop": s["baseStop"],
        "period": 24 * 440,
        "npulses": 20,
    }
    da = tb.get_peaks(run, None, "MCP2raw", autoFind=False, integParams=params, keepAllSase=True)
    _check(da, res, "MCP2", "sase3_pulse_ids", "sa3_pId")
    for ch in ("MCP1", "MCP2", "MCP4"):
        apd = tb.get_peaks(run, None, f"{ch}apd", useRaw=False, keepAllSase=True)
        _check(apd, res, ch, "sase3_pulse_ids", "sa3_pId")


def test_fastadc_ppl_and_fel_photodiodes(simulated):
    res = simulated("pump_probe", trains=40)
    run = RunDirectory(str(res.run_dir))
    ds = tb.get_laser_peaks(run)  # found by its signal description
    _check(ds["FastADC5peaks"], res, "FastADC5", "ppl_pulse_ids", "ol_pId")
    onboard = tb.get_peaks(run, None, "FastADC5peaks", useRaw=False, bunchPattern="scs_ppl")
    _check(onboard, res, "FastADC5", "ppl_pulse_ids", "ol_pId")
    fel = tb.get_digitizer_peaks(run, "FastADC4raw", bunchPattern="sase3")
    _check(fel["FastADC4peaks"], res, "FastADC4", "sase3_pulse_ids", "sa3_pId")
    desc = tb.digitizer_signal_description(run)
    assert desc["FastADC"]["FastADC5"] == "PP laser photodiode"
    assert set(desc["ADQ412"]) == {"MCP1", "MCP2", "MCP3", "MCP4"}


def test_keep_all_sase_and_load_wiring(simulated):
    res = simulated("pattern_change", trains=40)
    npulses = np.asarray(res.truth["pattern"]["npulses_sase3"])
    run, ds = tb.load(res.proposal, res.run, ["MCP2raw", "SCS_SA3"])
    assert "MCP2raw" not in ds and ds["MCP2peaks"].dims == ("trainId", "sa3_pId")
    # trains without SASE3 pulses dropped by default (keepAllSase=False)
    assert ds.sizes["trainId"] == int((npulses > 0).sum())
    _check(ds["MCP2peaks"], res, "MCP2", "sase3_pulse_ids", "sa3_pId")
    kept = tb.get_tim_peaks(run, "MCP3apd", keepAllSase=True)
    assert kept.sizes["trainId"] == len(npulses)
    _, ds2 = tb.load(res.proposal, res.run, ["FastADC4raw"], bunchPattern={"FastADC4raw": "sase3"})
    _check(ds2["FastADC4peaks"], res, "FastADC4", "sase3_pulse_ids", "sa3_pId")


def test_check_peak_params(simulated):
    res = simulated("basic", trains=40)
    run = RunDirectory(str(res.run_dir))
    found = tb.check_peak_params(run, "MCP2raw", ntrains=20, plot=True)
    assert set(found) == {"pulseStart", "pulseStop", "baseStart", "baseStop", "period", "npulses"}
    assert found["period"] == 24 * 440 and found["npulses"] == 20
    onboard = tb.check_peak_params(run, "MCP2apd", plot=True, show_all=True)
    assert (
        onboard["pulseStart"]
        == res.truth["digitizers"]["MCP2"]["onboard_settings"]["initialDelay"]
    )
    avg = tb.get_dig_avg_trace(run, "MCP2apd", ntrains=10)
    assert avg.dims == ("samplesId",) and avg.attrs["ntrains"] == 10


def test_bad_inputs(simulated):
    run = RunDirectory(str(simulated("basic", trains=40).run_dir))
    with pytest.raises(ToolBoxValueError, match="MCP2raw"):  # channel absent: lists
        tb.get_peaks(run, None, "MCP1raw")
    with pytest.raises(ToolBoxValueError, match="not a pulse-resolved digitizer"):
        tb.get_digitizer_peaks(run, "nrj")
    with pytest.raises(ToolBoxValueError, match="trace has"):
        tb.get_peaks(
            run,
            None,
            "MCP2raw",
            autoFind=False,
            integParams={
                "pulseStart": 201000,
                "pulseStop": 201100,
                "baseStart": 200000,
                "baseStop": 200100,
                "period": 10560,
                "npulses": 20,
            },
        )
    with pytest.raises(ToolBoxValueError, match="integParams lacks"):
        tb.get_peaks(run, None, "MCP2raw", autoFind=False, integParams={"pulseStart": 1})
    nobp = run.deselect("SCS_RR_UTC*")
    with pytest.raises(ToolBoxValueError, match="indices"):
        tb.get_peaks(nobp, None, "MCP2apd", useRaw=False)
    da = tb.get_peaks(nobp, None, "MCP2apd", useRaw=False, indices=slice(0, 20))
    assert da.shape == (40, 20)
