"""Checks of BOZ: flat field, non-linearity, XAS of the sample scans."""

from __future__ import annotations

import os

import numpy as np
from scipy.optimize import curve_fit

from ...routines import boz
from ...routines.boz.small_data import small_data
from ...routines.boz.small_data import xas as boz_xas
from ..boz import transmissions
from .registry import check


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
