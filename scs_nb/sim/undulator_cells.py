"""SASE3 undulator cells: gap and K per cell, magnetic chicanes, electron energy.

Inferred layout (no public source; keep it in sync with
``scs_nb.routines.undulator``):

* 21 cells ``SA3_XTD10_UND/DOOCS/U68_{01..21}``, CONTROL keys ``actualGap``
  (mm) and ``Kvalue``; undulator period 68 mm. A parked cell is fully open
  (gap = park position, 62 mm by default).
* magnetic chicanes between colours ``SA3_XTD10_UND/DOOCS/MCHICANE_{1,2}``,
  key ``actualDelay`` (fs).
* electron beam energy ``SA3_XTD10_UND/DOOCS/ELECTRON_ENERGY``, key
  ``actualEnergy`` (GeV).

Physics: photon energy ``E = 2 h c gamma^2 / (lambda_u (1 + K^2 / 2))``;
peak field of a hybrid undulator ``B = 3.44 exp(-g/lu (5.08 - 1.54 g/lu))`` T,
``K = 0.934 lambda_u[cm] B[T]``.
"""
from __future__ import annotations

import numpy as np

from .writer import ControlSource

NCELLS = 21
PERIOD_M = 0.068
CELL = "SA3_XTD10_UND/DOOCS/U68_{:02d}"
CHICANE = "SA3_XTD10_UND/DOOCS/MCHICANE_{}"
ELECTRON = "SA3_XTD10_UND/DOOCS/ELECTRON_ENERGY"
HC_EVM = 1.23984198e-6
ME_GEV = 0.51099895e-3


def k_from_gap(gap_mm):
    r = np.asarray(gap_mm) / (PERIOD_M * 1e3)
    b = 3.44 * np.exp(-r * (5.08 - 1.54 * r))
    return 0.934 * PERIOD_M * 100 * b


def gap_from_k(k):
    gaps = np.linspace(5, 80, 20001)
    ks = k_from_gap(gaps)             # decreasing with the gap
    return float(np.interp(-k, -ks, gaps))


def photon_energy(k, electron_gev):
    gamma = electron_gev / ME_GEV
    return 2 * HC_EVM * gamma ** 2 / (PERIOD_M * (1 + np.asarray(k) ** 2 / 2))


def k_for_energy(energy_ev, electron_gev):
    gamma = electron_gev / ME_GEV
    return float(np.sqrt(2 * (2 * HC_EVM * gamma ** 2 / (PERIOD_M * energy_ev) - 1)))


def add_undulator_cells(run, colors=((930.0, range(1, 11)), (935.0, range(12, 19))),
                        electron_gev=14.0, chicane_fs=(50.0, 0.0), park_pos=62.0):
    """Cells per colour: ``colors`` = ((photon energy eV, cells), ...); other
    cells are parked. Truth: ``truth['undulator_cells']``."""
    n = run.ntrains
    gaps = np.full(NCELLS, park_pos)
    color_of = np.zeros(NCELLS, int)
    for c, (energy, cells) in enumerate(colors, start=1):
        gap = gap_from_k(k_for_energy(energy, electron_gev))
        for cell in cells:
            gaps[cell - 1] = gap
            color_of[cell - 1] = c
    ks = k_from_gap(gaps)
    for i in range(NCELLS):
        run.add(ControlSource(CELL.format(i + 1), "UndulatorCell",
                              {"actualGap": np.full(n, gaps[i], np.float32),
                               "Kvalue": np.full(n, ks[i], np.float32)},
                              units={"actualGap": ("m", "m")}))
    for j, d in enumerate(chicane_fs, start=1):
        run.add(ControlSource(CHICANE.format(j), "MagneticChicane",
                              {"actualDelay": np.full(n, d, np.float32)},
                              units={"actualDelay": ("s", "f")}))
    run.add(ControlSource(ELECTRON, "ElectronEnergy",
                          {"actualEnergy": np.full(n, electron_gev, np.float32)},
                          units={"actualEnergy": ("eV", "G")}))
    run.truth["undulator_cells"] = {
        "gap_mm": gaps.tolist(), "K": ks.tolist(), "color": color_of.tolist(),
        "color_energy_eV": [float(e) for e, _ in colors], "chicane_delay_fs": list(chicane_fs),
        "electron_energy_GeV": electron_gev, "park_pos_mm": park_pos}
