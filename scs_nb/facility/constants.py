"""Physical and detector constants of SCS, each written once.

Values without a public source are marked *inferred* (see devices.md).
"""

from __future__ import annotations

from functools import lru_cache

# -- physics -----------------------------------------------------------------
C_MM_PER_PS = 0.299792458  # speed of light, mm per ps
HC_EV_NM = 1239.84193  # h c in eV nm (photon energy <-> wavelength)

# -- timing ------------------------------------------------------------------
SLOT_RATE_HZ = 1.3e9 / 288  # 4.5 MHz pulse slots (221.5 ns)
SLOTS_PER_TRAIN = 2700
TRAIN_RATE_HZ = 10

# -- digitizers --------------------------------------------------------------
ADQ412_SAMPLES_PER_SLOT = 440  # doubled when the board is interleaved
FASTADC_SAMPLES_PER_SLOT = 24  # ~108.3 MHz FastADC

# -- DSSC 1M -----------------------------------------------------------------
DSSC_NMODULES = 16
DSSC_MODULE_SHAPE = (128, 512)  # (y, x) pixels of one module (2 tiles of 128 x 256)
DSSC_ADC_MAX = 511  # 9-bit ADC
DSSC_PIXEL_SIZE_M = (236e-6, 204e-6)  # hexagonal pixel, (x, y) pitch in m
#: quadrant positions (mm) of the typical SCS DSSC geometry (extra_geom
#: ``DSSC_1MGeometry.from_quad_positions``), the default of the library and
#: of the simulator
DSSC_QUAD_POS = ((-124.100, 3.112), (-133.068, -110.604), (0.988, -125.236), (4.528, 13.141))


@lru_cache(maxsize=8)
def _geometry(quad_pos):
    from extra_geom import DSSC_1MGeometry

    return DSSC_1MGeometry.from_quad_positions([tuple(q) for q in quad_pos])


def dssc_geometry(quad_pos=None):
    """The extra_geom ``DSSC_1MGeometry`` for ``quad_pos`` (default: ``DSSC_QUAD_POS``)."""
    key = tuple(tuple(float(v) for v in q) for q in (quad_pos or DSSC_QUAD_POS))
    return _geometry(key)


# -- cameras -----------------------------------------------------------------
FASTCCD_SHAPE = (1934, 960)
FASTCCD_PIXEL_SIZE_M = 30e-6
MARANAX_SHAPE = (2048, 2048)  # hRIXS Andor Marana X (inferred)
NEWTON_SHAPE = (512, 2048)  # Viking Andor Newton, (y, x)
MARANAX_EV_PER_ADU = 3.65  # hRIXS MaranaX: one ADU per electron-hole pair (inferred)
MARANAX_OFFSET_ADU = 100.0  # hRIXS MaranaX bias level (inferred)
#: Andor Newton (Viking) preamp gain setting (CONTROL ``preampGain``) -> gain factor
NEWTON_PREAMP_GAIN = {0: 1, 1: 2, 2: 4}
#: Andor Newton photoelectrons per count: (HighCapacity, gain factor) -> e-/count
#: (datasheet values, High Sensitivity slightly corrected as the ToolBox does)
NEWTON_E_PER_COUNT = {
    (0, 1): 4.0,
    (0, 2): 2.05,
    (0, 4): 0.97,
    (1, 1): 17.9,
    (1, 2): 9.0,
    (1, 4): 4.5,
}
NEWTON_OFFSET_ADU = 300.0  # Viking Newton bias level (inferred)

# -- SASE3 undulator (inferred layout, see sources.UND_CELL) -----------------
UND_NCELLS = 21
UND_PERIOD_M = 0.068
UND_PARK_GAP_MM = 62.0

# -- photo-electron spectrometer (PES) ------------------------------------------
PES_BOARDS = (1, 2, 3, 4)  # ADQ412 boards of SA3_XTD10_PES/ADC/1
PES_LETTERS = "ABCD"  # channels of each board: 16 flight tubes
#: binding energies (eV) of the PES calibration gases (N 1s, Ne 1s, Kr 3d5/2, Xe 4d5/2)
PES_BINDING_EV = {"N2": 409.9, "Ne": 870.2, "Kr": 93.8, "Xe": 67.5}

#: every constant (upper case) and the geometry factory; ``scs_nb.facility`` offers them all
__all__ = sorted(n for n in dir() if n.isupper() and not n.startswith("_")) + ["dssc_geometry"]
