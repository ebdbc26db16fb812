"""BOZ II.1 / II.2: ROI intensities of a run with the saved corrections, aligned to
the photon energy and the pump-probe delay, and their binning into XAS / ΔXAS.

Not ToolBox functions (the seed's notebooks do this inline); used by the
boz_II1 / boz_II2 templates.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import xarray as xr

from ...atomic import replacing
from ...errors import ToolBoxValueError
from ...load import get_array, open_run
from ..laser import positionToDelay
from .flat_field import compute_flat_field_correction
from .load import check_dark_frames, load_dssc_module
from .params import IncompleteParametersWarning
from .process import process_module
from .reductions import average_module, compute


def small_data(params, run, darkrun=None, sat_level=None):
    """ROI sums of every frame of a run corrected with the saved corrections.

    Parameters
    ----------
    params : parameters
        The corrections (flat field, non-linearity, mask, ROIs).
    run : int
        The run to process.
    darkrun : int, optional
        Default ``params.darkrun``.
    sat_level : int, optional
        Saturation level (raw ADU), default ``params.sat_level`` or 511.

    Returns
    -------
    xarray.Dataset
        (trainId, pulseId) ROI sums (ADU) and saturation flags, with per-train 'nrj'
        (eV) and 'delay' (ps, from the delay line; 0 when the run has none).
    """
    if params.Fnl is None:
        warnings.warn(
            f"BOZ parameters of run {params.run} (module {params.module}) have no "
            f"non-linearity correction (Fnl): the identity is applied and the ROI "
            f"intensities are NOT corrected for the DSSC non-linearity; finish boz_Ia first",
            IncompleteParametersWarning,
            stacklevel=2,
        )
    darkrun = params.darkrun if darkrun is None else int(darkrun)
    sat = (params.sat_level or 511) if sat_level is None else int(sat_level)
    F = params.get_Fnl()
    ff = compute_flat_field_correction(params.rois, params)
    arr_dark, _ = load_dssc_module(
        params.proposal, darkrun, params.module, drop_intra_darks=params.drop_intra_darks
    )
    arr, tid = load_dssc_module(
        params.proposal, run, params.module, drop_intra_darks=params.drop_intra_darks
    )
    check_dark_frames(arr_dark, arr, darkrun, run)
    dark = compute(average_module(arr_dark, F_INL=F))
    rois = {k: v for k, v in params.rois.items() if k in ("n", "0", "p", "sat")}
    ds = process_module(arr, tid, dark, rois, params.get_mask(), sat, ff, F)
    r = open_run(params.proposal, run)
    for name, mnemo in (("nrj", "nrj"), ("delay", "PP800_DelayLine")):
        try:
            v = get_array(r, mnemo).sel(trainId=ds.trainId)
        except Exception:
            v = xr.DataArray(
                np.zeros(ds.sizes["trainId"]), dims="trainId", coords={"trainId": ds.trainId}
            )
        ds[name] = (
            "trainId",
            np.asarray(v.values, float)
            if name == "nrj"
            else np.asarray(positionToDelay(v.values), float),
        )
    ds["nrj"].attrs["units"] = "eV"
    ds["delay"].attrs["units"] = "ps"
    ds.attrs.update(
        proposal=params.proposal,
        run=int(run),
        darkrun=darkrun,
        module=params.module,
        gain=params.gain,
        sat_level=sat,
    )
    return ds


def save_small_data(ds, fname, overwrite=False):
    """Write the small data to a file (HDF5, h5netcdf) atomically.

    Parameters
    ----------
    ds : xarray.Dataset
    fname : str
    overwrite : bool
        Replace an existing file (else an error).

    Returns
    -------
    str
        fname.
    """
    if os.path.exists(fname) and not overwrite:
        raise ToolBoxValueError(f"{fname} exists; pass overwrite=True to replace it")
    with replacing(fname) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return fname


def xas(ds, xaxis="nrj", bin_width=None, drop_saturated=True, gain=None):
    """Bin the small data along 'nrj' or 'delay' into XAS and ΔXAS.

    Parameters
    ----------
    ds : xarray.Dataset
        From `small_data`.
    xaxis : {'nrj', 'delay'}
    bin_width : float, optional
        Bin width (eV or ps); None: one bin per distinct value.
    drop_saturated : bool
        Leave out the frames saturated in 'sat'.
    gain : float, optional
        Photons per ADU bin (default ``ds.attrs['gain']``).

    Returns
    -------
    xarray.Dataset
        Per bin, the absorption -log(sum n / sum 0) and -log(sum p / sum 0) (the
        weighted mean transmission), their shot-noise error, ΔXAS = xas_p - xas_n and
        the frame count.
    """
    if xaxis not in ds:
        raise ToolBoxValueError(f"xas: no {xaxis!r} in the data; have {list(ds.data_vars)}")
    gain = float(ds.attrs.get("gain", 1.0)) if gain is None else float(gain)
    x = np.broadcast_to(ds[xaxis].values[:, None], ds["n"].shape).ravel()
    ok = np.ones(x.size, bool)
    if drop_saturated and "sat_sat" in ds:
        ok = ~ds["sat_sat"].values.ravel()
    n, z, p = (ds[k].values.ravel()[ok] for k in ("n", "0", "p"))
    x = x[ok]
    if bin_width:
        xb = np.round(x / bin_width) * bin_width
    else:
        xb = x
    ub, idx = np.unique(np.round(xb, 9), return_inverse=True)
    sn, sz, sp = (np.bincount(idx, v, minlength=ub.size) for v in (n, z, p))
    cnt = np.bincount(idx, minlength=ub.size)
    out = xr.Dataset(coords={xaxis: ub})
    out["xas_n"] = (xaxis, -np.log(sn / sz))
    out["xas_p"] = (xaxis, -np.log(sp / sz))
    out["dxas"] = out["xas_p"] - out["xas_n"]
    # shot noise of -log(S/R) with S, R in photons (each ROI sum x gain)
    out["xas_n_err"] = (xaxis, np.sqrt(1 / (sn * gain) + 1 / (sz * gain)))
    out["xas_p_err"] = (xaxis, np.sqrt(1 / (sp * gain) + 1 / (sz * gain)))
    out["dxas_err"] = (xaxis, np.sqrt(1 / (sn * gain) + 1 / (sp * gain)))
    out["counts"] = (xaxis, cnt)
    return out
