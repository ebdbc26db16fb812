"""Plots of the DSSC azimuthal integration templates: the assembled detector
image (mm around the beam) with circles at given radii, and I(q) profiles."""
from __future__ import annotations

import numpy as np

from ...facility import DSSC_MODULE_SHAPE, DSSC_NMODULES, DSSC_PIXEL_SIZE_M

__all__ = ["full_modules", "plot_assembled", "plot_profiles"]


def full_modules(data, modules):
    """(16, 128, 512) float32 with the given modules' images, NaN elsewhere."""
    full = np.full((DSSC_NMODULES,) + DSSC_MODULE_SHAPE, np.nan, np.float32)
    data = np.asarray(data)
    for i, m in enumerate(modules):
        full[int(m)] = data[i]
    return full


def plot_assembled(data, geom, modules=None, ax=None, circles_mm=(), vmax=None,
                   title=None, cmap="magma"):
    """The modules assembled with ``geom`` (extra_geom ``position_modules``),
    axes in mm from the beam, with dashed circles at ``circles_mm``."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    mods = list(range(DSSC_NMODULES)) if modules is None else list(modules)
    full = full_modules(data, mods) if len(mods) != DSSC_NMODULES else np.asarray(
        data, np.float32)
    img, centre = geom.position_modules(full)
    px, py = DSSC_PIXEL_SIZE_M[0] * 1e3, geom._pixel_shape[1] * 1e3
    extent = (-centre[1] * px, (img.shape[1] - centre[1]) * px,
              -centre[0] * py, (img.shape[0] - centre[0]) * py)
    vmax = np.nanpercentile(img, 99.5) if vmax is None else vmax
    im = ax.imshow(img, origin="lower", extent=extent, cmap=cmap, vmin=0, vmax=vmax,
                   interpolation="nearest")
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


def plot_profiles(profiles, ax=None, xlabel="q (nm$^{-1}$)", ylabel="I (ADU / pixel)",
                  marks=()):
    """Overlay of 1-D profiles: {label: DataArray (radial)}; vertical lines at marks."""
    import matplotlib.pyplot as plt
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
