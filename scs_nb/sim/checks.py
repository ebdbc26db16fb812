"""Checks: analyse a simulated run with scs_nb and compare with its truth.

Each check is registered for one scenario, is called as
``f(proposal, run, truth, plan)`` (``plan``: scenario name -> run number, for
checks that need a companion run such as a dark) and returns rows
``(quantity, injected, recovered, tolerance)``; a row is within tolerance when
``|recovered - injected| <= tolerance``. The demo prints them as a table, and
the tests run them too, so the demo's claims are tested claims.
"""
from __future__ import annotations

import numpy as np

from . import core

_CHECKS: list = []


def check(scenario):
    def deco(func):
        _CHECKS.append((scenario, func))
        return func
    return deco


def _fmt(x):
    if isinstance(x, (float, np.floating)):
        return f"{x:.5g}"
    return str(x)


def run_checks(proposal, plan, data_root=None, scenarios=None):
    """Run the checks of the scenarios in ``plan`` (name -> run number)."""
    rows = []
    for scenario, func in sorted(_CHECKS, key=lambda c: plan.get(c[0], 0)):
        if scenario not in plan or (scenarios and scenario not in scenarios):
            continue
        run = plan[scenario]
        truth = core.ground_truth(proposal, run, data_root)
        try:
            results = func(proposal, run, truth, plan)
        except Exception as exc:  # shown in the table, counted as not recovered
            rows.append((scenario, run, func.__name__, "-", f"error: {exc}"[:60], "-", "NO"))
            continue
        for quantity, injected, recovered, tol in results:
            ok = bool(np.all(np.abs(np.asarray(recovered, float)
                                    - np.asarray(injected, float)) <= tol))
            rows.append((scenario, run, quantity, _fmt(injected), _fmt(recovered), _fmt(tol),
                         "yes" if ok else "NO"))
    return rows


# -- checks of the foundation: loading slow and train-resolved data ---------
@check("basic")
def basic_trains(proposal, run, truth, plan=None):
    import scs_nb as tb
    r = tb.open_run(proposal, run)
    _, ds = tb.load(proposal, run, ["nrj"], extract_xgm=False, extract_digitizers=False,
                 extract_bam=False)
    return [("trains", len(truth["train_ids"]), len(r.train_ids), 0),
            ("mono energy (eV)", np.mean(truth["nrj_eV"]), float(ds["nrj"].mean()), 0.01)]


@check("energy_scan")
def energy_steps(proposal, run, truth, plan=None):
    import scs_nb as tb
    nrj = tb.get_array(tb.open_run(proposal, run), "nrj", stepsize=0.5)
    steps = np.unique(nrj.values)
    inj = np.asarray(truth["scan"]["setpoints"])
    return [("energy steps", len(inj), len(steps), 0),
            ("energy scan range (eV)", inj[-1] - inj[0], float(steps[-1] - steps[0]), 0.5)]


@check("delay_scan")
def delay_positions(proposal, run, truth, plan=None):
    import scs_nb as tb
    pos = tb.get_array(tb.open_run(proposal, run), "PP800_DelayLine", stepsize=0.01)
    inj = np.asarray(truth["scan"]["setpoints"])
    return [("delay positions", len(inj), len(np.unique(pos.values)), 0),
            ("delay range (mm)", inj[-1] - inj[0],
             float(pos.max() - pos.min()), 0.01)]


@check("pattern_change")
def missing_and_pattern(proposal, run, truth, plan=None):
    import scs_nb as tb
    n = tb.get_array(tb.open_run(proposal, run), "npulses_sase3")
    inj = np.asarray(truth["pattern"]["npulses_sase3"])
    return [("SASE3 pulses per train (max)", inj.max(), int(n.max()), 0),
            ("SASE3 pulses per train (min)", inj.min(), int(n.min()), 0),
            ("SASE3 pulses (run total)", inj.sum(), int(n.sum()), 0)]


@check("xgm_calibration")
def xgm_flux(proposal, run, truth, plan=None):
    import scs_nb as tb
    flux = tb.get_array(tb.open_run(proposal, run), "SCS_photonFlux")
    inj = np.mean(truth["xgm"]["SCS"]["photonFlux_uJ"])
    return [("SCS XGM mean photon flux (uJ)", inj, float(flux.mean()), 1e-3 * inj)]


# -- pulse-resolved point detectors ------------------------------------------
def _nanmean_of_lists(lists):
    vals = [v for row in lists for v in row]
    return float(np.mean(vals)) if vals else float("nan")


@check("basic")
def xgm_and_bam(proposal, run, truth, plan=None):
    import scs_nb as tb
    r = tb.open_run(proposal, run)
    xgm = tb.get_xgm(r, "SCS_SA3")["SCS_SA3"]
    bam = tb.get_bam(r, "BAM1932S")["BAM1932S"]
    inj_e = _nanmean_of_lists(truth["xgm"]["SCS"]["sa3_energy_uJ"])
    inj_b = _nanmean_of_lists(truth["bam"]["BAM1932S"]["sa3_arrival_fs"]) / 1000
    npulses = int(np.isfinite(xgm.values).sum(axis=1).max())
    return [("SASE3 pulses per train", max(truth["pattern"]["npulses_sase3"]), npulses, 0),
            ("SCS XGM mean SASE3 energy (uJ)", inj_e, float(np.nanmean(xgm)), 1e-4 * inj_e),
            ("BAM1932S mean arrival (ps)", inj_b, float(np.nanmean(bam)), 1e-5)]


@check("xgm_calibration")
def xgm_factor(proposal, run, truth, plan=None):
    import scs_nb as tb
    r = tb.open_run(proposal, run)
    factor = tb.calibrate_xgm(r, tb.get_xgm(r, "SCS_SA3"), xgm="SCS")
    inj = truth["xgm"]["SCS"]["calibration_factor"]
    return [("XGM calibration factor F", inj, float(factor), 1e-3 * inj)]


@check("pump_probe")
def mcp_and_photodiode_peaks(proposal, run, truth, plan=None):
    import scs_nb as tb
    r = tb.open_run(proposal, run)
    rows = []
    mcp = tb.get_tim_peaks(r, "MCP2raw")["MCP2peaks"]
    inj = _nanmean_of_lists(truth["digitizers"]["MCP2"]["peaks"])
    rows.append(("MCP2 mean integrated peak (ADC)", inj, float(np.nanmean(mcp)),
                 0.01 * abs(inj)))
    pd = tb.get_laser_peaks(r)["FastADC5peaks"]
    inj = _nanmean_of_lists(truth["digitizers"]["FastADC5"]["peaks"])
    rows.append(("PPL photodiode mean peak (ADC)", inj, float(np.nanmean(pd)),
                 0.01 * abs(inj)))
    return rows


@check("pattern_change")
def pulse_ids_across_change(proposal, run, truth, plan=None):
    import scs_nb as tb
    pid = tb.get_sase_pId(tb.open_run(proposal, run), "sase3")
    inj = sorted({p for row in truth["pattern"]["sase3_pulse_ids"] for p in row})
    same = int(np.array_equal(np.asarray(pid), inj))
    return [("union of SASE3 pulse ids (count)", len(inj), len(pid), 0),
            ("pulse ids equal injected", 1, same, 0)]


# -- DSSC --------------------------------------------------------------------
@check("dssc_energy_scan")
def dssc_resonance(proposal, run, truth, plan=None):
    """Bin module 0 against the mono energy, dark-subtracted and XGM-normalised."""
    import tempfile
    import scs_nb as tb
    from . import dssc as simdssc
    t = truth["dssc"]
    dark = (plan or {}).get("dssc_dark")
    with tempfile.TemporaryDirectory(prefix="scs_nb_check_") as out:
        tb.bin_dssc(proposal, run, modules=[0], xaxis="nrj", bin_width=1.0, pattern=["x"],
                    dark_run=dark, path=out, backend="sequential")
        got = tb.open_binned_dssc(out)["data"].sel(module=0, pulse="x") \
            .mean(("x", "y")).load()
    exp = np.array([simdssc.expected_module_mean(t, 0, energy_ev=e)
                    for e in got.nrj.values]) * t["gain_adu_per_photon"]
    peak = int(np.argmax(exp))
    return [("DSSC resonance energy (eV)", float(got.nrj[peak]),
             float(got.nrj[int(np.argmax(got.values))]), 0),
            ("DSSC mean signal at resonance (ADU/uJ)", exp[peak], float(got.values[peak]),
             0.02 * exp[peak]),
            ("DSSC mean signal off resonance (ADU/uJ)", exp[0], float(got.values[0]),
             0.02 * exp[0])]


# -- BOZ (issue 13) -------------------------------------------------------------
def _boz_correction(proposal, plan):
    """The I.a correction of the plan's membrane run (determined once, then its JSON)."""
    import os
    from ..routines import boz
    dark, mem = plan["boz_dark"], plan["boz_membranes"]
    fname = boz.pipeline.parameters_file(proposal, dark, mem)
    if os.path.exists(fname):
        return boz.parameters.load(fname)
    return boz.pipeline.determine_correction(proposal, dark, mem, progress=lambda *a: None)[0]


@check("boz_membranes")
def boz_corrections(proposal, run, truth, plan=None):
    """Flat-field plane, LUT and shot-noise limit of the I.a determination."""
    from ..routines import boz
    t = truth["boz"]
    p = _boz_correction(proposal, plan)
    p.dask_load_persistently()
    X, Y = boz.get_roi_pixel_pos(p.rois["n"], p)
    a, b, c, d = t["plane_n"]
    z_true = -(a * X + b * Y + d) / c
    a, b, c, d = p.get_flat_field()
    dz = float(np.max(np.abs(-(a * X + b * Y + d) / c - z_true)))
    F, Ft = p.get_Fnl(), np.asarray(t["lut"])
    sel = np.arange(45, 350)
    B = np.stack([Ft[sel], np.ones(sel.size)], 1)
    resid = F[sel] - B @ np.linalg.lstsq(B, F[sel], rcond=None)[0]
    dev = Ft[sel] - np.polyval(np.polyfit(sel, Ft[sel], 1), sel)
    ff = boz.compute_flat_field_correction(p.rois, p)
    args = (p.arr_dark, p.arr, p.tid, p.rois, p.get_mask())
    ph = boz.process(Ft, *args, None, p.sat_level)
    cor = boz.process(F, *args, ff, p.sat_level)
    ok = ~cor["sat_sat"].values.ravel()
    g = t["gain_ph_per_adu"]
    rows = [("BOZ flat-field n/0 plane: max |z - z_injected|", 0.0, dz, 0.02),
            ("BOZ LUT rms deviation from injected / injected non-linearity", 0.0,
             float(resid.std() / dev.std()), 0.6)]
    for beam in ("n", "p"):
        n_sig = ph[beam].values.ravel()[ok] * g
        n_ref = ph["0"].values.ravel()[ok] * g
        shot = float(np.sqrt(np.mean(1 / n_sig + 1 / n_ref)))
        s = boz.snr(cor[beam].values.ravel()[ok], cor["0"].values.ravel()[ok],
                    ["weighted"])["weighted"]["s"]
        rows.append((f"BOZ {beam}/0 noise / shot noise (<= 1.1)", 1.0, s / shot, 0.1))
    return rows


def _boz_xas(proposal, run, plan, xaxis, width):
    from ..routines.boz.small_data import small_data, xas
    return xas(small_data(_boz_correction(proposal, plan), run), xaxis, width)


@check("boz_energy_scan")
def boz_edge(proposal, run, truth, plan=None):
    from scipy.optimize import curve_fit
    from .boz import transmissions
    t = truth["boz"]
    x = _boz_xas(proposal, run, plan, "nrj", 0.5)
    e = x.nrj.values

    def edge(E, pre, jump, e0, w):
        return pre + jump * (0.5 + np.arctan((E - e0) / w) / np.pi)
    popt, _ = curve_fit(edge, e, x.xas_n.values, p0=[0.2, 0.8, e.mean(), 1.5])
    tn, tp = transmissions(e, np.full(e.size, float(np.mean(t["delay_ps"]))), t["edge"])
    inj = np.log(tn) - np.log(tp)
    return [("BOZ XAS edge position (eV)", t["edge"]["e0_eV"], float(popt[2]), 0.1),
            ("BOZ peak ΔXAS vs energy", float(inj.min()), float(x.dxas.values.min()), 0.006)]


@check("boz_delay_scan")
def boz_pump_probe(proposal, run, truth, plan=None):
    from .boz import transmissions
    t = truth["boz"]
    x = _boz_xas(proposal, run, plan, "delay", 0.25)
    d = x.delay.values
    tn, tp = transmissions(np.full(d.size, float(np.mean(t["energy_eV"]))), d, t["edge"])
    inj = np.log(tn) - np.log(tp)
    return [("BOZ peak ΔXAS vs delay", float(inj.min()), float(x.dxas.values.min()), 0.006),
            ("BOZ ΔXAS before t0", 0.0, float(np.mean(x.dxas.values[d < -0.2])), 0.006)]
