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
