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


# -- DSSC azimuthal integration, geometry, fine delay (issue 12) ---------------
@check("dssc_delay_scan")
def dssc_ring_positions(proposal, run, truth, plan=None):
    """Exact azimuthal integration of the mean image of module 0: the ring q."""
    import scs_nb as tb
    from ..detectors.dssc.geometry import mean_module_images
    t = truth["dssc"]
    mod = [m for m in t["modules"] if m in (0, 7, 8, 15)][:1] or t["modules"][:1]
    dark = (plan or {}).get("dssc_dark")
    img = mean_module_images(proposal, run, mod, dark_run=dark)
    ds = tb.integrate_azimuthal(img[None], None, npt=300, unit="q_nm^-1",
                                distance=t["distance_m"], energy=t["energies_eV"][0],
                                radial_range=(0.05, 1.0), modules=mod).isel(frame=0)
    dq = float(ds.q[1] - ds.q[0])
    bg = float(ds.I.sel(q=slice(0.53, 0.58)).mean())
    rows = []
    for ring in t["rings"]:
        sel = (ds.I - bg).sel(q=slice(ring["q_nm"] - 2 * ring["sigma_q_nm"],
                                      ring["q_nm"] + 2 * ring["sigma_q_nm"]))
        qc = float((sel.q * sel).sum() / sel.sum())
        rows.append((f"DSSC ring q (nm^-1), exact azimuthal", ring["q_nm"], qc, dq))
    return rows


@check("dssc_geometry")
def dssc_quadrant_offsets(proposal, run, truth, plan=None):
    """Quadrant offsets fitted from the nominal geometry (no dark: fitted background)."""
    from ..detectors.dssc import geometry as G
    t = truth["dssc"]
    img = G.mean_module_images(proposal, run, t["modules"])
    res = G.refine_quadrants(img, None, q0=t["rings"][0]["q_nm"], distance=t["distance_m"],
                             energy=t["energies_eV"][0], modules=t["modules"])
    inj = np.asarray(t["quad_offsets_mm"])
    rows = []
    for k in range(4):
        if np.isfinite(res["errors_mm"][k, 0]):
            for j, axis in enumerate("xy"):
                rows.append((f"DSSC quadrant {k + 1} offset {axis} (mm)", inj[k, j],
                             float(res["offsets_mm"][k, j]), 0.5 * (0.236, 0.204)[j]))
    return rows


@check("dssc_fine_delay")
def dssc_fine_delay_setting(proposal, run, truth, plan=None):
    import scs_nb as tb
    fd = tb.get_array(tb.open_run(proposal, run), "DSSC_fineDelay")
    return [("DSSC fine delay setting", truth["dssc"]["fine_delay"], float(fd.mean()), 0)]
