"""DSSC figures: the ToolBox ``dssc_plot`` routines, the figures of the binning
templates (binned module images, pump-probe differences) and of the azimuthal
templates (assembled image with circles, I(q) profiles); ``assemble`` puts the
images of some modules into the (16, 128, 512) stack that a geometry draws.
matplotlib is imported inside the functions (heavy: only when plotting)."""

from __future__ import annotations

import numpy as np

from ...facility import DSSC_MODULE_SHAPE, DSSC_NMODULES, DSSC_PIXEL_SIZE_M, dssc_geometry

# the ToolBox dssc_plot names (offered flat as tb.detectors.<name>); assemble,
# plot_assembled and plot_profiles are scs_nb's own
__all__ = [
    "plot_xgm_threshold",
    "plot_binner",
    "plot_binner_hist",
    "plot_hist_processed",
    "plot_binned_modules",
    "plot_pump_probe",
]


def _plt():
    import matplotlib.pyplot as plt  # heavy: only when plotting

    return plt


def assemble(data, modules=None):
    """The (16, 128, 512) module stack of the DSSC 1M from the images of some modules.

    A DSSC geometry (extra_geom ``DSSC_1MGeometry``: ``position_modules``,
    ``plot_data_fast``) draws the full stack of 16 modules; the modules not
    given are NaN (drawn empty).

    Parameters
    ----------
    data : array_like
        (len(modules), 128, 512) images, in the order of ``modules``.
    modules : sequence of int, optional
        DSSC module number (0..15) of each image; default 0..15 (``data`` is
        then the full stack).

    Returns
    -------
    numpy.ndarray
        (16, 128, 512) float32: ``full[modules[i]] = data[i]``, NaN elsewhere.

    Examples
    --------
    >>> full = assemble(ds["data"].isel(delay=0, pulse=0).values, ds.module.values)
    >>> tb.facility.dssc_geometry().plot_data_fast(full)
    """
    data = np.asarray(data)
    mods = range(DSSC_NMODULES) if modules is None else modules
    full = np.full((DSSC_NMODULES,) + DSSC_MODULE_SHAPE, np.nan, np.float32)
    for i, m in enumerate(mods):
        full[int(m)] = data[i]
    return full


def plot_xgm_threshold(xgm, xgm_min=None, xgm_max=None, run_nr="", safe_fig=False):
    """XGM pulse energies per pulse and their histogram with the thresholds of
    a pulse mask. Returns the figure (saved as ``xgm_threshold_<run>.png`` when
    safe_fig)."""
    plt = _plt()
    v = np.asarray(xgm).ravel()
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 3.5))
    a0.plot(v, ".", ms=1)
    a0.set_xlabel("pulse (trains x pulses)")
    a0.set_ylabel("XGM (µJ)")
    a1.hist(v[np.isfinite(v)], bins=100)
    a1.set_xlabel("XGM (µJ)")
    fin = v[np.isfinite(v)]
    lo, hi = (fin.min(), fin.max()) if fin.size else (0.0, 1.0)
    span = max(hi - lo, 1e-9)
    for ax in (a0, a1):
        for lim in (xgm_min, xgm_max):
            # thresholds far outside the data would only squash the plot
            if lim is not None and np.isfinite(lim) and lo - span <= lim <= hi + span:
                (ax.axhline if ax is a0 else ax.axvline)(lim, color="r", ls="--")
    fig.suptitle(f"run {run_nr} XGM")
    if safe_fig:
        fig.savefig(f"xgm_threshold_{run_nr}.png", dpi=100)
    return fig


def plot_binner(binner, yname="data", xname="data", run_nr=""):
    """Bin labels of a binner against its coordinate."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    dim = binner.dims[0]
    vals = binner.values
    if vals.dtype.kind not in "biuf":
        labels = list(dict.fromkeys(vals.tolist()))
        vals = np.array([labels.index(v) for v in vals.tolist()])
        ax.set_yticks(range(len(labels)), labels)
    x = binner.coords[dim].values
    if dim == "trainId" and xname == "data" and len(x):
        # raw trainIds (~1e9) get an unreadable axis offset: count from the first
        x0 = int(x[0])
        x = x.astype(np.int64) - x0
        xname = f"train (trainId - {x0})"
    ax.plot(x, vals, ".")
    ax.set_xlabel(dim if xname == "data" else xname)
    ax.set_ylabel(f"{dim} bin" if yname == "data" else yname)
    ax.set_title(f"run {run_nr} binner {dim}")
    return fig


def plot_binner_hist(binner, dname="data", run_nr=""):
    """How many entries (trains, pulses) fall into each bin."""
    plt = _plt()
    labels, counts = np.unique(np.asarray(binner.values).astype(str), return_counts=True)
    if np.asarray(binner.values).dtype.kind in "biuf":
        u, counts = np.unique(binner.values, return_counts=True)
        labels = u
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if np.asarray(labels).dtype.kind in "biuf":
        ax.bar(labels, counts, width=np.min(np.diff(labels)) * 0.8 if len(labels) > 1 else 1)
    else:
        ax.bar(range(len(labels)), counts, tick_label=list(labels))
    ax.set_xlabel(binner.dims[0] if dname == "data" else dname)
    ax.set_ylabel("entries")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"run {run_nr} bins of {binner.dims[0]}")
    return fig


def plot_hist_processed(hist_data):
    """Frames per bin of processed data (the ``hist`` variable)."""
    plt = _plt()
    h = hist_data["hist"] if hasattr(hist_data, "data_vars") else hist_data
    if "module" in h.dims:
        h = h.isel(module=0)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    xdim = [d for d in h.dims if d != "pulse"][0]
    for p in h.pulse.values:
        ax.plot(h[xdim].values, h.sel(pulse=p).values, "o-", label=str(p))
    ax.set_xlabel(xdim)
    ax.set_ylabel("frames per bin")
    ax.legend()
    return fig


def plot_binned_modules(ds, pulse=None, bin_index=None, geom=None, ax=None, vmax=None, unit=None):
    """The binned image of all modules, assembled with the DSSC geometry
    (extra_geom), for one xaxis bin and one pulse label.

    Parameters
    ----------
    ds : xarray.Dataset
        Binned data (``open_binned_dssc``) with ``data`` (<xaxis>, pulse, module, x, y).
    pulse : label, optional
        Pulse label (default: the first).
    bin_index : int, optional
        Index of the xaxis bin (default: the average of all bins).
    geom : extra_geom.DSSC_1MGeometry, optional
        The geometry (default ``scs_nb.facility.dssc_geometry()``).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    vmax : float, optional
        Upper colour limit (default: the 99.5th percentile).
    unit : str, optional
        Unit of the binned signal for the colour bar (``'ADU / µJ / pixel'``
        when normalised by the XGM); None: ``'ADU / pixel'``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (the colour bar is beside it).
    """
    plt = _plt()
    geom = geom or dssc_geometry()
    data = ds["data"]
    xdim = [d for d in data.dims if d not in ("pulse", "module", "x", "y")][0]
    pulse = data.pulse.values[0] if pulse is None else pulse
    d = data.sel(pulse=pulse)
    d = d.isel({xdim: bin_index}) if bin_index is not None else d.mean(xdim)
    img = assemble(np.asarray(d.transpose("module", "x", "y").values), data.module.values)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 6))
    finite = img[np.isfinite(img)]
    vmax = vmax or (np.percentile(finite, 99.5) if finite.size else 1)
    # extra_geom's snapped geometry draws no colour bar unless asked
    geom.plot_data_fast(
        img, ax=ax, vmin=0, vmax=vmax, colorbar={"label": f"signal [{unit or 'ADU / pixel'}]"}
    )
    ax.set_title(f"{pulse}, {xdim} " + ("mean" if bin_index is None else f"{d[xdim].values:g}"))
    return ax


def plot_pump_probe(
    ds, pumped="pumped", unpumped="unpumped", roi=None, ax=None, unit=None, xunit=None
):
    """Module-averaged pumped, unpumped and pumped-unpumped signal vs the xaxis.

    Parameters
    ----------
    ds : xarray.Dataset
        Binned DSSC data (``data`` with dims xaxis, pulse, module, x, y).
    pumped, unpumped : str
        Labels of the pulse bins.
    roi : array of bool, optional
        (module, x, y) mask of the pixels to average (e.g. a ring).
    ax : pair of matplotlib Axes, optional
        Where to plot.
    unit : str, optional
        Unit of the signal (``'ADU / µJ'`` when normalised by the XGM), on the y axes.
    xunit : str, optional
        Unit of the xaxis (default: ps for ``delay``, eV for ``nrj``).

    Returns
    -------
    xarray.DataArray
        pumped - unpumped against the xaxis.
    """
    plt = _plt()
    data = ds["data"]
    xdim = [d for d in data.dims if d not in ("pulse", "module", "x", "y")][0]
    if roi is not None:
        data = data.where(roi)
    mean = data.mean(("module", "x", "y"))
    pp, up = mean.sel(pulse=pumped), mean.sel(pulse=unpumped)
    diff = (pp - up).rename("pumped - unpumped")
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    ax[0].plot(mean[xdim], pp, "o-", label=pumped)
    ax[0].plot(mean[xdim], up, "s-", label=unpumped)
    xunit = xunit if xunit is not None else {"delay": "ps", "nrj": "eV"}.get(xdim, "")
    xlabel = f"{xdim} ({xunit})" if xunit else xdim
    yunit = f" ({unit})" if unit else ""
    ax[0].set_xlabel(xlabel)
    ax[0].set_ylabel("mean signal" + yunit)
    ax[0].legend()
    ax[1].plot(mean[xdim], diff, "o-")
    ax[1].axhline(0, color="k", lw=0.5)
    ax[1].set_xlabel(xlabel)
    ax[1].set_ylabel(f"{pumped} - {unpumped}" + yunit)
    return diff


# -- figures of the azimuthal templates ----------------------------------------------
def plot_assembled(
    data, geom, modules=None, ax=None, circles_mm=(), vmax=None, title=None, cmap="magma"
):
    """The modules assembled with a geometry (extra_geom ``position_modules``),
    axes in mm from the beam, with dashed circles at given radii.

    Parameters
    ----------
    data : array_like
        (len(modules), 128, 512) images, ADU.
    geom : extra_geom.DSSC_1MGeometry
        The geometry.
    modules : list of int, optional
        Module number of each image (default 0..15).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    circles_mm : sequence of float
        Radii of the circles (mm).
    vmax : float, optional
        Upper colour limit (default: the 99.5th percentile).
    title : str, optional
        Title of the axes.
    cmap : str
        Colour map.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    mods = list(range(DSSC_NMODULES)) if modules is None else list(modules)
    full = assemble(data, mods) if len(mods) != DSSC_NMODULES else np.asarray(data, np.float32)
    img, centre = geom.position_modules(full)
    px, py = DSSC_PIXEL_SIZE_M[0] * 1e3, geom._pixel_shape[1] * 1e3
    extent = (
        -centre[1] * px,
        (img.shape[1] - centre[1]) * px,
        -centre[0] * py,
        (img.shape[0] - centre[0]) * py,
    )
    vmax = np.nanpercentile(img, 99.5) if vmax is None else vmax
    im = ax.imshow(
        img, origin="lower", extent=extent, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest"
    )
    t = np.linspace(0, 2 * np.pi, 361)
    for r in circles_mm:
        ax.plot(r * np.cos(t), r * np.sin(t), "--", color="cyan", lw=0.8)
    ax.plot(0, 0, "+", color="cyan", ms=10)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    plt.colorbar(im, ax=ax, shrink=0.8, label="ADU")
    return ax


def plot_profiles(profiles, ax=None, xlabel="q (nm$^{-1}$)", ylabel="I (ADU / pixel)", marks=()):
    """Overlay of 1-D profiles with vertical lines at marks.

    Parameters
    ----------
    profiles : dict
        {label: DataArray along its radial coordinate}.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    xlabel, ylabel : str
        Axis labels.
    marks : sequence of float
        Positions of vertical dotted lines.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for label, prof in profiles.items():
        x = prof[prof.dims[-1]].values
        ax.plot(x, np.asarray(prof.values), label=label, lw=1)
    for m in marks:
        ax.axvline(m, color="gray", ls=":", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax
