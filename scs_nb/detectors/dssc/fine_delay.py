"""DSSC fine timing ("DSSC fine delay"): runs recorded at several DSSC fine
trigger delays; the mean dark-subtracted DSSC signal of each run against its
fine delay setting (mnemonic ``DSSC_fineDelay``), and the optimum from a
Gaussian fit of that curve (the setting of the largest signal).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from ...errors import ToolBoxValueError
from ...load import get_array, open_run
from .binning.inputs import load_xgm_pulses
from .geometry import mean_module_images

__all__ = ["fine_delay_scan", "find_fine_delay_optimum"]


def fine_delay_scan(
    proposal,
    runs,
    dark_run=None,
    modules=(0,),
    fine_delays=None,
    xgm_name="SCS_SA3",
    progress=True,
):
    """Signal vs fine delay: a Dataset along ``fine_delay`` (one row per run,
    sorted) with ``signal`` (mean ADU of the dark-subtracted frames over the
    modules), ``xgm`` (mean pulse energy of the run, µJ; ``xgm_name=None``:
    none), ``signal_per_uJ`` = signal / xgm, ``module_signal`` (fine_delay,
    module) and ``run``.

    fine_delays: the settings of the runs when the data has no
    ``DSSC_fineDelay`` (default: read from each run)."""
    runs = [int(r) for r in runs]
    if not runs:
        raise ToolBoxValueError("fine_delay_scan needs a list of runs, one per fine delay")
    if fine_delays is not None and len(fine_delays) != len(runs):
        raise ToolBoxValueError(
            f"{len(fine_delays)} fine_delays for {len(runs)} runs; pass one per run"
        )
    rows = []
    for i, r in enumerate(tqdm(runs, desc="fine delay runs", disable=not progress)):
        if fine_delays is None:
            fd = float(get_array(open_run(proposal, r), "DSSC_fineDelay").mean())
        else:
            fd = float(fine_delays[i])
        img = mean_module_images(proposal, r, list(modules), dark_run=dark_run)
        xgm = np.nan
        if xgm_name:
            xgm = float(np.nanmean(load_xgm_pulses(open_run(proposal, r), xgm_name).values))
        rows.append((fd, r, img.reshape(len(modules), -1).mean(axis=1), xgm))
    rows.sort(key=lambda x: x[0])
    fd = np.array([x[0] for x in rows])
    ms = np.array([x[2] for x in rows])
    xgm = np.array([x[3] for x in rows])
    return xr.Dataset(
        {
            "signal": ("fine_delay", ms.mean(axis=1), {"units": "ADU"}),
            "xgm": ("fine_delay", xgm, {"units": "uJ"}),
            "signal_per_uJ": ("fine_delay", ms.mean(axis=1) / xgm, {"units": "ADU/uJ"}),
            "module_signal": (("fine_delay", "module"), ms, {"units": "ADU"}),
            "run": ("fine_delay", np.array([x[1] for x in rows])),
        },
        coords={"fine_delay": fd, "module": list(modules)},
    )


def find_fine_delay_optimum(fine_delay, signal=None):
    """Fit ``A exp(-0.5 ((x - x0) / w)^2) + B`` to signal vs fine delay.

    Accepts (fine_delay, signal) arrays or the Dataset of ``fine_delay_scan``
    (its ``signal_per_uJ`` when finite, else ``signal``).
    Returns {'optimum', 'optimum_err', 'width', 'amplitude', 'offset',
    'best_measured'} (the last: the setting of the largest measured signal)."""
    from scipy.optimize import curve_fit  # heavy: only for the fit

    if isinstance(fine_delay, xr.Dataset):
        ds = fine_delay
        signal = (
            ds["signal_per_uJ"].values
            if "signal_per_uJ" in ds and np.isfinite(ds["signal_per_uJ"].values).all()
            else ds["signal"].values
        )
        fine_delay = fine_delay["fine_delay"].values
    x = np.asarray(fine_delay, float)
    y = np.asarray(signal, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 4:
        raise ToolBoxValueError(f"the fit needs >= 4 runs with a signal, got {int(ok.sum())}")
    x, y = x[ok], y[ok]
    i = int(np.argmax(y))

    def model(t, a, x0, w, b):
        return a * np.exp(-0.5 * ((t - x0) / w) ** 2) + b

    p0 = [y[i] - y.min(), x[i], max(np.ptp(x) / 4, 1e-6), y.min()]
    p, cov = curve_fit(model, x, y, p0=p0, maxfev=20000)
    err = np.sqrt(np.diag(cov)) if np.all(np.isfinite(cov)) else np.full(4, np.nan)
    return {
        "optimum": float(p[1]),
        "optimum_err": float(err[1]),
        "width": abs(float(p[2])),
        "amplitude": float(p[0]),
        "offset": float(p[3]),
        "best_measured": float(x[i]),
    }
