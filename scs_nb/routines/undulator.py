"""SASE3 undulator configuration (seed ``toolbox_scs.misc.undulator``).

Reads the per-cell gap and K value, the magnetic chicane delays and the
electron energy (sources in ``scs_nb.facility.sources``, **inferred**) and
groups the closed cells into colours.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError
from ..facility import HC_EV_NM, UND_PARK_GAP_MM
from ..facility import UND_NCELLS as NCELLS
from ..facility import UND_PERIOD_M as PERIOD_M
from ..facility.sources import UND_CELL as CELL
from ..facility.sources import UND_CHICANE as CHICANE
from ..facility.sources import UND_ELECTRON as ELECTRON

__all__ = ["get_undulator_config"]

HC_EVM = HC_EV_NM * 1e-9  # h c in eV m
ME_GEV = 0.51099895e-3


# -- planar hybrid undulator physics -----------------------------------------
# photon energy E = 2 h c gamma^2 / (lambda_u (1 + K^2 / 2)); peak field
# B = 3.44 exp(-g/lu (5.08 - 1.54 g/lu)) T; K = 0.934 lambda_u[cm] B[T]
def k_from_gap(gap_mm):
    """The undulator parameter K of a cell.

    Parameters
    ----------
    gap_mm : array_like
        Gap (mm).

    Returns
    -------
    numpy.ndarray
        K (dimensionless).
    """
    r = np.asarray(gap_mm) / (PERIOD_M * 1e3)
    b = 3.44 * np.exp(-r * (5.08 - 1.54 * r))
    return 0.934 * PERIOD_M * 100 * b


def gap_from_k(k):
    """The gap of a cell with a given K (inverse of `k_from_gap`).

    Parameters
    ----------
    k : float
        K (dimensionless).

    Returns
    -------
    float
        Gap (mm).
    """
    gaps = np.linspace(5, 80, 20001)
    ks = k_from_gap(gaps)  # decreasing with the gap
    return float(np.interp(-k, -ks, gaps))


def photon_energy(k, electron_gev):
    """Photon energy of the first harmonic.

    Parameters
    ----------
    k : array_like
        K (dimensionless).
    electron_gev : float
        Electron energy (GeV).

    Returns
    -------
    numpy.ndarray
        Photon energy (eV).
    """
    gamma = electron_gev / ME_GEV
    return 2 * HC_EVM * gamma**2 / (PERIOD_M * (1 + np.asarray(k) ** 2 / 2))


def k_for_energy(energy_ev, electron_gev):
    """K giving a photon energy of the first harmonic (inverse of `photon_energy`).

    Parameters
    ----------
    energy_ev : float
        Photon energy (eV).
    electron_gev : float
        Electron energy (GeV).

    Returns
    -------
    float
        K (dimensionless).
    """
    gamma = electron_gev / ME_GEV
    return float(np.sqrt(2 * (2 * HC_EVM * gamma**2 / (PERIOD_M * energy_ev) - 1)))


def get_undulator_config(run, park_pos=UND_PARK_GAP_MM, plot=True):
    """Extract the undulator cells configuration from a given run. The gap
    size and K factor as well as the magnetic chicane delay and photon
    energy of colors 1, 2 and 3 are compiled into an xarray Dataset.

    Note: this function looks at run control values, it does not reflect any
    change of values during the run. Do not use to extract configuration
    when scanning the undulator.

    Parameters
    ----------
    run: extra_data DataCollection
        The run containing the undulator information
    park_pos: float, optional
        The parked position of a cell (i.e. when fully opened)
    plot: bool, optional
        If True, plot the undulator cells configuration

    Returns
    -------
    cells: xarray Dataset
        ``gap`` (mm), ``K`` and ``cell_color`` (0 = parked) on dim ``cell``;
        ``photon_energy`` (eV), ``chicane_delay`` (fs, the chicane before
        the colour; NaN for colour 1) and ``ncells`` on dim ``color``.
    """
    cells = [c for c in range(1, 100) if CELL.format(c) in run.control_sources]
    if not cells:
        raise ToolBoxValueError(
            "no undulator cell devices in this run (looked for "
            f"{CELL.format(1)} .. {CELL.format(NCELLS)}); undulator sources: "
            f"{', '.join(s for s in sorted(run.control_sources) if 'UND' in s) or 'none'}"
        )
    gap = np.array([float(run.get_run_value(CELL.format(c), "actualGap")) for c in cells])
    k = np.array([float(run.get_run_value(CELL.format(c), "Kvalue")) for c in cells])
    closed = gap < park_pos - 1e-3
    color = np.zeros(len(cells), int)
    groups = []
    # colours: closed cells with the same K (to 1e-4), numbered in beam order
    for i in np.flatnonzero(closed):
        for g in groups:
            if abs(k[i] - k[g[0]]) <= 1e-4 * k[i]:
                g.append(i)
                break
        else:
            groups.append([i])
    for c, g in enumerate(groups, start=1):
        color[g] = c
    electron = (
        float(run.get_run_value(ELECTRON, "actualEnergy"))
        if ELECTRON in run.control_sources
        else np.nan
    )
    ncol = len(groups)
    chicane = np.full(ncol, np.nan)
    for j in range(1, ncol):
        src = CHICANE.format(j)
        if src in run.control_sources:
            chicane[j] = float(run.get_run_value(src, "actualDelay"))
    kcol = np.array([np.mean(k[g]) for g in groups])
    ds = xr.Dataset(
        {
            "gap": ("cell", gap, {"units": "mm"}),
            "K": ("cell", k),
            "cell_color": ("cell", color),
            "photon_energy": (
                "color",
                photon_energy(kcol, electron) if ncol else np.zeros(0),
                {"units": "eV"},
            ),
            "chicane_delay": ("color", chicane, {"units": "fs"}),
            "ncells": ("color", np.array([len(g) for g in groups], int)),
        },
        coords={"cell": cells, "color": np.arange(1, ncol + 1)},
        attrs={"electron_energy_GeV": electron, "park_pos": park_pos},
    )
    if plot:
        import matplotlib.pyplot as plt  # heavy: only for plots

        fig, ax = plt.subplots(figsize=(7, 3))
        cols = [("lightgrey" if c == 0 else f"C{c - 1}") for c in color]
        ax.bar(cells, gap, color=cols)
        ax.axhline(park_pos, color="k", ls=":", lw=0.8)
        for c in range(ncol):
            ax.bar(
                [], [], color=f"C{c}", label=f"color {c + 1}: {float(ds.photon_energy[c]):.1f} eV"
            )
        ax.set_xlabel("undulator cell")
        ax.set_ylabel("gap [mm]")
        ax.legend(fontsize="small")
    return ds
