"""The mnemonic table covers the ToolBox's families, says what each entry is,
and every mnemonic loads from a simulated run."""

import subprocess
import sys

import numpy as np
import pytest

import scs_nb as tb
from scs_nb.facility import sources
from scs_nb.mnemonics import KINDS, alternatives

#: the families the ToolBox release notes name, by example: each must be in the table
FAMILIES = {
    "attenuators": ["transmission", "transmission_setpoint", "transmission_col2", "GATT_pressure"],
    "slits": ["VSLIT", "HSLIT", "ESLIT"],
    "XRD stages": [
        "XRD_STX",
        "XRD_STY",
        "XRD_STZ",
        "XRD_DRY",
        "XRD_SRX",
        "XRD_SRY",
        "XRD_SRZ",
        "XRD_SXT1Y",
        "XRD_SXT2Y",
        "XRD_SXTX",
        "XRD_SXTZ",
    ],
    "FFT": ["FFT_focus_lens", "FFT_FocusLens", "FFT_SAM_Z", "FFT_SAM_Z_ENC"],
    "KB benders": ["VFM_BENDERB", "VFM_BENDERF", "HFM_BENDERB", "HFM_BENDERF"],
    "horizontal FDM": ["HFDM"],
    "cameras": [
        "newton",
        "MTE3",
        "LLC_webcam1",
        "fastccd",
        "MaranaX",
        "hRIXS_det",
        "hRIXS_exposure",
        "hRIXS_delay",
        "hRIXS_norm",
    ],
    "Gotthard II": ["GH2_1", "GH2_2"],
    "Chem diagnostics": ["CHEM_X", "CHEM_Y", "CHEM_Z", "CHEM_cam"],
    "XTD10 MCP": ["XTD10_MCP1raw", "XTD10_MCP3apd", "XTD10_MCP5raw"],
    "BAM": ["BAM414", "BAM1932M", "BAM1932S", "BAM1932M_avg", "BAM1932S_feedback"],
    "Viking": ["newton", "VIKING_preampGain", "VIKING_HighCapacity"],
    "PES": [f"PES_{c}{l}raw" for c in range(1, 5) for l in "ABCD"] + ["PES_RV"],
    "FastADC": [f"FastADC{n}{s}" for n in range(10) for s in ("raw", "peaks")]
    + [f"FastADC2_{n}{s}" for n in range(10) for s in ("raw", "peaks")],
    "undulator": [
        "UND",
        "UND2",
        "UND3",
        "MAG_CHICANE_DELAY",
        "mono_order",
        "M2BEND",
        "maindump",
        "tpi",
        "sase2",
        "npulses_sase2",
        "AppleX",
    ],
    "laser": [
        "PP800_DelayLine",
        "PP800_PhaseShifter",
        "PP800_HalfWP",
        "PP800_FocusLens",
        "PP800_SynchDelayLine",
        "PP800_HWP_POWER",
        "AFS_DelayLine",
        "AFS_FocusLens",
        "LIN_FocusLens",
        "ILH_I0raw",
        "I0_ILHraw",
    ],
    "timing": ["bunchpattern", "bunchPatternTable", "sase1", "sase3", "npulses_sase3"],
    "XGM": [
        "SCS_XGM",
        "SCS_SA3",
        "SCS_SA1",
        "XTD10_XGM",
        "XTD10_SA3",
        "SCS_photonFlux",
        "XTD10_photonFlux",
    ],
    "sample": ["scannerX", "scannerY", "magnet", "magnet_current"],
}


def test_table_covers_every_family():
    missing = {f: [n for n in names if n not in tb.mnemonics] for f, names in FAMILIES.items()}
    assert not {f: m for f, m in missing.items() if m}


def test_every_entry_says_its_kind_and_whether_inferred():
    for name in tb.mnemonics:
        for alt in alternatives(name):
            assert {"source", "key", "dim", "kind", "inferred"} <= set(alt), name
            assert alt["kind"] in KINDS, name
            if (
                alt["source"].split(":")[0] in sources.INFERRED
                or alt["source"] in sources.INFERRED
            ):
                assert alt["inferred"], name
            if alt["kind"].startswith("digitizer"):
                assert alt["digitizer"] in ("ADQ412", "FastADC"), name


@pytest.fixture(scope="module")
def every_mnemonic_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    res = tb.sim.simulate("all_mnemonics", 900777, 1, trains=3, seed=2, data_root=root)
    return root, res


def test_every_mnemonic_loads_from_a_simulated_run(every_mnemonic_run, monkeypatch):
    root, res = every_mnemonic_run
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(root))
    run = tb.open_run(900777, 1)
    present = tb.mnemonics_for_run(run)
    assert set(present) == set(tb.mnemonics)
    truth = res.truth["extra_mnemonics"]
    for name in tb.mnemonics:
        arr = tb.get_array(run, name)
        assert arr.sizes["trainId"] == 3, name
        alt = present[name]
        if alt["dim"]:
            assert list(arr.dims[1:]) == list(alt["dim"]), name
        if name in truth:  # a slow value: the set-point, to the encoder noise (1e-4)
            assert np.allclose(arr.values, truth[name], atol=1e-3), name


def test_pulse_resolved_kinds_are_extracted_by_load(every_mnemonic_run, monkeypatch):
    root, res = every_mnemonic_run
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(root))
    run, ds = tb.load(900777, 1, ["SCS_SA3", "BAM1932S", "MCP2apd", "transmission", "fastccd"])
    assert "sa3_pId" in ds["SCS_SA3"].dims and "sa3_pId" in ds["BAM1932S"].dims
    assert "MCP2peaks" in ds and "sa3_pId" in ds["MCP2peaks"].dims
    assert ds["fastccd"].shape[1:] == (1934, 960)
    # the ToolBox's per-board switches leave a board's channels raw
    _, raw = tb.load(
        900777, 1, ["MCP2apd", "FastADC5peaks"], extract_adq412=False, extract_fadc=False
    )
    assert "MCP2apd" in raw and "FastADC5peaks" in raw and "MCP2peaks" not in raw
    with pytest.raises(tb.ToolBoxValueError, match="extract_fadc2"):
        tb.load(900777, 1, ["nrj"], extract_nosuch=False)


def test_cli_extra_mnemonics_on_any_scenario(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "scs_nb.cli",
            "simulate",
            "basic",
            "--proposal",
            "900778",
            "--run",
            "2",
            "--trains",
            "4",
            "--data-root",
            str(tmp_path),
            "-o",
            "extra_mnemonics=transmission,VSLIT,newton",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    run = tb.run_by_path(out.stdout.splitlines()[0])
    have = tb.mnemonics_for_run(run)
    assert {"transmission", "VSLIT", "newton", "transmission_setpoint"} <= set(have)
    assert tb.get_array(run, "newton").shape == (4, 512, 2048)
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "scs_nb.cli",
            "simulate",
            "basic",
            "--proposal",
            "900778",
            "--run",
            "3",
            "--data-root",
            str(tmp_path),
            "-o",
            "extra_mnemonics=VSLITT",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "VSLIT" in bad.stderr
