"""Checks of the how-tos: knife-edge, reflectivity, XAS/XMCD, PES, FastCCD."""

from __future__ import annotations

import tempfile

import numpy as np

from ...detectors.fccd import FastCCD
from ...detectors.pes import get_pes_tof
from ...load import load
from ...routines.knife_edge import knife_edge
from ...routines.laser import positionToDelay
from ...routines.reflectivity import reflectivity
from ...routines.xas import xas as xas_spectrum
from ...routines.xas import xasxmcd
from .. import fccd as simfccd
from .registry import check


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
