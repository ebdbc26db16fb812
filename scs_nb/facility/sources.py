"""Device sources of SCS run files (see devices.md). ``INFERRED`` lists the
sources that have no public reference: they are written as SCS names them, the
simulator writes them so, and the mnemonic table marks them ``inferred``.
"""

from __future__ import annotations

from .constants import FASTCCD_SHAPE, MARANAX_SHAPE, NEWTON_SHAPE

# timing
TIMESERVER = "SCS_RR_UTC/TSYS/TIMESERVER"
TIMESERVER_PIPELINE = TIMESERVER + ":outputBunchPattern"
BUNCH_DECODER = "SCS_RR_UTC/MDL/BUNCH_DECODER"
PPL_PULSES = "SCS_ILH_LAS/MDL/PPL_PULSES"  # laserSource run value (EXtra)

# XGMs: CONTROL device and its ':output' pipeline
XGM = {"SCS": "SCS_BLU_XGM/XGM/DOOCS", "XTD10": "SA3_XTD10_XGM/XGM/DOOCS"}

# digitizers: device -> pipeline ':network' (ADQ412) or ':channel_N.output' (FastADC)
ADQ412 = "SCS_UTC1_ADQ/ADC/1"
ADQ412_2 = "SCS_UTC2_ADQ/ADC/1"
XTD10_MCP_ADQ = "SA3_XTD10_MCP/ADC/1"
PES_ADQ = "SA3_XTD10_PES/ADC/1"
FASTADC = "SCS_UTC1_MCP/ADC/1"
FASTADC2 = "SCS_UTC2_FADC/ADC/1"
DIGITIZERS = {"FastADC": FASTADC, "FastADC2": FASTADC2, "ADQ412": ADQ412, "ADQ412_2": ADQ412_2}
#: ADQ412 channel letter of each MCP (MCP1 -> D, ..., MCP4 -> A)
MCP_ADQ_LETTER = {1: "D", 2: "C", 3: "B", 4: "A"}

# BAMs: CONTROL device and ':output'
BAM = {
    "BAM414": "SCS_ILH_LAS/DOOCS/BAM_414_B2",
    "BAM1932M": "SCS_ILH_LAS/DOOCS/BAM_1932M_TL",
    "BAM1932S": "SCS_ILH_LAS/DOOCS/BAM_1932S_TL",
}

# photon energy, undulator
MONO = "SA3_XTD10_MONO/MDL/PHOTON_ENERGY"
UND = "SA3_XTD10_UND/DOOCS/PHOTON_ENERGY"
UND_COLOR = "SA3_XTD10_UND/DOOCS/PHOTON_ENERGY_COLOR{}"
UND_CELL = "SA3_XTD10_UND/DOOCS/U68_{:02d}"
UND_CHICANE = "SA3_XTD10_UND/DOOCS/MCHICANE_{}"
UND_ELECTRON = "SA3_XTD10_UND/DOOCS/ELECTRON_ENERGY"
APPLE_X = "SA3_XTD10_UND/DOOCS/APPLE_X"

# laser
DELAY_LINE = "SCS_ILH_LAS/MOTOR/LT3"
PHASE_SHIFTER = "SCS_ILH_LAS/DOOCS/PP800_PHASESHIFTER"

# detectors
DSSC_MODULE = "SCS_DET_DSSC1M-1/DET/{}CH0:xtdf"
FASTCCD = "SCS_CDIDET_FCCD2M/DAQ/FCCD:daqOutput"
MARANAX = "SCS_HRIXS_DET/CAM/CAMERA"
NEWTON = "SCS_EXP_NEWTON/CAM/CAMERA"
PES_MPOD = "SA3_XTD10_PES/MCPS/MPOD"
#: MPOD key of the retardation voltage of each PES channel ('1A' -> U0 ... '4D' -> U15,
#: inferred), without the '.value' suffix
PES_RV_KEY = {
    f"{b}{letter}": f"channels.U{(b - 1) * 4 + i}.voltage"
    for b in (1, 2, 3, 4)
    for i, letter in enumerate("ABCD")
}
#: PES gas inlet valves (inferred names), key ``isOpen.value``
PES_GAS_VALVE = {
    "N2": "SA3_XTD10_PES/DCTRL/V30300S_NITROGEN",
    "Ne": "SA3_XTD10_PES/DCTRL/V30310S_NEON",
    "Kr": "SA3_XTD10_PES/DCTRL/V30320S_KRYPTON",
    "Xe": "SA3_XTD10_PES/DCTRL/V30330S_XENON",
}

#: sources without a public reference (devices.md marks them so)
INFERRED = {
    TIMESERVER_PIPELINE,
    FASTADC,
    FASTADC2,
    ADQ412_2,
    XTD10_MCP_ADQ,
    *BAM.values(),
    MONO,
    UND,
    UND_COLOR,
    UND_CELL,
    UND_CHICANE,
    UND_ELECTRON,
    APPLE_X,
    MARANAX,
    NEWTON,
    PES_MPOD,
    PPL_PULSES,
    *PES_GAS_VALVE.values(),
}


def dssc_module_source(module: int) -> str:
    """The XTDF source of DSSC module ``module`` (0-15)."""
    return DSSC_MODULE.format(int(module))


# cameras and detectors: entry shape of one image (inferred where no public source)
MTE3 = "SCS_CDIDET_MTE3/CAM/CAMERA:daqOutput"
LLC_WEBCAM1 = "SCS_LLC_CAM/CAM/WEBCAM1:output"
CHEM_CAM = "SCS_CHEM_DIAG/CAM/CAMERA:daqOutput"


#: image shape of each camera source
CAMERA_SHAPE = {
    FASTCCD: FASTCCD_SHAPE,
    MARANAX + ":daqOutput": MARANAX_SHAPE,
    NEWTON + ":daqOutput": NEWTON_SHAPE,
    MTE3: (2048, 2048),
    LLC_WEBCAM1: (480, 640),
    CHEM_CAM: (1024, 1024),
}
#: Gotthard II: pulses per train recorded and strip pixels (inferred)
GOTTHARD2_SHAPE = (60, 1280)

# DSSC PPT (FPGA) device holding the fine trigger delay setting (inferred: no
# public reference of this source and key)
DSSC_PPT = "SCS_DET_DSSC1M-1/FPGA/PPT_Q1"
DSSC_FINE_DELAY_KEY = "sequencer.fineTriggerDelay"
INFERRED.add(DSSC_PPT)
