"""Checks of the DSSC: resonance in binned data, ring q by azimuthal integration,
quadrant offsets, fine delay.
"""

from __future__ import annotations

import tempfile

import numpy as np

from ...detectors.dssc import bin_dssc, open_binned_dssc
from ...detectors.dssc import geometry as G
from ...detectors.dssc.azimuthal import integrate_azimuthal
from ...detectors.dssc.geometry import mean_module_images
from ...load import get_array, open_run
from .. import dssc as simdssc
from .registry import check


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
