"""Mnemonics: short names for (source, key) pairs of SCS devices.

``mnemonics`` is plain data, as in the ToolBox: each name maps to a tuple of
alternatives, dicts with ``source``, ``key`` and ``dim``; the first alternative
present in a run wins (devices are renamed over the years). Each alternative
also says

* ``kind``: what the data is, so that no code guesses it from the name:
  ``'timing'`` (bunch pattern table, bunch decoder), ``'slow'`` (a CONTROL
  value per train), ``'xgm'`` and ``'bam'`` (pulse-resolved, aligned on the
  bunch pattern by ``get_xgm`` / ``get_bam``), ``'digitizer_raw'`` and
  ``'digitizer_peaks'`` (ADQ412 / FastADC traces and on-board integrals, with
  ``digitizer``: the model, ``'ADQ412'`` or ``'FastADC'``, and ``board``: the
  device, ``'ADQ412'``, ``'FastADC'`` or ``'FastADC2'``, whose ``load`` switch
  (``extract_fadc2=False``...) applies; integrated by ``get_digitizer_peaks``),
  ``'pes_raw'`` (PES time-of-flight traces, read by
  ``get_pes_tof``), ``'camera'`` (images), ``'detector'`` (other
  per-train detector arrays) and ``'fast'`` (other instrument data);
* ``inferred``: True where the source or key has no public reference (it is
  written as SCS names its devices, and the simulator writes it so); the
  README lists them.

Users add or override entries in a session (``kind`` defaults to ``'slow'``
for CONTROL sources and ``'fast'`` otherwise)::

    import scs_nb as tb
    tb.mnemonics['myMotor'] = ({'source': 'SCS_X/MOTOR/Y', 'key': 'actualPosition.value',
                                'dim': None},)

``present_in(run)`` returns, for one open run, the single alternative of each
mnemonic that the run contains (``scs_nb.mnemonics_for_run`` also opens the run
by number); ``resolve`` and ``read`` (``scs_nb.reader``) are the one way from a
mnemonic to data. This module is data: it opens no run and reads nothing.
"""

from __future__ import annotations

import difflib

from .errors import ToolBoxValueError
from .facility import sources as S

#: the digitizer board (a ``load`` switch each) of each digitizer device
BOARD_OF = {S.FASTADC: "FastADC", S.FASTADC2: "FastADC2"}

KINDS = (
    "timing",
    "slow",
    "xgm",
    "bam",
    "digitizer_raw",
    "digitizer_peaks",
    "pes_raw",
    "camera",
    "detector",
    "fast",
)


def _m(kind, *alternatives, inferred=None, **extra):
    """Alternatives ``(source, key, dim)`` of one mnemonic of ``kind``.
    ``inferred`` defaults to whether the source is in facility.sources.INFERRED."""
    if "digitizer" in extra:
        extra.setdefault("board", extra["digitizer"])
    out = []
    for src, key, dim in alternatives:
        base = src.split(":")[0]
        inf = inferred if inferred is not None else (src in S.INFERRED or base in S.INFERRED)
        out.append(
            {"source": src, "key": key, "dim": dim, "kind": kind, "inferred": bool(inf), **extra}
        )
    return tuple(out)


def _slow(src, key="actualPosition.value", inferred=True):
    return _m("slow", (src, key, None), inferred=inferred)


def _camera(src, key="data.image.pixels", dim=("x", "y"), inferred=True):
    return _m("camera", (src, key, list(dim)), inferred=inferred)


def _build_table() -> dict:
    D = S.BUNCH_DECODER
    t = {
        # -- timing ----------------------------------------------------------------
        "bunchPatternTable": _m(
            "timing",
            (S.TIMESERVER_PIPELINE, "data.bunchPatternTable", ["pulse_slot"]),
            (S.TIMESERVER, "bunchPatternTable.value", ["pulse_slot"]),
        ),
        "bunchpattern": _m(
            "timing", (S.TIMESERVER, "readBunchPatternTable.value", None), inferred=True
        ),
        # -- photon energy, mono, undulator, chicane --------------------------------
        "nrj": _m("slow", (S.MONO, "actualEnergy.value", None)),
        "nrj_target": _m("slow", (S.MONO, "targetEnergy.value", None)),
        "mono_order": _m("slow", (S.MONO, "order.value", None)),
        "M2BEND": _slow("SA3_XTD10_MIRR-2/MOTOR/BENDER", "encoderPosition.value"),
        "UND": _m("slow", (S.UND, "actualPosition.value", None)),
        "UND2": _slow(S.UND_COLOR.format(2)),
        "UND3": _slow(S.UND_COLOR.format(3)),
        "MAG_CHICANE_DELAY": _slow(S.UND_CHICANE.format(1), "actualDelay.value"),
        "AppleX": _m("slow", (S.APPLE_X, "polarization.value", None)),
        # -- attenuators, slits ---------------------------------------------------
        "transmission": _slow(
            "SA3_XTD10_GATT/MDL/GATT_TRANSMISSION_MONITOR", "Estimated_Tr.value"
        ),
        "transmission_setpoint": _slow(
            "SA3_XTD10_GATT/MDL/GATT_TRANSMISSION_MONITOR", "Set_Tr.value"
        ),
        "transmission_col2": _slow(
            "SA3_XTD10_GATT/MDL/GATT_TRANSMISSION_MONITOR", "Estimated_Tr_col2.value"
        ),
        "GATT_pressure": _slow("SA3_XTD10_GATT/GAUGE/G30510C", "value.value"),
        "VSLIT": _slow("SA3_XTD10_VSLIT/MDL/BLADE", "actualGap.value"),
        "HSLIT": _slow("SCS_XTD10_HSLIT/MDL/BLADE", "actualGap.value"),
        "ESLIT": _slow("SCS_XTD10_ESLIT/MDL/MAIN", "actualGap.value"),
        # -- KB benders, horizontal FDM ---------------------------------------------
        "VFM_BENDERB": _slow("SCS_KBS_VFM/ASENS/VFM_BENDERB", "encoderPosition.value"),
        "VFM_BENDERF": _slow("SCS_KBS_VFM/ASENS/VFM_BENDERF", "encoderPosition.value"),
        "HFM_BENDERB": _slow("SCS_KBS_HFM/ASENS/HFM_BENDERB", "encoderPosition.value"),
        "HFM_BENDERF": _slow("SCS_KBS_HFM/ASENS/HFM_BENDERF", "encoderPosition.value"),
        "HFDM": _slow("SCS_BLU_FDM/MOTOR/HFDM_X"),
        "DSSC_fineDelay": _slow(S.DSSC_PPT, S.DSSC_FINE_DELAY_KEY + ".value"),
        # -- pump-probe laser ---------------------------------------------------------
        "PP800_DelayLine": _m(
            "slow", (S.DELAY_LINE, "AActualPosition.value", None), inferred=False
        ),
        "PP800_PhaseShifter": _m(
            "slow", (S.PHASE_SHIFTER, "actualPosition.value", None), inferred=False
        ),
        "PP800_SynchDelayLine": _slow("SCS_ILH_LAS/DOOCS/PPL_OPT_DELAY"),
        "PP800_HalfWP": _slow("SCS_ILH_LAS/MOTOR/ROT8WP1"),
        "PP800_FocusLens": _slow("SCS_ILH_LAS/MOTOR/LT_SPARE1"),
        "PP800_HWP_POWER": _slow("SCS_ILH_LAS/MDL/THOR_HWP_POWER", "actualPower.value"),
        "AFS_DelayLine": _slow("SCS_ILH_LAS/MOTOR/LT2"),
        "AFS_FocusLens": _slow("SCS_ILH_LAS/MOTOR/LT_SPARE2"),
        "LIN_FocusLens": _slow("SCS_ILH_LAS/MOTOR/LT_SPARE3"),
        "hRIXS_delay": _slow("SCS_ILH_LAS/MDL/OPTICALDELAY_PP800"),
        # -- sample environment ----------------------------------------------------
        "scannerX": _slow("SCS_CDIFFT_SAM/LMOTOR/SCANNERX"),
        "scannerY": _slow("SCS_CDIFFT_SAM/MOTOR/SCANNERY"),
        "magnet": _m(
            "slow", ("SCS_CDIFFT_MAG/SUPPLY/CURRENT", "actualCurrent.value", None), inferred=False
        ),
        "magnet_current": _slow("SCS_CDIFFT_MAG/ASENS/CURRENT", "value.value"),
        "FFT_SAM_Z": _slow("SCS_CDIFFT_MOV/MOTOR/SAM_Z"),
        "FFT_SAM_Z_ENC": _slow("SCS_CDIFFT_MOV/ENC/SAM_Z", "value.value"),
        "FFT_SAM_X": _slow("SCS_CDIFFT_MOV/MOTOR/SAM_X"),
        "FFT_SAM_Y": _slow("SCS_CDIFFT_MOV/MOTOR/SAM_Y"),
        "FFT_focus_lens": _slow("SCS_CDIFFT_FOC/MOTOR/FOCUS_LENS"),
        # the spelling of client code (as PP800_FocusLens, AFS_FocusLens): the same motor
        "FFT_FocusLens": _slow("SCS_CDIFFT_FOC/MOTOR/FOCUS_LENS"),
        "CHEM_X": _slow("SCS_CHEM_DIAG/MOTOR/X"),
        "CHEM_Y": _slow("SCS_CHEM_DIAG/MOTOR/Y"),
        "CHEM_Z": _slow("SCS_CHEM_DIAG/MOTOR/Z"),
        # -- cameras and detectors ----------------------------------------------
        "fastccd": _camera(S.FASTCCD, inferred=False),
        "MaranaX": _camera(S.MARANAX + ":daqOutput"),
        "hRIXS_det": _camera(S.MARANAX + ":daqOutput"),
        "hRIXS_exposure": _slow(S.MARANAX, "exposureTime.value"),
        "hRIXS_norm": _slow(S.XGM["SCS"], "pulseEnergy.photonFlux.value"),
        "newton": _camera(S.NEWTON + ":daqOutput", dim=("newt_y", "newt_x")),
        "MTE3": _camera(S.MTE3),
        "LLC_webcam1": _camera(S.LLC_WEBCAM1),
        "CHEM_cam": _camera(S.CHEM_CAM),
        "GH2_1": _m(
            "detector",
            ("SCS_PAM_XOX/DET/GOTTHARD_RECEIVER1:daqOutput", "data.adc", ["gh2_pId", "gh2_pixel"]),
            inferred=True,
        ),
        "GH2_2": _m(
            "detector",
            ("SCS_PAM_XOX/DET/GOTTHARD_RECEIVER2:daqOutput", "data.adc", ["gh2_pId", "gh2_pixel"]),
            inferred=True,
        ),
        # -- Viking spectrometer (Andor Newton) ------------------------------------
        "VIKING_preampGain": _slow(S.NEWTON, "preampGain.value"),
        "VIKING_HighCapacity": _slow(S.NEWTON, "HighCapacity.value"),
        "VIKING_exposure": _slow(S.NEWTON, "exposureTime.value"),
        "VIKING_temperature": _slow(S.NEWTON, "temperature.value"),
        # -- PES ---------------------------------------------------------------------
        "PES_RV": _slow(S.PES_MPOD, "channels.U0.voltage.value"),
        "PES_gas_pressure": _slow("SA3_XTD10_PES/GAUGE/G30310F", "value.value"),
        **{f"PES_{gas}": _slow(dev, "isOpen.value") for gas, dev in S.PES_GAS_VALVE.items()},
    }
    # XRD chamber sample stages
    for axis in (
        "STX",
        "STY",
        "STZ",
        "DRY",
        "SRX",
        "SRY",
        "SRZ",
        "SXT1Y",
        "SXT2Y",
        "SXTX",
        "SXTZ",
    ):
        t[f"XRD_{axis}"] = _slow(f"SCS_XRD_MOTOR/MOTOR/{axis}")
    # bunch decoder: pulse ids and counts per location
    for loc in ("sase1", "sase2", "sase3", "laser", "maindump", "tpi"):
        inf = loc in ("sase2", "maindump", "tpi")
        t[loc] = _m("timing", (D, f"{loc}.pulseIds.value", ["bunchId"]), inferred=inf)
        t[f"npulses_{loc}"] = _m("timing", (D, f"{loc}.nPulses.value", None), inferred=inf)
    # XGMs
    for name, dev in S.XGM.items():
        for suffix, key, loc in (
            ("XGM", "intensityTD", "all"),
            ("SA3", "intensitySa3TD", "sase3"),
            ("SA1", "intensitySa1TD", "sase1"),
        ):
            t[f"{name}_{suffix}"] = _m(
                "xgm",
                (dev + ":output", f"data.{key}", ["XGMbunchId"]),
                inferred=False,
                location=loc,
            )
        for suffix, key in (
            ("photonFlux", "photonFlux"),
            ("photonFlux_sigma", "photonFluxSigma"),
            ("nSa3Bunches", "numberOfSa3BunchesActual"),
            ("nSa1Bunches", "numberOfSa1BunchesActual"),
            ("slowTrain", "slowTrain"),
            ("slowTrainSA3", "slowTrainSa3"),
            ("slowTrainSA1", "slowTrainSa1"),
        ):
            t[f"{name}_{suffix}"] = _m(
                "slow",
                (dev, f"pulseEnergy.{key}.value", None),
                inferred=key
                not in ("photonFlux", "numberOfSa3BunchesActual", "numberOfSa1BunchesActual"),
            )
    # ADQ412 (TIM / MCP), XTD10 MCP
    for n, ch in S.MCP_ADQ_LETTER.items():
        net = S.ADQ412 + ":network"
        t[f"MCP{n}apd"] = _m(
            "digitizer_peaks",
            (net, f"digitizers.channel_1_{ch}.apd.pulseIntegral", ["apdId"]),
            inferred=False,
            digitizer="ADQ412",
        )
        t[f"MCP{n}raw"] = _m(
            "digitizer_raw",
            (net, f"digitizers.channel_1_{ch}.raw.samples", ["samplesId"]),
            inferred=False,
            digitizer="ADQ412",
        )
    for n, ch in ((1, "D"), (2, "C"), (3, "B"), (5, "A")):
        net = S.XTD10_MCP_ADQ + ":network"
        t[f"XTD10_MCP{n}apd"] = _m(
            "digitizer_peaks",
            (net, f"digitizers.channel_1_{ch}.apd.pulseIntegral", ["apdId"]),
            digitizer="ADQ412",
        )
        t[f"XTD10_MCP{n}raw"] = _m(
            "digitizer_raw",
            (net, f"digitizers.channel_1_{ch}.raw.samples", ["samplesId"]),
            digitizer="ADQ412",
        )
    # FastADC 1 and 2, every channel; named photodiodes on FastADC channels
    for n in range(10):
        for prefix, dev in (("FastADC", S.FASTADC), ("FastADC2_", S.FASTADC2)):
            src = f"{dev}:channel_{n}.output"
            board = BOARD_OF[dev]
            t[f"{prefix}{n}raw"] = _m(
                "digitizer_raw",
                (src, "data.rawData", ["fadc_samplesId"]),
                digitizer="FastADC",
                board=board,
            )
            t[f"{prefix}{n}peaks"] = _m(
                "digitizer_peaks",
                (src, "data.peaks", ["peakId"]),
                digitizer="FastADC",
                board=board,
            )
    for name, (dev, n) in {
        "I0_ILH": (S.FASTADC, 5),
        "ILH_I0": (S.FASTADC, 5),
        "FFT_PD2": (S.FASTADC, 2),
        "FFT_MCP": (S.FASTADC, 3),
        "FFT_REFL": (S.FASTADC, 6),
        "ILH_8CAM5": (S.FASTADC2, 1),
    }.items():
        src = f"{dev}:channel_{n}.output"
        t[f"{name}raw"] = _m(
            "digitizer_raw",
            (src, "data.rawData", ["fadc_samplesId"]),
            digitizer="FastADC",
            board=BOARD_OF[dev],
        )
        t[f"{name}peaks"] = _m(
            "digitizer_peaks",
            (src, "data.peaks", ["peakId"]),
            digitizer="FastADC",
            board=BOARD_OF[dev],
        )
    # BAMs: pulse-resolved arrival time, train averages, feedback corrections
    for name, dev in S.BAM.items():
        t[name] = _m("bam", (dev + ":output", "data.absoluteTD", ["BAMbunchId"]))
        t[f"{name}_avg"] = _m("slow", (dev, "arrivalTime.average.value", None))
        t[f"{name}_feedback"] = _m("slow", (dev, "feedback.correction.value", None))
    # PES digitizer channels
    for ch in range(1, 5):
        for letter in "ABCD":
            t[f"PES_{ch}{letter}raw"] = _m(
                "pes_raw",
                (
                    S.PES_ADQ + ":network",
                    f"digitizers.channel_{ch}_{letter}.raw.samples",
                    ["PESsampleId"],
                ),
                inferred=False,
                digitizer="ADQ412",
            )
    return t


#: The mnemonic table. Mutable: add or override entries in a session.
mnemonics: dict = _build_table()


def alternatives(name) -> tuple:
    """The alternatives of mnemonic ``name``, each a dict with ``source``, ``key``, ``dim``.

    Parameters
    ----------
    name : str
        A mnemonic of the table.

    Returns
    -------
    tuple of dict
        In the order they are tried (a single dict entry is returned as a 1-tuple).
    """
    alts = mnemonics[name]
    if isinstance(alts, dict):  # a single alternative given as a dict
        alts = (alts,)
    return alts


def names_of_kind(*kinds) -> list:
    """Mnemonics of the table whose (first) alternative is of one of ``kinds``."""
    return [n for n in mnemonics if kind_of(alternatives(n)[0]) in kinds]


def kind_of(alt) -> str:
    """The kind of an alternative; user entries without one: 'slow' for a
    CONTROL source (no ':' in the name), 'fast' otherwise."""
    k = alt.get("kind")
    if k:
        return k
    return "fast" if ":" in alt["source"] else "slow"


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
        available = sorted(present_in(run))
        close = difflib.get_close_matches(name, list(mnemonics), n=3, cutoff=0.6)
        hint = f"Did you mean {', '.join(close)}? " if close else ""
        raise ToolBoxValueError(
            f"unknown mnemonic {name!r}. {hint}Mnemonics available in this run: "
            f"{', '.join(available)}. Pass one of these, or a dict "
            "{'source': ..., 'key': ..., 'dim': ...} for other data."
        )
    for alt in alternatives(name):
        if _has(run, alt["source"], alt["key"]):
            return dict(alt)
    wanted = ", ".join(f"{a['source']} ({a['key']})" for a in alternatives(name))
    raise ToolBoxValueError(
        f"mnemonic {name!r} is not in this run: source {wanted} is missing. "
        "See run.all_sources for what the run contains."
    )


def present_in(run) -> dict:
    """Mnemonics present in an open run, each with its one applicable alternative.

    Parameters
    ----------
    run : extra_data.DataCollection
        An open run.

    Returns
    -------
    dict
        Mnemonic name -> ``{'source', 'key', 'dim', ...}`` (the first alternative
        whose source and key the run has).
    """
    sources = run.all_sources
    keys_cache: dict = {}
    out = {}
    for name in mnemonics:
        for alt in alternatives(name):
            src = alt["source"]
            if src not in sources:
                continue
            if src not in keys_cache:
                keys_cache[src] = run[src].keys()
            if alt["key"] in keys_cache[src]:
                out[name] = dict(alt)
                break
    return out
