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
from ..boz import transmissions
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


def _lists_mean(lists):
    vals = [v for row in lists for v in row]
    return float(np.mean(vals)) if vals else float("nan")


@compares("load_run_data")
def _load_run_data(rec, truth):
    t = truth(rec["trains"]["run"])
    rows = [("trains in the run", len(t["train_ids"]), rec["trains"]["value"], 0)]
    if "SCS_SA3_mean" in rec:
        e = t["xgm"]["SCS"]["sa3_energy_uJ"]
        inj = _lists_mean(e)
        got = rec["SCS_SA3_mean"]["value"]
        rows.append(("SCS XGM mean SASE3 energy (uJ)", inj, got, 1e-4 * inj))
        n = sum(len(row) for row in e)
        rows.append(("SCS XGM SASE3 pulses loaded", n, rec["SCS_SA3_pulses"]["value"], 0))
    return rows


@compares("bunch_pattern")
def _bunch_pattern(rec, truth):
    r = rec["pulse_ids"]
    loc = r["parameters"].get("loc", "sase3")
    rows_ = truth(r["run"])["pattern"][f"{loc}_pulse_ids"]
    inj = sorted({p for row in rows_ for p in row})
    counts = {len(row) for row in rows_ if len(row)}
    changed = rec["npulses_changed"]
    same = int(list(r["value"]) == inj)
    return [
        (f"{loc} pulse ids, union (count)", len(inj), len(r["value"]), 0),
        (f"{loc} pulse ids equal injected", 1, same, 0),
        (f"{loc} pulse count changed", int(len(counts) > 1), int(changed["value"]), 0),
    ]


@compares("digitizer_peaks")
def _digitizer_peaks(rec, truth):
    rows = []
    for name, r in rec.items():
        if name.endswith("peaks_mean"):
            ch = name[: -len("peaks_mean")]
            inj = _lists_mean(truth(r["run"])["digitizers"][ch]["peaks"])
            rows.append((f"{ch} mean integrated peak", inj, r["value"], 0.01 * abs(inj)))
    return rows


@compares("point_detectors")
def _point_detectors(rec, truth):
    r = rec["xgm_factor"]
    t = truth(r["run"])
    xgm = r["parameters"].get("xgm", "SCS_SA3").split("_")[0]
    inj = t["xgm"][xgm]["calibration_factor"]
    rows = [("XGM calibration factor F", inj, r["value"], 1e-3 * inj)]
    b = rec["bam_mean"]
    bam = b["parameters"].get("bam", "BAM1932S")
    inj = _lists_mean(t["bam"][bam]["sa3_arrival_fs"]) / 1000
    rows.append((f"{bam} mean arrival (ps)", inj, b["value"], 1e-4))
    return rows


def _boz_noise(rows, rec, keys):
    for key, beam in keys:
        if key in rec:
            rows.append((f"BOZ {beam}/0 noise / shot noise (<= 1.1)", 1.0, rec[key]["value"], 0.1))
    return rows


@compares("boz_Ia")
def _boz_ia(rec, truth):
    t = truth(rec["Fnl"]["run"])["boz"]
    roi = t["rois"]["n"]
    yy, xx = np.mgrid[roi["yl"] : roi["yh"], roi["xl"] : roi["xh"]].astype(float)
    X = (xx - xx.mean()) * t["pixel_mm"][0]
    Y = (yy - yy.mean()) * t["pixel_mm"][1]
    a, b, c, d = t["plane_n"]
    z_true = -(a * X + b * Y + d) / c
    a, b, c, d = rec["flat_field_plane"]["value"]
    dz = float(np.max(np.abs(-(a * X + b * Y + d) / c - z_true)))
    # the recovered LUT is the injected one up to a linear map (gain and offset of the fit)
    F, Ft = np.asarray(rec["Fnl"]["value"], float), np.asarray(t["lut"], float)
    sel = np.arange(45, 350)
    B = np.stack([Ft[sel], np.ones(sel.size)], 1)
    resid = F[sel] - B @ np.linalg.lstsq(B, F[sel], rcond=None)[0]
    dev = Ft[sel] - np.polyval(np.polyfit(sel, Ft[sel], 1), sel)
    lut_dev = float(resid.std() / dev.std())
    rows = [
        ("BOZ flat-field n/0 plane: max |z - z_injected|", 0.0, dz, 0.03),
        ("BOZ LUT rms deviation / injected non-linearity", 0.0, lut_dev, 0.6),
    ]
    return _boz_noise(rows, rec, [("noise_over_shot", "n")])


@compares("boz_Ib")
def _boz_ib(rec, truth):
    return _boz_noise([], rec, [("noise_over_shot_n", "n"), ("noise_over_shot_p", "p")])


@compares("boz_II1")
def _boz_ii1(rec, truth):
    rows = []
    for beam, key in (("n", "T_n"), ("p", "T_p")):
        r = rec[f"transmission_{beam}"]
        t = truth(r["run"])
        inj = dict(zip(t["train_ids"], t["boz"][key]))
        got = np.asarray(r["value"], float)
        ref = np.asarray([inj[int(i)] for i in r["trainId"]], float)
        ok = np.isfinite(got)
        rms = float(np.sqrt(np.mean((got[ok] - ref[ok]) ** 2)))
        rows.append((f"BOZ {beam}/0 transmission per train, rms difference", 0.0, rms, 0.01))
    return rows


@compares("boz_II2")
def _boz_ii2(rec, truth):
    r = rec["dxas"]
    t = truth(r["run"])["boz"]
    x = np.asarray(r["axis_values"], float)
    if r["axis"] == "nrj":
        tn, tp = transmissions(x, np.full(x.size, float(np.mean(t["delay_ps"]))), t["edge"])
    else:
        tn, tp = transmissions(np.full(x.size, float(np.mean(t["energy_eV"]))), x, t["edge"])
    got, err = np.asarray(r["value"], float), np.asarray(r["error"], float)
    dev = float(np.nanmax(np.abs(got - (np.log(tn) - np.log(tp)))))
    # 4 standard errors of the noisiest bin, at least the bin-width smearing of the edge
    tol = max(4 * float(np.nanmax(err)), 0.006)
    return [(f"BOZ ΔXAS vs {r['axis']}, largest deviation", 0.0, dev, tol)]


@compares("viking")
def _viking(rec, truth):
    r = rec["ENERGY_CALIB"]
    px = np.array([100.0, 1000.0, 1900.0])
    V = np.vander(px, 3)
    cov = np.asarray(r["covariance"], float)
    err = np.sqrt(np.einsum("ij,jk,ik->i", V, cov, V))
    inj = np.polyval(truth(r["run"])["viking"]["ENERGY_CALIB"], px)
    got = np.polyval(np.asarray(r["value"], float), px)
    rows = [
        (f"Viking energy at pixel {int(p)} (eV)", i, g, 3 * e + 1e-3)
        for p, i, g, e in zip(px, inj, got, err)
    ]
    q = rec["photoelectrons_per_count"]
    inj = truth(q["run"])["viking"]["e_per_counts"]
    rows.append(("Viking photoelectrons per count", inj, q["value"], 1e-6 * abs(inj)))
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
