"""Checks of the spectrometers: hRIXS (MaranaX) centroiding and calibrations,
Viking gain and XAS.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ...detectors.hrixs import MaranaX, pump_probe_ratio
from ...detectors.viking import Viking
from ...load import open_run
from .. import hrixs as sh
from .. import viking as sv
from .registry import check


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
    window = (sh.REFERENCE_EV - 2.0, sh.REFERENCE_EV - 1.0)
    pp = pump_probe_ratio(agg, window)
    return [
        (
            "hRIXS d-d window pumped/unpumped",
            sh.expected_window_ratio(truth, window),
            pp["ratio"],
            3 * pp["error"],
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
