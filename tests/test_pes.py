"""PES: time-of-flight spectra cut from the raw traces put every injected
peak (per channel, i.e. per retardation voltage) within one sample; the
spectrometer settings are read back; average traces are saved atomically."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

import scs_nb as tb


@pytest.fixture(scope="module")
def run(simulated):
    return simulated("pes")


def _gauss(x, a, p, s, c):
    return a * np.exp(-0.5 * ((x - p) / s) ** 2) + c


@pytest.mark.parametrize("channel", ["1A", "2B", "3C", "4D"])
def test_peak_positions_within_one_sample(run, channel):
    t = run.truth["pes"]
    da = tb.get_pes_tof(
        run.proposal,
        run.run,
        f"PES_{channel}raw",
        start=t["start"],
        origin=t["origin"],
        subtract_baseline=True,
        baseStart=t["start"] + 400,
        baseWidth=30,
    )
    assert da.dims == ("trainId", "sa3_pId", "sampleId") and da.sizes["sampleId"] == t["width"]
    assert da.sa3_pId.values.tolist() == run.truth["pattern"]["sase3_pulse_ids"][0]
    avg = -da.mean(("trainId", "sa3_pId")).values
    x = np.arange(len(avg))
    peaks = t["peaks"][channel]
    assert len(peaks["position"]) >= 3  # prompt + two lines above the retardation
    for p, s, a in zip(peaks["position"], peaks["sigma"], peaks["amplitude"]):
        w = np.abs(x - p) < 5 * s + 3
        popt, _ = curve_fit(_gauss, x[w], avg[w], p0=[a, round(p), s, 0])
        assert abs(popt[1] - p) < 1.0, (channel, p, popt)
        assert abs(popt[2] - s) < 0.2 * s + 0.3
    # time axis: 0 at the prompt, sampling 1.986 GS/s
    assert float(da.time_ns.sel(sampleId=t["origin"])) == 0.0
    rate = 1 / float(da.time_ns[1] - da.time_ns[0])
    assert rate == pytest.approx(t["sampling_rate_GHz"], rel=1e-9)


def test_retardation_moves_the_line(run):
    """The Ne 1s line arrives later on tubes with a higher retardation
    voltage: E_kin - RV = m/2 (L/t)^2."""
    t = run.truth["pes"]
    params = tb.get_pes_params(tb.open_run(run.proposal, run.run))
    assert params["gas"] == "Ne" and params["binding_energy"] == pytest.approx(870.2)
    assert params["ret_voltage"] == t["rv"]
    pos = {}
    for ch in ("1A", "1B", "1C", "1D"):
        da = tb.get_pes_tof(
            run.proposal, run.run, f"PES_{ch}raw", start=t["start"], origin=t["origin"]
        )
        avg = -da.mean(("trainId", "sa3_pId"))
        lo = t["peaks"][ch]["position"][1] - 10
        seg = avg.sel(sampleId=slice(int(lo), int(lo) + 20))
        pos[ch] = float((seg.time_ns * seg).sum() / seg.sum())
    ek = np.array([t["hv_eV"] - t["lines"]["1s"][0] - t["rv"][ch] for ch in pos])
    me = 510998.95
    L = 2.99792458e8 * np.sqrt(2 * ek / me) * np.array(list(pos.values())) * 1e-9
    assert np.allclose(L, t["flight_length_m"], rtol=0.01)
    assert (
        tb.get_pes_params(tb.open_run(run.proposal, run.run), "PES_1Craw")["ret_voltage"]
        == t["rv"]["1C"]
    )


def test_merge_and_errors(run):
    t = run.truth["pes"]
    r = tb.open_run(run.proposal, run.run)
    ds = tb.get_xgm(r, "SCS_SA3")
    merged = tb.get_pes_tof(run.proposal, run.run, "PES_2Araw", start=t["start"], merge_with=ds)
    assert {"SCS_SA3", "PES_2Atof"} <= set(merged.data_vars)
    with pytest.raises(tb.ToolBoxError, match="not a PES channel"):
        tb.get_pes_tof(run.proposal, run.run, "SCS_SA3")
    with pytest.raises(tb.ToolBoxError, match="need .* samples"):
        tb.get_pes_tof(run.proposal, run.run, "PES_2Araw", start=t["trace_length"])


def test_save_and_load_average_traces(run):
    path = tb.save_pes_avg_traces(run.proposal, run.run, ["2A", "PES_3Braw"], overwrite=True)
    assert path.endswith(f"r{run.run:04d}/r{run.run:04d}-pes-data.h5")
    assert "/usr/processed_runs/" in path
    with pytest.raises(tb.ToolBoxError, match="exists"):
        tb.save_pes_avg_traces(run.proposal, run.run, ["2A"])
    ds = tb.load_pes_avg_traces(run.proposal, run.run)
    assert sorted(ds.data_vars) == ["PES_2Araw", "PES_3Braw"]
    t = run.truth["pes"]
    # the average trace holds the first spectrum's 1s line where it was injected
    p = t["peaks"]["2A"]["position"][1] + t["start"]
    assert int(np.argmin(ds["PES_2Araw"].values[t["start"] : t["start"] + t["width"]])) + t[
        "start"
    ] == pytest.approx(p, abs=1.0)
    one = tb.load_pes_avg_traces(run.proposal, run.run, "3B")
    assert list(one.data_vars) == ["PES_3Braw"]
    with pytest.raises(tb.ToolBoxError, match="not saved"):
        tb.load_pes_avg_traces(run.proposal, run.run, "4D")


def test_pulse_pattern_change(simulated):
    """Half-way through the run the SASE3 pattern changes from 10 pulses in
    consecutive slots to 5 pulses every other slot: each spectrum sits on its
    pulse id, and pulses a train did not have are NaN."""
    res = simulated("pes", pattern_change=True, trains=20)
    t = res.truth["pes"]
    da = tb.get_pes_tof(res.proposal, res.run, "PES_1Araw", start=t["start"], origin=t["origin"])
    ids = res.truth["pattern"]["sase3_pulse_ids"]
    assert da.sa3_pId.values.tolist() == sorted({p for row in ids for p in row})
    p1s = int(round(t["peaks"]["1A"]["position"][1]))
    for tid, row in zip(res.truth["train_ids"], ids):
        spec = da.sel(trainId=tid)
        present = np.isfinite(spec.values).all(axis=1)
        assert spec.sa3_pId.values[present].tolist() == row
        assert not np.isfinite(spec.values[~present]).any()
        # the 1s line is in every present pulse's spectrum (negative-going)
        assert (spec.sel(sa3_pId=row, sampleId=p1s) < -100).all()
