"""SASE3 undulator cells: gap and K per cell, magnetic chicanes, electron energy.

Inferred layout (no public source; the sources are in ``scs_nb.facility.sources``,
the physics in ``scs_nb.routines.undulator``):

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

from ..facility import UND_NCELLS as NCELLS
from ..facility import UND_PARK_GAP_MM
from ..facility.sources import UND_CELL as CELL
from ..facility.sources import UND_CHICANE as CHICANE
from ..facility.sources import UND_ELECTRON as ELECTRON
from ..routines.undulator import gap_from_k, k_for_energy, k_from_gap
from .writer import ControlSource


def add_undulator_cells(
    run,
    colors=((930.0, range(1, 11)), (935.0, range(12, 19))),
    electron_gev=14.0,
    chicane_fs=(50.0, 0.0),
    park_pos=UND_PARK_GAP_MM,
):
    """Write the SASE3 undulator cells tuned to one or more colours.

    Parameters
    ----------
    run : SimRun
        The run being built.
    colors : sequence of (float, sequence of int)
        ``((photon energy eV, cells), ...)``: the cells (1-based) of each
        colour; other cells are parked.
    electron_gev : float
        Electron energy in GeV.
    chicane_fs : sequence of float
        Delays of the magnetic chicanes in fs.
    park_pos : float
        Gap of the parked cells in mm.

    Returns
    -------
    None
        Gaps (mm), K, colour per cell, ... go to
        ``run.truth['undulator_cells']``.
    """
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
        run.add(
            ControlSource(
                CELL.format(i + 1),
                "UndulatorCell",
                {
                    "actualGap": np.full(n, gaps[i], np.float32),
                    "Kvalue": np.full(n, ks[i], np.float32),
                },
                units={"actualGap": ("m", "m")},
            )
        )
    for j, d in enumerate(chicane_fs, start=1):
        run.add(
            ControlSource(
                CHICANE.format(j),
                "MagneticChicane",
                {"actualDelay": np.full(n, d, np.float32)},
                units={"actualDelay": ("s", "f")},
            )
        )
    run.add(
        ControlSource(
            ELECTRON,
            "ElectronEnergy",
            {"actualEnergy": np.full(n, electron_gev, np.float32)},
            units={"actualEnergy": ("eV", "G")},
        )
    )
    run.truth["undulator_cells"] = {
        "gap_mm": gaps.tolist(),
        "K": ks.tolist(),
        "color": color_of.tolist(),
        "color_energy_eV": [float(e) for e, _ in colors],
        "chicane_delay_fs": list(chicane_fs),
        "electron_energy_GeV": electron_gev,
        "park_pos_mm": park_pos,
    }
