"""BOZ diagnostic figures (matplotlib imported on use)."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from ...errors import ToolBoxValueError
from .flat_field import compute_flat_field_correction, plane_fitting_domain
from .process import process, snr
from .reductions import average_module, cache_of, compute, histogram_module
from .rois import BEAMS, crop


def _plt():
    import matplotlib.pyplot as plt  # heavy: only for plots

    return plt


def _levels(img, vmin, vmax):
    img = np.asarray(img, float)
    fin = img[np.isfinite(img)]
    return (
        np.percentile(fin, 5) if vmin is None else vmin,
        np.percentile(fin, 99.8) if vmax is None else vmax,
    )


def inspect_dark(arr, mean_th=(None, None), std_th=(None, None)):
    """Inspect dark run data and plot diagnostic.

    Mean and std images and their histograms, with the thresholds.

    Parameters
    ----------
    arr : numpy.ndarray or dask.array.Array
        (trainId, pulseId, 128, 512) raw dark.
    mean_th, std_th : tuple of float
        Thresholds (ADU) drawn on the histograms (None: not drawn).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    mean = np.asarray(compute(average_module(arr))).mean(axis=0)
    std = np.asarray(compute(average_module(arr, ret="std"))).mean(axis=0)
    fig, axs = plt.subplots(2, 2, figsize=(10, 5), gridspec_kw={"width_ratios": [3, 1]})
    for row, img, th, lab in (
        (0, mean, mean_th, "dark mean (ADU)"),
        (1, std, std_th, "dark std (ADU)"),
    ):
        vmin, vmax = _levels(img, None, None)
        im = axs[row, 0].imshow(img, vmin=vmin, vmax=vmax)
        fig.colorbar(im, ax=axs[row, 0], label=lab)
        axs[row, 0].set(xlabel="x (pixel)", ylabel="y (pixel)")
        axs[row, 1].hist(img.ravel(), bins=200, log=True)
        for t in th:
            if t is not None:
                axs[row, 1].axvline(t, color="r")
        axs[row, 1].set(xlabel=lab, ylabel="pixels")
    return fig


def inspect_histogram(arr, arr_dark=None, mask=None, extra_lines=False):
    """Compute and plot a histogram of the 9 bits raw pixel values.

    Parameters
    ----------
    arr : numpy.ndarray or dask.array.Array
        (trainId, pulseId, 128, 512) raw data.
    arr_dark : numpy.ndarray or dask.array.Array, optional
        Raw dark.
    mask : array_like, optional
        (128, 512) mask (True = good pixel).
    extra_lines : bool
        Draw a line every 32 ADU.

    Returns
    -------
    (h, hd) : tuple of numpy.ndarray
        Histograms (512 bins) of arr and arr_dark (None without a dark).
    fig : matplotlib.figure.Figure
    """
    plt = _plt()
    h = histogram_module(arr, mask)
    hd = histogram_module(arr_dark, mask) if arr_dark is not None else None
    fig, ax = plt.subplots(figsize=(8, 3.5))
    x = np.arange(512)
    ax.step(x, h, where="mid", label="data")
    if hd is not None:
        ax.step(x, hd, where="mid", label="dark")
    if extra_lines:
        for v in range(0, 512, 32):
            ax.axvline(v, color="0.8", lw=0.5)
    ax.set(yscale="log", xlabel="raw pixel value (9-bit ADU)", ylabel="counts")
    ax.legend()
    return (h, hd), fig


def inspect_rois(data_mean, rois, threshold=None, allrois=False):
    """Plot the mean module image with the rois and the row / column profiles.

    Parameters
    ----------
    data_mean : array_like
        (128, 512) (or (pulseId, 128, 512)) dark corrected mean (ADU).
    rois : dict
        The ROIs.
    threshold : float, optional
        ROI threshold (ADU) drawn on the profiles.
    allrois : bool
        Draw every ROI, not only the beams and 'sat'.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    from matplotlib.patches import Rectangle  # heavy: only for plots

    img = np.asarray(data_mean, float)
    img = img.mean(axis=0) if img.ndim == 3 else img
    fig, axs = plt.subplots(
        2, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [4, 1], "height_ratios": [1, 2]}
    )
    vmin, vmax = _levels(img, None, None)
    axs[1, 0].imshow(img, vmin=vmin, vmax=vmax, aspect="auto")
    names = list(rois) if allrois else [r for r in BEAMS + ("sat",) if r in rois]
    for k in names:
        r = rois[k]
        axs[1, 0].add_patch(
            Rectangle(
                (r["xl"] - 0.5, r["yl"] - 0.5),
                r["xh"] - r["xl"],
                r["yh"] - r["yl"],
                fill=False,
                ec="w" if k == "sat" else "r",
            )
        )
        if k in BEAMS:
            axs[1, 0].text(0.5 * (r["xl"] + r["xh"]), r["yl"] - 2, k, color="r", ha="center")
    axs[1, 0].set(xlabel="x (pixel)", ylabel="y (pixel)")
    axs[0, 0].plot(img.mean(axis=0))
    axs[0, 0].set(ylabel="column mean (ADU)", xlim=(0, img.shape[1]))
    axs[1, 1].plot(img.mean(axis=1), np.arange(img.shape[0]))
    axs[1, 1].set(xlabel="row mean (ADU)", ylim=(img.shape[0], 0))
    if threshold is not None:
        axs[0, 0].axhline(threshold, color="r")
        axs[1, 1].axvline(threshold, color="r")
    axs[0, 1].axis("off")
    return fig


def inspect_flat_field_domain(avg, rois, prod_th, ratio_th, vmin=None, vmax=None):
    """Extract beams roi from average image and compute the ratio.

    Parameters
    ----------
    avg : array_like
        (128, 512) dark corrected average (ADU).
    rois : dict
        The ROIs.
    prod_th, ratio_th : tuple of float
        As `plane_fitting_domain`.
    vmin, vmax : float, optional
        Colour scale of the ratio images.

    Returns
    -------
    fig : matplotlib.figure.Figure
    domain : tuple of numpy.ndarray
        (n_m, p_m).
    """
    plt = _plt()
    n, n_m, p, p_m = plane_fitting_domain(avg, rois, prod_th, ratio_th)
    fig, axs = plt.subplots(2, 3, figsize=(11, 5))
    for row, (name, r, m) in enumerate((("n", n, n_m), ("p", p, p_m))):
        lo, hi = _levels(r[m] if m.any() else r, vmin, vmax)
        axs[row, 0].imshow(crop(avg, rois[name]))
        axs[row, 0].set(title=f"'{name}' average (ADU)")
        im = axs[row, 1].imshow(r, vmin=lo, vmax=hi)
        fig.colorbar(im, ax=axs[row, 1])
        axs[row, 1].set(title=f"'{name}'/'0' ratio")
        axs[row, 2].imshow(m)
        axs[row, 2].set(title=f"domain ({int(m.sum())} pixels)")
    return fig, (n_m, p_m)


def inspect_plane_fitting(avg, rois, domain=None, vmin=None, vmax=None):
    """Plot the 'n'/'0' and 'p'/'0' ratio images and their profiles.

    They show the plane the flat field fits.

    Parameters
    ----------
    avg : array_like
        (128, 512) dark corrected average (ADU).
    rois : dict
        The ROIs.
    domain : tuple of numpy.ndarray, optional
        (n_m, p_m) from `inspect_flat_field_domain`: the ratios outside are not shown.
    vmin, vmax : float, optional
        Colour scale.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    fig, axs = plt.subplots(2, 2, figsize=(11, 5))
    for row, name in enumerate(("n", "p")):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = crop(avg, rois[name]) / crop(avg, rois["0"])
        if domain is not None:
            r = np.where(domain[row], r, np.nan)
        lo, hi = _levels(r, vmin, vmax)
        im = axs[row, 0].imshow(r, vmin=lo, vmax=hi)
        fig.colorbar(im, ax=axs[row, 0], label=f"'{name}'/'0'")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            axs[row, 1].plot(np.nanmean(r, axis=0), label="along x")
            axs[row, 1].plot(np.nanmean(r, axis=1), label="along y")
        axs[row, 1].set(xlabel="pixel in ROI", ylabel=f"mean '{name}'/'0'")
        axs[row, 1].legend()
    return fig


def inspect_nl_fit(res_fit):
    """Plot the progress of the fit.

    Parameters
    ----------
    res_fit : array_like
        The fitrres of nl_fit / ff_refine_fit.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    r = np.asarray(res_fit, float).reshape(-1, 3)
    fig, axs = plt.subplots(1, 2, figsize=(10, 3.5))
    it = np.arange(1, len(r) + 1)
    axs[0].plot(it, r[:, 0], label="data term (alpha=0)")
    axs[0].plot(it, r[:, 1], label="criterion")
    axs[0].set(xlabel="iteration", ylabel="criterion", yscale="log")
    axs[0].legend()
    axs[1].plot(it, r[:, 2])
    axs[1].set(xlabel="iteration", ylabel="regularisation (alpha=1)")
    return fig


def inspect_Fnl(Fnl):
    """Plot the correction function Fnl (and its deviation from linear).

    Parameters
    ----------
    Fnl : array_like
        Lookup table (512 values, ADU).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    F = np.asarray(Fnl, float)
    x = np.arange(F.size)
    fig, axs = plt.subplots(1, 2, figsize=(10, 3.5))
    axs[0].plot(x, F)
    axs[0].plot(x, x, "k--", lw=0.5)
    axs[0].set(xlabel="raw value (ADU)", ylabel="corrected value (ADU)")
    axs[1].plot(x, F - x)
    axs[1].set(xlabel="raw value (ADU)", ylabel="Fnl(x) - x (ADU)")
    return fig


def _transmission_figure(data_sets, sk, gain):
    plt = _plt()
    fig, axs = plt.subplots(1, 2 if not sk else 1, figsize=(11, 4), squeeze=False)
    pairs = [("0", ("n", "p"))] if sk else [("n", ("0",)), ("p", ("0",))]
    for ax, (sig, refs) in zip(axs[0], pairs):
        for label, d in data_sets:
            ok = ~d["sat_sat"].values.ravel() if "sat_sat" in d else slice(None)
            a = d[sig].values.ravel()[ok]
            b = sum(d[r].values.ravel()[ok] for r in refs)
            s = snr(a, b, ["weighted"])["weighted"]
            i0 = b * (gain or 1.0)
            ax.plot(
                i0, a / b, ".", ms=2, alpha=0.5, label=f"{label}: mu {s['mu']:.4f}, s {s['s']:.2e}"
            )
        ax.set(
            xlabel=f"'{'+'.join(refs)}' ({'photons' if gain else 'ADU'})",
            ylabel=f"'{sig}'/'{'+'.join(refs)}'",
        )
        ax.legend(fontsize=8, markerscale=4)
    return fig


def inspect_correction(params, gain=None):
    """Comparison plot of the different corrections: transmission 'n'/'0' and
    'p'/'0' vs the '0' intensity with no correction, the flat field, and the
    flat field + non-linearity.

    Parameters
    ----------
    params : parameters
        With the data, ROIs, flat field (and Fnl) set.
    gain : float, optional
        Photons per ADU bin (the '0' axis in photons).

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _inspect_correction(params, None, gain, False)


def inspect_correction_sk(params, ff, gain=None):
    """Comparison plot of the different corrections, combining 'n' and 'p' as the
    reference of '0'.

    Parameters
    ----------
    params : parameters
        With the data and ROIs (and Fnl) set.
    ff : array_like
        (128, 512) flat field.
    gain : float, optional
        Photons per ADU bin.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _inspect_correction(params, ff, gain, True)


def _inspect_correction(params, ff, gain, sk):
    if params.arr is None or params.rois is None:
        raise ToolBoxValueError("inspect_correction: load the data and set the rois first")
    if ff is None:
        ff = compute_flat_field_correction(params.rois, params)
    sat = 511 if params.sat_level is None else params.sat_level
    x = np.arange(512.0)
    args = (params.arr_dark, params.arr, params.tid, params.rois, params.get_mask())
    cache = cache_of(params)
    sets = [
        ("no correction", process(x, *args, None, sat, cache=cache)),
        ("flat field", process(x, *args, ff, sat, cache=cache)),
    ]
    if params.Fnl is not None:
        sets.append(
            ("flat field + non-linearity", process(params.get_Fnl(), *args, ff, sat, cache=cache))
        )
    return _transmission_figure(sets, sk, gain)


def inspect_saturation(data, gain, Nbins=200):
    """Plot roi integrated histogram of the data with saturation.

    Parameters
    ----------
    data : xarray.Dataset
        Roi integrated DSSC data (process / process_module).
    gain : float
        Photons per ADU bin.
    Nbins : int
        Number of bins.

    Returns
    -------
    f : matplotlib.figure.Figure
    h : xarray.Dataset
        Histogram, per roi, of all and of the saturated frames.
    """
    plt = _plt()
    f, ax = plt.subplots(figsize=(8, 3.5))
    out = {}
    for r in BEAMS:
        if r not in data:
            continue
        v = data[r].values.ravel() * gain
        edges = np.linspace(np.nanmin(v), np.nanmax(v), int(Nbins) + 1)
        hall, _ = np.histogram(v, edges)
        satk = f"{r}_sat"
        hs = (
            np.histogram(v[data[satk].values.ravel()], edges)[0]
            if satk in data
            else np.zeros_like(hall)
        )
        c = 0.5 * (edges[1:] + edges[:-1])
        ax.step(c, hall, where="mid", label=f"'{r}'")
        ax.step(c, hs, where="mid", ls="--", label=f"'{r}' saturated")
        out[r] = xr.DataArray(
            np.stack([hall, hs]),
            dims=("kind", "photons"),
            coords={"kind": ["all", "saturated"], "photons": c},
        )
    ax.set(xlabel="roi integrated intensity (photons)", ylabel="frames", yscale="log")
    ax.legend(fontsize=8)
    h = xr.Dataset({k: v.rename({"photons": f"photons_{k}"}) for k, v in out.items()})
    return f, h


__all__ = [
    "inspect_dark",
    "inspect_histogram",
    "inspect_rois",
    "inspect_flat_field_domain",
    "inspect_plane_fitting",
    "inspect_nl_fit",
    "inspect_Fnl",
    "inspect_correction",
    "inspect_correction_sk",
    "inspect_saturation",
]
