"""Mnemonics: short names for (source, key) pairs of SCS devices.

``mnemonics`` is plain data: each name maps to a tuple of alternatives
``{'source', 'key', 'dim'}``; the first alternative present in a run wins
(devices are renamed over the years). Users add or override entries::

    import scs_nb as tb
    tb.mnemonics['myMotor'] = ({'source': 'SCS_X/MOTOR/Y', 'key': 'actualPosition.value',
                                'dim': None},)

``mnemonics_for_run(run)`` returns, for one run, the single alternative of each
mnemonic that the run contains.
"""
from __future__ import annotations

from .errors import ToolBoxValueError


def _m(*alternatives):
    return tuple({"source": s, "key": k, "dim": d} for s, k, d in alternatives)


_XGMS = {"SCS": "SCS_BLU_XGM/XGM/DOOCS", "XTD10": "SA3_XTD10_XGM/XGM/DOOCS"}
_ADQ = "SCS_UTC1_ADQ/ADC/1:network"
_ADQ_CHANNELS = {1: "D", 2: "C", 3: "B", 4: "A"}
_BAMS = {"BAM414": "SCS_ILH_LAS/DOOCS/BAM_414_B2",
         "BAM1932M": "SCS_ILH_LAS/DOOCS/BAM_1932M_TL",
         "BAM1932S": "SCS_ILH_LAS/DOOCS/BAM_1932S_TL"}
_DECODER = "SCS_RR_UTC/MDL/BUNCH_DECODER"
# pulse-resolved mnemonics that scs_nb.pulses aligns on the bunch pattern
# (the fast XGM channels and the BAMs of the table below)
_PULSE_XGMS = tuple(f"{w}_{k}" for w in _XGMS for k in ("XGM", "SA3", "SA1"))
_PULSE_BAMS = tuple(_BAMS)


def _build_table() -> dict:
    t = {
        # timing
        "bunchPatternTable": _m(
            ("SCS_RR_UTC/TSYS/TIMESERVER:outputBunchPattern", "data.bunchPatternTable",
             ["pulse_slot"]),
            ("SCS_RR_UTC/TSYS/TIMESERVER", "bunchPatternTable.value", ["pulse_slot"])),
        "sase1": _m((_DECODER, "sase1.pulseIds.value", ["bunchId"])),
        "sase3": _m((_DECODER, "sase3.pulseIds.value", ["bunchId"])),
        "laser": _m((_DECODER, "laser.pulseIds.value", ["bunchId"])),
        "npulses_sase1": _m((_DECODER, "sase1.nPulses.value", None)),
        "npulses_sase3": _m((_DECODER, "sase3.nPulses.value", None)),
        "npulses_laser": _m((_DECODER, "laser.nPulses.value", None)),
        # photon energy, undulator
        "nrj": _m(("SA3_XTD10_MONO/MDL/PHOTON_ENERGY", "actualEnergy.value", None)),
        "nrj_target": _m(("SA3_XTD10_MONO/MDL/PHOTON_ENERGY", "targetEnergy.value", None)),
        "UND": _m(("SA3_XTD10_UND/DOOCS/PHOTON_ENERGY", "actualPosition.value", None)),
        # laser
        "PP800_DelayLine": _m(("SCS_ILH_LAS/MOTOR/LT3", "AActualPosition.value", None)),
        "PP800_PhaseShifter": _m(("SCS_ILH_LAS/DOOCS/PP800_PHASESHIFTER",
                                  "actualPosition.value", None)),
        # sample environment
        "scannerX": _m(("SCS_CDIFFT_SAM/LMOTOR/SCANNERX", "actualPosition.value", None)),
        "scannerY": _m(("SCS_CDIFFT_SAM/MOTOR/SCANNERY", "actualPosition.value", None)),
        "magnet": _m(("SCS_CDIFFT_MAG/SUPPLY/CURRENT", "actualCurrent.value", None)),
        # detectors read by camera-like devices
        "fastccd": _m(("SCS_CDIDET_FCCD2M/DAQ/FCCD:daqOutput", "data.image.pixels",
                       ["x", "y"])),
        "hRIXS_det": _m(("SCS_HRIXS_DET/CAM/CAMERA:daqOutput", "data.image.pixels",
                         ["x", "y"])),
        "MaranaX": _m(("SCS_HRIXS_DET/CAM/CAMERA:daqOutput", "data.image.pixels",
                       ["x", "y"])),
        "newton": _m(("SCS_EXP_NEWTON/CAM/CAMERA:daqOutput", "data.image.pixels",
                      ["newt_y", "newt_x"])),
    }
    for name, dev in _XGMS.items():
        t[f"{name}_XGM"] = _m((dev + ":output", "data.intensityTD", ["XGMbunchId"]))
        t[f"{name}_SA3"] = _m((dev + ":output", "data.intensitySa3TD", ["XGMbunchId"]))
        t[f"{name}_SA1"] = _m((dev + ":output", "data.intensitySa1TD", ["XGMbunchId"]))
        t[f"{name}_photonFlux"] = _m((dev, "pulseEnergy.photonFlux.value", None))
        t[f"{name}_nSa3Bunches"] = _m((dev, "pulseEnergy.numberOfSa3BunchesActual.value",
                                       None))
        t[f"{name}_nSa1Bunches"] = _m((dev, "pulseEnergy.numberOfSa1BunchesActual.value",
                                       None))
    for n, ch in _ADQ_CHANNELS.items():
        t[f"MCP{n}apd"] = _m((_ADQ, f"digitizers.channel_1_{ch}.apd.pulseIntegral",
                              ["apdId"]))
        t[f"MCP{n}raw"] = _m((_ADQ, f"digitizers.channel_1_{ch}.raw.samples",
                              ["samplesId"]))
    for n in range(10):
        for prefix, dev in (("FastADC", "SCS_UTC1_MCP/ADC/1"),
                            ("FastADC2_", "SCS_UTC2_FADC/ADC/1")):
            src = f"{dev}:channel_{n}.output"
            t[f"{prefix}{n}raw"] = _m((src, "data.rawData", ["fadc_samplesId"]))
            t[f"{prefix}{n}peaks"] = _m((src, "data.peaks", ["peakId"]))
    for name, dev in _BAMS.items():
        t[name] = _m((dev + ":output", "data.absoluteTD", ["BAMbunchId"]))
    for ch in range(1, 5):
        for letter in "ABCD":
            t[f"PES_{ch}{letter}raw"] = _m((
                "SA3_XTD10_PES/ADC/1:network",
                f"digitizers.channel_{ch}_{letter}.raw.samples", ["PESsampleId"]))
    return t


#: The mnemonic table. Mutable: add or override entries in a session.
mnemonics: dict = _build_table()


def _alternatives(name):
    alts = mnemonics[name]
    if isinstance(alts, dict):  # a single alternative given as a dict
        alts = (alts,)
    return alts


def _has(run, source, key) -> bool:
    if source not in run.all_sources:
        return False
    if key is None:
        return True
    try:
        return key in run[source].keys()
    except Exception:  # pragma: no cover - a source listed but unreadable
        return False


def mnemonic_alternative(run, name):
    """The first alternative of mnemonic ``name`` present in ``run``.

    Raises ToolBoxValueError naming the sources that were looked for.
    """
    if name not in mnemonics:
        available = sorted(mnemonics_for_run(run))
        raise ToolBoxValueError(
            f"unknown mnemonic {name!r}. Mnemonics available in this run: "
            f"{', '.join(available)}. Pass one of these, or a dict "
            "{'source': ..., 'key': ..., 'dim': ...} for other data.")
    for alt in _alternatives(name):
        if _has(run, alt["source"], alt["key"]):
            return dict(alt)
    wanted = ", ".join(f"{a['source']} ({a['key']})" for a in _alternatives(name))
    raise ToolBoxValueError(
        f"mnemonic {name!r} is not in this run: source {wanted} is missing. "
        "See run.all_sources for what the run contains.")


def mnemonics_for_run(prop_or_run, runNB=None):
    """Mnemonics present in a run, each with its one applicable alternative.

    Parameters
    ----------
    prop_or_run: extra_data DataCollection or int
        the run, or a proposal number (then ``runNB`` is required).
    runNB: int
        the run number when ``prop_or_run`` is a proposal number.

    Returns
    -------
    dict: mnemonic name -> {'source', 'key', 'dim'}
    """
    if isinstance(prop_or_run, (int, str)) and not hasattr(prop_or_run, "all_sources"):
        if runNB is None:
            raise ToolBoxValueError("mnemonics_for_run(proposal, runNB): runNB is required "
                                    "when a proposal number is given")
        from .load import open_run
        run = open_run(prop_or_run, runNB)
    else:
        run = prop_or_run
    sources = run.all_sources
    keys_cache: dict = {}
    out = {}
    for name in mnemonics:
        for alt in _alternatives(name):
            src = alt["source"]
            if src not in sources:
                continue
            if src not in keys_cache:
                keys_cache[src] = run[src].keys()
            if alt["key"] in keys_cache[src]:
                out[name] = dict(alt)
                break
    return out
