"""Checks: analyse a simulated run with scs_nb and compare with its truth.

Each check is registered for one scenario, is called as
``f(proposal, run, truth, plan)`` (``plan``: scenario name -> run number, for
checks that need a companion run such as a dark) and returns rows
``(quantity, injected, recovered, tolerance)``; a row is within tolerance when
``|recovered - injected| <= tolerance``. The demo prints them as a table, and
the tests run them too, so the demo's claims are tested claims.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from scipy.optimize import curve_fit
from scipy.spatial import cKDTree
from scipy.special import ndtr

from ..detectors.dssc import bin_dssc, open_binned_dssc
from ..detectors.dssc import geometry as G
from ..detectors.dssc.azimuthal import integrate_azimuthal
from ..detectors.dssc.geometry import mean_module_images
from ..detectors.fccd import FastCCD
from ..detectors.hrixs import MaranaX
from ..detectors.pes import get_pes_tof
from ..detectors.viking import Viking
from ..load import get_array, load, open_run
from ..pulses import calibrate_xgm, get_bam, get_laser_peaks, get_sase_pId, get_tim_peaks, get_xgm
from ..routines import boz
from ..routines.boz.small_data import small_data
from ..routines.boz.small_data import xas as boz_xas
from ..routines.knife_edge import knife_edge
from ..routines.laser import positionToDelay
from ..routines.reflectivity import reflectivity
from ..routines.xas import xas as xas_spectrum
from ..routines.xas import xasxmcd
from . import core
from . import dssc as simdssc
from . import fccd as simfccd
from . import hrixs as sh
from . import viking as sv
from .boz import transmissions

_CHECKS: list = []


def check(scenario):
    """Register the decorated function as a check of the runs of ``scenario``.

    Parameters
    ----------
    scenario : str
        The scenario whose runs the check analyses.

    Returns
    -------
    callable
        The decorator; it returns the function unchanged.
    """

    def deco(func):
        _CHECKS.append((scenario, func))
        return func

    return deco


def _fmt(x):
    if isinstance(x, (float, np.floating)):
        return f"{x:.5g}"
    return str(x)


def run_checks(proposal, plan, data_root=None, scenarios=None):
    """Run the checks of the scenarios in ``plan``.

    Parameters
    ----------
    proposal : int
        The proposal of the simulated runs.
    plan : dict
        Scenario name -> run number.
    data_root : str or pathlib.Path, optional
        Where the ground truth lies; default the simulator's data root.
    scenarios : collection of str, optional
        Only the checks of these scenarios.

    Returns
    -------
    list of tuple
        One row per quantity: ``(scenario, run, quantity, injected, recovered,
        tolerance, ok)`` as strings where formatted, ``ok`` ``'yes'`` or
        ``'NO'``. A check that raises gives one row with the error.
    """
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
            ok = bool(
                np.all(np.abs(np.asarray(recovered, float) - np.asarray(injected, float)) <= tol)
            )
            rows.append(
                (
                    scenario,
                    run,
                    quantity,
                    _fmt(injected),
                    _fmt(recovered),
                    _fmt(tol),
                    "yes" if ok else "NO",
                )
            )
    return rows


# -- checks of the foundation: loading slow and train-resolved data ---------
@check("basic")
def basic_trains(proposal, run, truth, plan=None):
    """Number of trains and mean mono energy (eV) of the loaded run.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    r = open_run(proposal, run)
    _, ds = load(
        proposal, run, ["nrj"], extract_xgm=False, extract_digitizers=False, extract_bam=False
    )
    return [
        ("trains", len(truth["train_ids"]), len(r.train_ids), 0),
        ("mono energy (eV)", np.mean(truth["nrj_eV"]), float(ds["nrj"].mean()), 0.01),
    ]


@check("energy_scan")
def energy_steps(proposal, run, truth, plan=None):
    """Number and range (eV) of the mono energy steps.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    nrj = get_array(open_run(proposal, run), "nrj", stepsize=0.5)
    steps = np.unique(nrj.values)
    inj = np.asarray(truth["scan"]["setpoints"])
    return [
        ("energy steps", len(inj), len(steps), 0),
        ("energy scan range (eV)", inj[-1] - inj[0], float(steps[-1] - steps[0]), 0.5),
    ]


@check("delay_scan")
def delay_positions(proposal, run, truth, plan=None):
    """Number and range (mm) of the delay-line positions.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    pos = get_array(open_run(proposal, run), "PP800_DelayLine", stepsize=0.01)
    inj = np.asarray(truth["scan"]["setpoints"])
    return [
        ("delay positions", len(inj), len(np.unique(pos.values)), 0),
        ("delay range (mm)", inj[-1] - inj[0], float(pos.max() - pos.min()), 0.01),
    ]


@check("pattern_change")
def missing_and_pattern(proposal, run, truth, plan=None):
    """SASE3 pulses per train (max, min, run total) from the bunch pattern.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    n = get_array(open_run(proposal, run), "npulses_sase3")
    inj = np.asarray(truth["pattern"]["npulses_sase3"])
    return [
        ("SASE3 pulses per train (max)", inj.max(), int(n.max()), 0),
        ("SASE3 pulses per train (min)", inj.min(), int(n.min()), 0),
        ("SASE3 pulses (run total)", inj.sum(), int(n.sum()), 0),
    ]


@check("xgm_calibration")
def xgm_flux(proposal, run, truth, plan=None):
    """Mean SCS XGM slow photon flux (µJ).

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    flux = get_array(open_run(proposal, run), "SCS_photonFlux")
    inj = np.mean(truth["xgm"]["SCS"]["photonFlux_uJ"])
    return [("SCS XGM mean photon flux (uJ)", inj, float(flux.mean()), 1e-3 * inj)]


# -- pulse-resolved point detectors ------------------------------------------
def _nanmean_of_lists(lists):
    vals = [v for row in lists for v in row]
    return float(np.mean(vals)) if vals else float("nan")


@check("basic")
def xgm_and_bam(proposal, run, truth, plan=None):
    """SASE3 pulses per train, mean SCS XGM pulse energy (µJ), mean BAM arrival (ps).

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    r = open_run(proposal, run)
    xgm = get_xgm(r, "SCS_SA3")["SCS_SA3"]
    bam = get_bam(r, "BAM1932S")["BAM1932S"]
    inj_e = _nanmean_of_lists(truth["xgm"]["SCS"]["sa3_energy_uJ"])
    inj_b = _nanmean_of_lists(truth["bam"]["BAM1932S"]["sa3_arrival_fs"]) / 1000
    npulses = int(np.isfinite(xgm.values).sum(axis=1).max())
    return [
        ("SASE3 pulses per train", max(truth["pattern"]["npulses_sase3"]), npulses, 0),
        ("SCS XGM mean SASE3 energy (uJ)", inj_e, float(np.nanmean(xgm)), 1e-4 * inj_e),
        ("BAM1932S mean arrival (ps)", inj_b, float(np.nanmean(bam)), 1e-5),
    ]


@check("xgm_calibration")
def xgm_factor(proposal, run, truth, plan=None):
    """The XGM calibration factor F recovered by ``calibrate_xgm``.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    r = open_run(proposal, run)
    factor = calibrate_xgm(r, get_xgm(r, "SCS_SA3"), xgm="SCS")
    inj = truth["xgm"]["SCS"]["calibration_factor"]
    return [("XGM calibration factor F", inj, float(factor), 1e-3 * inj)]


@check("pump_probe")
def mcp_and_photodiode_peaks(proposal, run, truth, plan=None):
    """Mean integrated MCP2 and PP-laser photodiode peaks (ADC units).

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    r = open_run(proposal, run)
    rows = []
    mcp = get_tim_peaks(r, "MCP2raw")["MCP2peaks"]
    inj = _nanmean_of_lists(truth["digitizers"]["MCP2"]["peaks"])
    rows.append(("MCP2 mean integrated peak (ADC)", inj, float(np.nanmean(mcp)), 0.01 * abs(inj)))
    pd = get_laser_peaks(r)["FastADC5peaks"]
    inj = _nanmean_of_lists(truth["digitizers"]["FastADC5"]["peaks"])
    rows.append(("PPL photodiode mean peak (ADC)", inj, float(np.nanmean(pd)), 0.01 * abs(inj)))
    return rows


@check("pattern_change")
def pulse_ids_across_change(proposal, run, truth, plan=None):
    """The union of SASE3 pulse ids across the pattern change.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    pid = get_sase_pId(open_run(proposal, run), "sase3")
    inj = sorted({p for row in truth["pattern"]["sase3_pulse_ids"] for p in row})
    same = int(np.array_equal(np.asarray(pid), inj))
    return [
        ("union of SASE3 pulse ids (count)", len(inj), len(pid), 0),
        ("pulse ids equal injected", 1, same, 0),
    ]


# -- DSSC --------------------------------------------------------------------
@check("dssc_energy_scan")
def dssc_resonance(proposal, run, truth, plan=None):
    """Bin module 0 against the mono energy, dark-subtracted and XGM-normalised.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    t = truth["dssc"]
    dark = (plan or {}).get("dssc_dark")
    with tempfile.TemporaryDirectory(prefix="scs_nb_check_") as out:
        bin_dssc(
            proposal,
            run,
            modules=[0],
            xaxis="nrj",
            bin_width=1.0,
            pattern=["x"],
            dark_run=dark,
            path=out,
            backend="sequential",
        )
        got = open_binned_dssc(out)["data"].sel(module=0, pulse="x").mean(("x", "y")).load()
    exp = (
        np.array([simdssc.expected_module_mean(t, 0, energy_ev=e) for e in got.nrj.values])
        * t["gain_adu_per_photon"]
    )
    peak = int(np.argmax(exp))
    return [
        (
            "DSSC resonance energy (eV)",
            float(got.nrj[peak]),
            float(got.nrj[int(np.argmax(got.values))]),
            0,
        ),
        (
            "DSSC mean signal at resonance (ADU/uJ)",
            exp[peak],
            float(got.values[peak]),
            0.02 * exp[peak],
        ),
        ("DSSC mean signal off resonance (ADU/uJ)", exp[0], float(got.values[0]), 0.02 * exp[0]),
    ]


# -- spectrometers: hRIXS (MaranaX) and Viking -----------------------------------
def _hrixs(proposal, plan):
    h = MaranaX(proposal)
    if "hrixs_dark" in plan:
        h.load_dark(plan["hrixs_dark"])
    h.Y_RANGE = slice(*sh.Y_RANGE)
    return h


@check("hrixs_photons")
def hrixs_photons(proposal, run, truth, plan):
    """hRIXS centroiding: rms position error (px) and double-hit classification.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    h = _hrixs(proposal, plan)
    data = h.from_run(run)
    errs, right = [], []
    for i in range(data.sizes["trainId"]):
        s, d = h.centroid_two(data["MaranaX"][i].values, float(data["nrj"][i]))
        found = np.concatenate([s, d])
        dbl = np.r_[np.zeros(len(s), bool), np.ones(len(d), bool)]
        t = truth["hrixs"]["hits"][i]
        T = np.stack([t["x"], t["y"]], axis=1)
        nn = cKDTree(T).query(T, k=2)[0][:, 1]
        iso = nn > 4
        dist, j = cKDTree(found).query(T[iso])
        ok = dist < 1.5
        errs.append(found[j[ok]] - T[iso][ok])
        right.append(dbl[j[ok]] == (np.asarray(t["n"])[iso][ok] == 2))
    e = np.concatenate(errs)
    return [
        ("hRIXS isolated photons: rms error (px)", 0.0, float(np.sqrt((e**2).mean())), 0.1),
        ("hRIXS double hits classified right", 1.0, float(np.concatenate(right).mean()), 0.05),
    ]


@check("hrixs_curvature")
def hrixs_curvature(proposal, run, truth, plan):
    """hRIXS curvature coefficients, within 3 fit errors.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    h = _hrixs(proposal, plan)
    h.find_curvature(run, plot=False)
    f = h.curvature_fit
    return [
        ("hRIXS CURVE_A", truth["hrixs"]["CURVE_A"], f["CURVE_A"], 3 * f["CURVE_A_err"]),
        ("hRIXS CURVE_B", truth["hrixs"]["CURVE_B"], f["CURVE_B"], 3 * f["CURVE_B_err"]),
    ]


@check("hrixs_energy_scan")
def hrixs_energy_scan(proposal, run, truth, plan):
    """hRIXS energy calibration: slope (eV/px) and intercept (eV), within 3 fit errors.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    h = _hrixs(proposal, plan)
    if "hrixs_curvature" in plan:
        h.find_curvature(plan["hrixs_curvature"], plot=False)
    h.find_energy_calibration(run)
    f = h.energy_fit
    return [
        (
            "hRIXS ENERGY_SLOPE (eV/px)",
            truth["hrixs"]["ENERGY_SLOPE"],
            f["ENERGY_SLOPE"],
            3 * f["ENERGY_SLOPE_err"],
        ),
        (
            "hRIXS ENERGY_INTERCEPT (eV)",
            truth["hrixs"]["ENERGY_INTERCEPT"],
            f["ENERGY_INTERCEPT"],
            3 * f["ENERGY_INTERCEPT_err"],
        ),
    ]


@check("hrixs_delay")
def hrixs_delay(proposal, run, truth, plan):
    """hRIXS pumped/unpumped ratio in the d-d window, within 3 Poisson errors.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    h = _hrixs(proposal, plan)
    h.CURVE_A, h.CURVE_B = truth["hrixs"]["CURVE_A"], truth["hrixs"]["CURVE_B"]
    h.ENERGY_SLOPE = truth["hrixs"]["ENERGY_SLOPE"]
    h.ENERGY_INTERCEPT = truth["hrixs"]["ENERGY_INTERCEPT"]
    agg = h.aggregate(h.centroid(h.from_run(run)), "hRIXS_delay")
    lo, hi = sh.REFERENCE_EV - 2.0, sh.REFERENCE_EV - 1.0
    win = (agg["energy"] >= lo) & (agg["energy"] < hi)
    pumped = agg["hRIXS_delay"] > 0
    c = agg["spectrum"].where(win).sum("energy")
    n_p, n_u = float(c[pumped].sum()), float(c[~pumped].sum())
    ratio = (n_p / float(agg["hRIXS_norm"][pumped].sum())) / (
        n_u / float(agg["hRIXS_norm"][~pumped].sum())
    )
    frac = [
        w * (ndtr((hi - sh.REFERENCE_EV + loss) / wid) - ndtr((lo - sh.REFERENCE_EV + loss) / wid))
        for loss, wid, w in sh.SPECTRUM
    ]
    expected = (frac[0] + truth["delay"]["bleach"] * frac[1] + frac[2]) / sum(frac)
    return [
        (
            "hRIXS d-d window pumped/unpumped",
            expected,
            ratio,
            3 * ratio * np.sqrt(1 / n_p + 1 / n_u),
        )
    ]


@check("viking_reference")
def viking_gain(proposal, run, truth, plan):
    """Viking (Newton) photoelectrons per count.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    v = Viking(proposal)
    r = open_run(proposal, run)
    return [
        ("Viking photoelectrons per count", truth["viking"]["e_per_counts"], v.e_per_counts(r), 0)
    ]


@check("viking_sample")
def viking_xas(proposal, run, truth, plan):
    """Viking XAS of the sample vs the injected absorption, per 32 px bin.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    if "viking_reference" not in plan:
        return []
    v = Viking(proposal)
    v.Y_RANGE = slice(*sv.Y_RANGE)
    if "viking_dark" in plan:
        v.load_dark(plan["viking_dark"])
    v.ENERGY_CALIB = list(truth["viking"]["ENERGY_CALIB"])
    v.BL_SIGNAL_RANGE = list(truth["viking"]["bl_signal_range"])
    s = v.removePolyBaseline(v.integrate(v.from_run(run)))
    r = v.removePolyBaseline(v.integrate(v.from_run(plan["viking_reference"])))
    agree = sv.xas_agreement(v, s, r, thickness=truth["viking"]["thickness"], bin_px=32)
    z = np.abs(agree["z"])
    # per 32 px bin a Student t of n-1 trains' degrees of freedom: |z| < 4 but for 1e-3
    return [
        ("Viking XAS: bins (32 px) within 3 sigma", 1.0, agree["within"], 0.1),
        ("Viking XAS: largest |z| of the bins", 0.0, float(z.max()), 4.0),
    ]


# -- how-tos: knife-edge, reflectivity, XAS/XMCD, PES, FastCCD -----------------
@check("knife_edge")
def knife_edge_radius(proposal, run, truth, plan=None):
    """Beam radius and centre of the XGM-normalised photodiode scan.

    The tolerance is 4 standard errors of the fit.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    t = truth["knife_edge"]
    _, ds = load(proposal, run, [t["axis"], t["signal"], "SCS_SA3"])
    ds["norm"] = ds[t["signal"]] / ds["SCS_SA3"]
    popt, pcov = knife_edge(ds, axisKey=t["axis"], signalKey="norm", full=True)
    err = np.sqrt(np.diag(pcov))
    return [
        ("knife-edge beam radius w0 (um)", t["w0_mm"] * 1e3, abs(popt[1]) * 1e3, 4 * err[1] * 1e3),
        ("knife-edge beam centre x0 (um)", t["x0_mm"] * 1e3, popt[0] * 1e3, 4 * err[0] * 1e3),
    ]


@check("reflectivity")
def reflectivity_fit(proposal, run, truth, plan=None):
    """Double-exponential fit of the BAM-corrected Delta R.

    Time zero, decay constants (ps) and rise within 4 fit errors; the rise
    without the BAM correction (broadened by the FEL arrival jitter) for
    comparison.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    t = truth["reflectivity"]
    _, ds = load(
        proposal, run, [t["Io"], t["Ir"], "PP800_DelayLine", t["bam"]], bunchPattern="scs_ppl"
    )
    ds["delay_bam"] = positionToDelay(ds["PP800_DelayLine"], 0, False) - ds[t["bam"]]
    r = reflectivity(
        ds,
        Iokey=t["Io"],
        Irkey=t["Ir"],
        delaykey="delay_bam",
        binWidth=0.03,
        positionToDelay=False,
        units="ps",
        plot=False,
    )
    p, e = r.attrs["fit_double_exp"], r.attrs["fit_double_exp_err"]
    raw = reflectivity(
        ds, Iokey=t["Io"], Irkey=t["Ir"], binWidth=0.01, origin=0.0, plot=False
    ).attrs["fit_double_exp"]["sigma"]
    return [
        ("reflectivity time zero t0 (ps)", t["t0_ps"], p["t0"], 4 * e["t0"]),
        ("reflectivity fast decay tau1 (ps)", t["tau1_ps"], p["tau1"], 4 * e["tau1"]),
        ("reflectivity slow decay tau2 (ps)", t["tau2_ps"], p["tau2"], 4 * e["tau2"]),
        ("reflectivity rise, BAM corrected (ps)", t["sigma_ps"], p["sigma"], 4 * e["sigma"]),
        (
            "BAM correction sharpens the edge (1 = yes)",
            1,
            int(abs(p["sigma"] - t["sigma_ps"]) < abs(raw - t["sigma_ps"])),
            0,
        ),
    ]


@check("xas_xmcd")
def xas_xmcd_amplitudes(proposal, run, truth, plan=None):
    """Edge jump of the XAS (transmission) and XMCD amplitude at the edge.

    Both within 4 standard errors.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    t = truth["xas"]
    _, ds = load(proposal, run, ["SCS_SA3", "MCP3apd", "nrj", "magnet"])
    e = np.asarray(t["setpoints_eV"])
    half = 0.5 * np.min(np.diff(e))
    bins = np.concatenate([e - half, [e[-1] + half]])
    P = xas_spectrum(ds.where(ds.magnet > 0, drop=True), bins=bins)
    N = xas_spectrum(ds.where(ds.magnet < 0, drop=True), bins=bins)
    xas, xmcd = xasxmcd(P, N)
    k = int(np.argmin(np.abs(e - t["E0_eV"])))
    mu_avg = 0.5 * (np.asarray(t["mu_plus"]) + np.asarray(t["mu_minus"]))
    jump = xas["muA"][-1] - xas["muA"][0]
    jump_err = np.hypot(xas["sterrA"][-1], xas["sterrA"][0])
    xmcd_inj = t["mu_plus"][k] - t["mu_minus"][k]
    return [
        ("XAS edge jump (last - first step)", mu_avg[-1] - mu_avg[0], jump, 4 * jump_err),
        ("XMCD amplitude at the edge", xmcd_inj, xmcd["muA"][k], 4 * xmcd["sterrA"][k]),
    ]


@check("pes")
def pes_peaks(proposal, run, truth, plan=None):
    """Centroid of each injected PES peak in the averaged time-of-flight spectrum.

    Train- and pulse-averaged spectra of two tubes (retardation 0 V and
    30 V); each centroid within one sample.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    t = truth["pes"]
    rows = []
    for ch in ("1A", "4D"):
        da = get_pes_tof(proposal, run, f"PES_{ch}raw", start=t["start"], origin=t["origin"])
        avg = -da.mean(("trainId", "sa3_pId")).values
        x = np.arange(len(avg))
        lines = [n for n, (eb, _) in t["lines"].items() if t["hv_eV"] - eb - t["rv"][ch] > 0.5]
        for line, p, s in zip(lines, t["peaks"][ch]["position"][1:], t["peaks"][ch]["sigma"][1:]):
            w = np.abs(x - p) < 4 * s
            rows.append(
                (
                    f"PES {ch} (RV {t['rv'][ch]:.0f} V) {line} peak (sample)",
                    p,
                    float((avg[w] * x[w]).sum() / avg[w].sum()),
                    1.0,
                )
            )
    return rows


@check("fastccd")
def fastccd_ring(proposal, run, truth, plan=None):
    """FastCCD pumped/unpumped ring ratio per delay step, and the ring's q.

    Binned with the DSSC engine and the gain map; the ratio's largest
    deviation over the steps, q in nm^-1.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    t = truth["fccd"]
    f = FastCCD(proposal, distance=t["distance_m"])
    with tempfile.TemporaryDirectory(prefix="scs_nb_check_") as out:
        f.open_run(run, t0=t["t0_mm"])
        f.define_scan("PP800_DelayLine", 0.01)
        f.binning()
        f.save(out)
        np.save(f"{out}/gain.npy", simfccd.gain_map(t["gain_seed"], t["gain_bottom"]))
        f.load_gain(f"{out}/gain.npy")
        f.load_binned(run, save_folder=out)
    # without a dark run: the ring contrast over the local background
    az = f.azimuthal_int(t["wavelength_nm"], center=t["centre_px"], dr=2)
    q = az["delta_q (1/nm)"].values
    near = np.abs(q - t["q0_per_nm"]) < 0.002
    bg = (np.abs(q - t["q0_per_nm"]) > 0.012) & (np.abs(q - t["q0_per_nm"]) < 0.02)
    ring_p = az.pumped.values[:, near].mean(1) - az.pumped.values[:, bg].mean(1)
    ring_u = az.unpumped.values[:, near].mean(1) - az.unpumped.values[:, bg].mean(1)
    dev = float(np.max(np.abs(ring_p / ring_u - np.asarray(t["ratio_pumped_unpumped"]))))
    u = az.unpumped.mean("scan_variable").values - az.unpumped.values[:, bg].mean()
    return [
        (
            "FastCCD ring q (1/nm)",
            t["q0_per_nm"],
            float(q[int(np.argmax(u))]),
            4 * float(np.diff(q).mean()),
        ),
        ("FastCCD pumped/unpumped ratio, largest deviation", 0.0, dev, 0.02),
    ]


# -- DSSC azimuthal integration, geometry, fine delay -----------------------------
@check("dssc_delay_scan")
def dssc_ring_positions(proposal, run, truth, plan=None):
    """Exact azimuthal integration of the mean image of module 0: the ring q.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    t = truth["dssc"]
    mod = [m for m in t["modules"] if m in (0, 7, 8, 15)][:1] or t["modules"][:1]
    dark = (plan or {}).get("dssc_dark")
    img = mean_module_images(proposal, run, mod, dark_run=dark)
    ds = integrate_azimuthal(
        img[None],
        None,
        npt=300,
        unit="q_nm^-1",
        distance=t["distance_m"],
        energy=t["energies_eV"][0],
        radial_range=(0.05, 1.0),
        modules=mod,
    ).isel(frame=0)
    dq = float(ds.q[1] - ds.q[0])
    bg = float(ds.I.sel(q=slice(0.53, 0.58)).mean())
    rows = []
    for ring in t["rings"]:
        sel = (ds.I - bg).sel(
            q=slice(ring["q_nm"] - 2 * ring["sigma_q_nm"], ring["q_nm"] + 2 * ring["sigma_q_nm"])
        )
        qc = float((sel.q * sel).sum() / sel.sum())
        rows.append(("DSSC ring q (nm^-1), exact azimuthal", ring["q_nm"], qc, dq))
    return rows


@check("dssc_geometry")
def dssc_quadrant_offsets(proposal, run, truth, plan=None):
    """Quadrant offsets fitted from the nominal geometry (no dark: fitted background).

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    t = truth["dssc"]
    img = G.mean_module_images(proposal, run, t["modules"])
    res = G.refine_quadrants(
        img,
        None,
        q0=t["rings"][0]["q_nm"],
        distance=t["distance_m"],
        energy=t["energies_eV"][0],
        modules=t["modules"],
    )
    inj = np.asarray(t["quad_offsets_mm"])
    rows = []
    for k in range(4):
        if np.isfinite(res["errors_mm"][k, 0]):
            for j, axis in enumerate("xy"):
                rows.append(
                    (
                        f"DSSC quadrant {k + 1} offset {axis} (mm)",
                        inj[k, j],
                        float(res["offsets_mm"][k, j]),
                        0.5 * (0.236, 0.204)[j],
                    )
                )
    return rows


@check("dssc_fine_delay")
def dssc_fine_delay_setting(proposal, run, truth, plan=None):
    """The DSSC fine delay setting read back.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    fd = get_array(open_run(proposal, run), "DSSC_fineDelay")
    return [("DSSC fine delay setting", truth["dssc"]["fine_delay"], float(fd.mean()), 0)]


# -- BOZ: flat field, non-linearity, XAS of the sample scans ---------------------
def _boz_correction(proposal, plan):
    """The I.a correction of the plan's membrane run (determined once, then its JSON)."""
    dark, mem = plan["boz_dark"], plan["boz_membranes"]
    fname = boz.pipeline.parameters_file(proposal, dark, mem)
    if os.path.exists(fname):
        return boz.parameters.load(fname)
    return boz.pipeline.determine_correction(proposal, dark, mem, progress=lambda *a: None)[0]


@check("boz_membranes")
def boz_corrections(proposal, run, truth, plan=None):
    """Flat-field plane, LUT and shot-noise limit of the I.a determination.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
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
    rows = [
        ("BOZ flat-field n/0 plane: max |z - z_injected|", 0.0, dz, 0.02),
        (
            "BOZ LUT rms deviation from injected / injected non-linearity",
            0.0,
            float(resid.std() / dev.std()),
            0.6,
        ),
    ]
    for beam in ("n", "p"):
        n_sig = ph[beam].values.ravel()[ok] * g
        n_ref = ph["0"].values.ravel()[ok] * g
        shot = float(np.sqrt(np.mean(1 / n_sig + 1 / n_ref)))
        s = boz.snr(cor[beam].values.ravel()[ok], cor["0"].values.ravel()[ok], ["weighted"])[
            "weighted"
        ]["s"]
        rows.append((f"BOZ {beam}/0 noise / shot noise (<= 1.1)", 1.0, s / shot, 0.1))
    return rows


def _boz_xas(proposal, run, plan, xaxis, width):
    return boz_xas(small_data(_boz_correction(proposal, plan), run), xaxis, width)


@check("boz_energy_scan")
def boz_edge(proposal, run, truth, plan=None):
    """BOZ XAS edge position (eV) and peak pump-probe change vs energy.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    t = truth["boz"]
    x = _boz_xas(proposal, run, plan, "nrj", 0.5)
    e = x.nrj.values

    def edge(E, pre, jump, e0, w):
        return pre + jump * (0.5 + np.arctan((E - e0) / w) / np.pi)

    popt, _ = curve_fit(edge, e, x.xas_n.values, p0=[0.2, 0.8, e.mean(), 1.5])
    tn, tp = transmissions(e, np.full(e.size, float(np.mean(t["delay_ps"]))), t["edge"])
    inj = np.log(tn) - np.log(tp)
    return [
        ("BOZ XAS edge position (eV)", t["edge"]["e0_eV"], float(popt[2]), 0.1),
        ("BOZ peak ΔXAS vs energy", float(inj.min()), float(x.dxas.values.min()), 0.006),
    ]


@check("boz_delay_scan")
def boz_pump_probe(proposal, run, truth, plan=None):
    """BOZ peak pump-probe change vs delay, and none before time zero.

    Parameters
    ----------
    proposal, run : int
        The simulated run.
    truth : dict
        Its ground truth.
    plan : dict, optional
        Scenario name -> run number (companion runs such as a dark).

    Returns
    -------
    list of tuple
        Rows ``(quantity, injected, recovered, tolerance)``.
    """
    t = truth["boz"]
    x = _boz_xas(proposal, run, plan, "delay", 0.25)
    d = x.delay.values
    tn, tp = transmissions(np.full(d.size, float(np.mean(t["energy_eV"]))), d, t["edge"])
    inj = np.log(tn) - np.log(tp)
    return [
        ("BOZ peak ΔXAS vs delay", float(inj.min()), float(x.dxas.values.min()), 0.006),
        ("BOZ ΔXAS before t0", 0.0, float(np.mean(x.dxas.values[d < -0.2])), 0.006),
    ]
