"""Checks of the foundation and the pulse-resolved point detectors.

Trains, mono energy and scan steps, bunch pattern, XGM flux and calibration
factor, BAM arrival, MCP and photodiode peaks.
"""

from __future__ import annotations

import numpy as np

from ...load import get_array, load, open_run
from ...pulses import calibrate_xgm, get_bam, get_laser_peaks, get_sase_pId, get_tim_peaks, get_xgm
from .registry import check


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
