"""The I.a correction determination in one call (what the boz_Ia template, the
``scs-nb submit boz-correction`` job and benchmarks/boz.py run), the steps that work on a
whole `parameters`, and where its JSON lives."""

from __future__ import annotations

import os
import time

import numpy as np

from ...errors import ToolBoxValueError
from ...facility.paths import processed_dir
from ...load import find_run_path
from .flat_field import (
    compute_flat_field_correction,
    ff_refine_fit,
    normalize_flat_field,
    plane_fitting,
)
from .nonlinearity import nl_domain, nl_fit, nl_lut
from .params import check_correction_inputs, parameters
from .process import process, snr
from .reductions import average_module, bad_pixel_map, compute
from .rois import find_rois


def find_rois_from_params(params):
    """Find rois from 3 beams configuration, on the parameters' data.

    Parameters
    ----------
    params : parameters
        With the data loaded and ``params.rois_th`` (threshold, ADU) set.

    Returns
    -------
    dict
        The ROIs of `find_rois` on the dark corrected mean of ``params.arr``.
    """
    if params.arr is None or params.arr_dark is None:
        raise ToolBoxValueError(
            "find_rois_from_params: load the data first (params.dask_load_persistently())"
        )
    if params.rois_th is None:
        raise ToolBoxValueError("find_rois_from_params: set params.rois_th (threshold) first")
    dark = compute(average_module(params.arr_dark))
    mean = compute(average_module(params.arr, dark=dark, mask=params.get_mask()))
    return find_rois(np.asarray(mean).mean(axis=0), params.rois_th)


def default_path(proposal, run):
    """The output folder of a run, as the seed's job script.

    Parameters
    ----------
    proposal, run : int

    Returns
    -------
    str
        ``<proposal>/usr/processed_runs/r<run>``.
    """
    run_dir = find_run_path(proposal, run)
    prop_dir = os.path.dirname(os.path.dirname(os.path.abspath(run_dir)))
    return str(processed_dir(prop_dir, run))


def parameters_file(proposal, darkrun, run, path=""):
    """The JSON file name that determine_correction writes.

    Parameters
    ----------
    proposal, darkrun, run : int
    path : str
        Folder (default `default_path`).

    Returns
    -------
    str
    """
    p = parameters(proposal, darkrun, run, 15, 1.0)
    return os.path.join(path or default_path(proposal, run), p.filename())


def determine_correction(
    proposal,
    darkrun,
    run,
    module=15,
    gain=3.0,
    rois_th=1.0,
    sat_level=500,
    path="",
    prod_th=(500.0, np.inf),
    ratio_th=(0.5, 1.5),
    ff_alpha=0.1,
    ff_max_iter=100,
    nl_N=30,
    nl_low=20,
    nl_high=511,
    nl_alpha=0.0,
    nl_max_iter=150,
    drop_intra_darks=True,
    progress=print,
):
    """The whole I.a: ROIs, plane flat field, refined flat field, non-linearity.

    The JSON is saved once the flat field is done (for the online preview, marked
    ``"complete": false``: `parameters.load` refuses it unless ``allow_incomplete=True``)
    and again complete.

    Parameters
    ----------
    proposal, darkrun, run : int
        Proposal, dark run and membrane run.
    module : int
        DSSC module.
    gain : float
        Photons per ADU bin.
    rois_th : float
        ROI threshold (ADU).
    sat_level : int
        Saturation level (raw ADU).
    path : str
        Output folder (default `default_path`).
    prod_th, ratio_th : tuple of float
        Domain of the plane fit.
    ff_alpha, ff_max_iter : float, int
        Flat-field refinement weight and iterations.
    nl_N, nl_low, nl_high : int
        Non-linearity domain (see `nl_domain`).
    nl_alpha, nl_max_iter : float, int
        Non-linearity regularisation and iterations.
    drop_intra_darks : bool
        Drop every second frame.
    progress : callable
        Called with a progress message.

    Returns
    -------
    params : parameters
    info : dict
        The fit results and timings (s).

    Examples
    --------
    >>> p, info = determine_correction(2937, 615, 614, module=15, gain=3)   # doctest: +SKIP
    """
    check_correction_inputs(
        module=module,
        gain=gain,
        rois_th=rois_th,
        sat_level=sat_level,
        ff_alpha=ff_alpha,
        ff_max_iter=ff_max_iter,
        nl_N=nl_N,
        nl_low=nl_low,
        nl_alpha=nl_alpha,
        nl_max_iter=nl_max_iter,
    )
    t0 = time.perf_counter()
    path = path or default_path(proposal, run)
    p = parameters(proposal, darkrun, run, module, gain, drop_intra_darks)
    p.dask_load_persistently()
    p.set_mask(bad_pixel_map(p))
    dark = average_module(p.arr_dark).compute()
    mean = average_module(p.arr, dark=dark, mask=p.get_mask()).compute()
    p.rois_th = float(rois_th)
    p.rois = find_rois(np.asarray(mean).mean(axis=0), p.rois_th)
    p.sat_level = int(sat_level)
    p.set_flat_field(p.flat_field_guess(), prod_th=prod_th, ratio_th=ratio_th)
    plane = plane_fitting(p)
    p.set_flat_field(plane.x)
    p.ff_alpha, p.ff_max_iter = float(ff_alpha), int(ff_max_iter)
    refined, ff_fitres = ff_refine_fit(p)
    p.set_flat_field(refined.x)
    # a preview: if the job ends during the non-linearity fit, readers refuse it
    fname = p.save(path, complete=False)
    t_ff = time.perf_counter() - t0
    progress(f"flat field done in {t_ff:.1f} s: {fname}")
    domain = nl_domain(nl_N, nl_low, nl_high)
    p.nl_alpha, p.nl_max_iter = float(nl_alpha), int(nl_max_iter)
    res, nl_fitres = nl_fit(p, domain, compute_flat_field_correction(p.rois, p))
    p.set_Fnl(nl_lut(domain, res.x))
    p.set_flat_field(normalize_flat_field(p))
    p.save(path, complete=True)
    t_all = time.perf_counter() - t0
    progress(f"non-linearity done in {t_all:.1f} s ({res.nit} iterations): {fname}")
    return p, {
        "file": fname,
        "plane": plane,
        "refined": refined,
        "ff_fitres": ff_fitres,
        "nl": res,
        "nl_fitres": nl_fitres,
        "domain": domain,
        "t_flat_field": t_ff,
        "t_total": t_all,
    }


def correction_noise(params, beams=("n", "p")):
    """Transmission and its noise with each correction, relative to the photon shot noise.

    For each beam ``b`` the ratio ``b/0`` of every unsaturated frame is computed
    without correction, with the flat field, and with flat field and non-linearity
    (``params.get_Fnl()``); its weighted mean and spread (``snr``) are compared
    with the shot noise of the photons counted in both ROIs (``params.gain``
    photons per ADU bin).

    Parameters
    ----------
    params : parameters
        A determined (or loaded) correction with its run's data loaded.
    beams : sequence of str
        ROIs compared with ``'0'``.

    Returns
    -------
    pandas.DataFrame
        One row per (beam, correction): ``mean``, ``noise``, ``shot noise`` and
        ``noise / shot noise``.
    """
    import pandas as pd  # pandas loads slowly; only this summary needs it

    ff = compute_flat_field_correction(params.rois, params)
    x = np.arange(512.0)
    args = (params.arr_dark, params.arr, params.tid, params.rois, params.get_mask())
    raw = process(x, *args, None, params.sat_level, cache=params.cache)
    ok = ~raw["sat_sat"].values.ravel()
    corrections = (
        ("none", x, None),
        ("flat field", x, ff),
        ("flat field + Fnl", params.get_Fnl(), ff),
    )
    done = {
        label: process(F, *args, f, params.sat_level, cache=params.cache)
        for label, F, f in corrections
    }
    g = float(params.gain)
    z_raw = raw["0"].values.ravel()[ok]
    rows = []
    for b in beams:
        shot = float(np.sqrt(np.mean(1 / (g * raw[b].values.ravel()[ok]) + 1 / (g * z_raw))))
        for label, d in done.items():
            s = snr(d[b].values.ravel()[ok], d["0"].values.ravel()[ok], ["weighted"])["weighted"]
            rows.append((f"{b}/0", label, s["mu"], s["s"], shot, s["s"] / shot))
    cols = ["transmission", "correction", "mean", "noise", "shot noise", "noise / shot noise"]
    return pd.DataFrame(rows, columns=cols).set_index(["transmission", "correction"])
