"""Recorded template results against the ground truth of the runs they read.

Templates record their results (``tb.record``) and never see a ground truth; here
each template's records are compared with the truth of its input runs. A
comparison is registered per template with :func:`compares` and called as
``f(rec, truth)``: ``rec`` maps a record name to the record, ``truth(run)`` returns
the ground truth of a run of the record's proposal (None for a real run). It
returns rows ``(quantity, injected, recovered, tolerance)``; tolerances follow
from the recorded errors (a few standard errors) or from the bin widths.
"""

from __future__ import annotations

import numpy as np

from ...errors import ToolBoxError
from ...routines.laser import positionToDelay
from .. import hrixs as sh
from ..folders import ground_truth
from .registry import _fmt

__all__ = ["compares", "check_records", "RECORD_CHECKS"]

RECORD_CHECKS: dict = {}


def compares(template):
    """Register the decorated function as the comparison of ``template``'s records.

    Parameters
    ----------
    template : str
        The template whose records it compares.

    Returns
    -------
    callable
    """

    def deco(func):
        RECORD_CHECKS[template] = func
        return func

    return deco


def _err(r, k=4.0):
    return k * float(r["error"])


@compares("knife_edge")
def _knife_edge(rec, truth):
    t = truth(rec["w0"]["run"])["knife_edge"]
    return [
        ("knife-edge w0 (um)", t["w0_mm"] * 1e3, rec["w0"]["value"], _err(rec["w0"])),
        ("knife-edge x0 (um)", t["x0_mm"] * 1e3, rec["x0"]["value"], _err(rec["x0"])),
    ]


@compares("reflectivity")
def _reflectivity(rec, truth):
    t = truth(rec["t0"]["run"])["reflectivity"]
    p = rec["t0"]["parameters"]
    t0 = float(positionToDelay(t["t0_mm"], p.get("origin", 0.0), p.get("invert", False)))
    inj = {"t0": t0, "sigma": t["sigma_ps"], "tau1": t["tau1_ps"], "tau2": t["tau2_ps"]}
    return [(f"reflectivity {k} (ps)", v, rec[k]["value"], _err(rec[k])) for k, v in inj.items()]


@compares("xas_xmcd")
def _xas_xmcd(rec, truth):
    t = truth(rec["xmcd"]["run"])["xas"]
    return [("XMCD amplitude", t["xmcd_at_E0"], rec["xmcd"]["value"], _err(rec["xmcd"]))]


@compares("fastccd_binning")
def _fastccd(rec, truth):
    t = truth(rec["ring_q"]["run"])["fccd"]
    inj = np.asarray(t["ratio_pumped_unpumped"]) - 1
    got = np.asarray(rec["ring_change"]["value"], float)
    return [
        ("FastCCD ring q (1/nm)", t["q0_per_nm"], rec["ring_q"]["value"], rec["ring_q"]["error"]),
        ("FastCCD ring change, largest deviation", 0.0, float(np.max(np.abs(got - inj))), 0.02),
    ]


@compares("pes_basic")
def _pes(rec, truth):
    rows = []
    for name, r in rec.items():
        if not name.startswith("peaks_"):
            continue
        ch = name[len("peaks_") :]
        inj = sorted(truth(r["run"])["pes"]["peaks"][ch]["position"])
        got = r["samples"]
        dev = max(min(abs(g - q) for q in inj) for g in got) if got else np.inf
        rows.append((f"PES {ch} peaks, largest deviation (samples)", 0.0, dev, 1.0))
    return rows


@compares("hrixs")
def _hrixs(rec, truth):
    rows = []
    for k in ("CURVE_A", "CURVE_B", "ENERGY_SLOPE", "ENERGY_INTERCEPT"):
        if k in rec:
            r = rec[k]
            rows.append((f"hRIXS {k}", truth(r["run"])["hrixs"][k], r["value"], _err(r)))
    r = rec["feature_ratio"]
    rows.append(
        (
            "hRIXS feature pumped/unpumped",
            sh.expected_window_ratio(truth(r["run"]), r["window_eV"]),
            r["value"],
            _err(r),
        )
    )
    return rows


@compares("dssc_fine_delay")
def _fine_delay(rec, truth):
    r = rec["fine_delay_optimum"]
    inj = truth(r["run"])["dssc"]["fine_delay_optimum"]
    return [("DSSC fine delay optimum", inj, r["value"], _err(r))]


@compares("dssc_create_geometry")
def _geometry(rec, truth):
    r = rec["quad_offsets"]
    inj = np.asarray(truth(r["run"])["dssc"]["quad_offsets_mm"], float)
    dev = float(np.max(np.abs(np.asarray(r["value"], float) - inj)))
    # 4 fit errors, at least a third of a pixel (0.236 mm)
    tol = max(4 * float(np.max(r["error"])), 0.236 / 3)
    return [("DSSC quadrant offsets, largest deviation (mm)", 0.0, dev, tol)]


def _rings(rec, truth, prefix):
    out = []
    for name, r in rec.items():
        if name.startswith(prefix):
            lo, hi = (float(v) for v in name[len(prefix) :].split("_"))
            rings = [g for g in truth(r["run"])["dssc"]["rings"] if lo <= g["q_nm"] <= hi]
            if rings:
                out.append((lo, hi, r, rings[0]))
    return out


@compares("dssc_azimuthal_integration")
def _azimuthal(rec, truth):
    return [
        (f"DSSC ring q in {lo}-{hi} (1/nm)", g["q_nm"], r["value"], r["error"])
        for lo, hi, r, g in _rings(rec, truth, "ring_q_")
    ]


@compares("dssc_scattering_time_delay")
def _scattering(rec, truth):
    rows = []
    for lo, hi, r, g in _rings(rec, truth, "depth_"):
        rows.append((f"DSSC drop depth q {lo}-{hi}", g["depth"], r["value"], _err(r)))
        tau = rec[f"tau_{name_of(lo)}_{name_of(hi)}"]
        rows.append((f"DSSC recovery tau q {lo}-{hi} (ps)", g["tau_ps"], tau["value"], _err(tau)))
    return rows


def name_of(x):
    """A q bound as the template wrote it in a record name (``0.35``, ``1.0``).

    Parameters
    ----------
    x : float

    Returns
    -------
    str
    """
    return repr(float(x))


def check_records(records, data_root=None):
    """Compare recorded template results with the ground truth of their runs.

    Parameters
    ----------
    records : list of dict
        From ``scs_nb.results.read_results`` (any number of templates and runs).
    data_root : str or pathlib.Path, optional
        Where the runs' ground truth lies.

    Returns
    -------
    list of tuple
        ``(template, run, quantity, injected, recovered, tolerance, ok)``, formatted
        like ``run_checks``; templates without a comparison or runs without a ground
        truth (real data) give no row; a comparison that fails gives one ``NO`` row.
    """
    groups: dict = {}
    for r in records:
        groups.setdefault((r.get("template"), r.get("file")), []).append(r)
    rows = []
    for (template, _), recs in sorted(groups.items(), key=lambda g: str(g[0])):
        func = RECORD_CHECKS.get(template)
        if func is None:
            continue
        rec = {r["name"]: r for r in recs}
        proposal = recs[0].get("proposal")
        run = recs[0].get("parameters", {}).get("run", recs[0].get("run"))

        def truth(r, _p=proposal):
            return ground_truth(_p, r, data_root)

        try:
            truth(run)
        except ToolBoxError:  # real data: nothing to compare with
            continue
        try:
            found = func(rec, truth)
        except Exception as exc:  # shown in the table, counted as not recovered
            rows.append((template, run, func.__name__, "-", f"error: {exc}"[:60], "-", "NO"))
            continue
        for quantity, injected, recovered, tol in found:
            ok = bool(np.all(np.abs(np.asarray(recovered, float) - injected) <= tol))
            rows.append(
                (
                    template,
                    run,
                    quantity,
                    _fmt(injected),
                    _fmt(recovered),
                    _fmt(tol),
                    "yes" if ok else "NO",
                )
            )
    return rows
