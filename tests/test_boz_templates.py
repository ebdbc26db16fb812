"""The BOZ templates (I.a, I.b, II.1, II.2) run headless (papermill, kernel python3) on
small simulated runs and print what they recovered against what was injected; and
``scs-nb submit boz-correction`` writes the seed job's papermill parameters."""

import shlex
import shutil

import pytest

from scs_nb import cli


def _after(text, key):
    return float(text.split(key)[1].split()[0])


def test_boz_templates_headless(data_root, tmp_path, run_template):
    from scs_nb import sim

    runs = {
        611: ("boz_dark", dict(trains=10)),
        612: ("boz_membranes", dict(trains=20)),
        613: ("boz_membranes", dict(trains=20, seed=7)),
        614: ("boz_energy_scan", dict(trains=30)),
        615: ("boz_delay_scan", dict(trains=28)),
    }
    # simulated directly, not through the shared ``simulated`` factory (whose automatic
    # run numbers other tests rely on)
    dirs = [
        sim.simulate(scenario, 900002, run, data_root=data_root, overwrite=True, **kw).run_dir
        for run, (scenario, kw) in runs.items()
    ]
    try:
        _run_templates(tmp_path, run_template)
    finally:  # hundreds of MB, used by this test alone
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def _run_templates(tmp_path, run_template):
    common = dict(proposal=900002, darkrun=611)
    mem = type("Run", (), {"run": 612})
    text, images = run_template("boz_Ia", tmp_path, run=mem.run, **common)
    assert images >= 9
    assert "flat field saved:" in text and "complete parameters saved:" in text
    corrected = [ln for ln in text.splitlines() if "with flat field + Fnl" in ln][0]
    assert float(corrected.split("=")[1].split("x")[0]) <= 1.1  # x shot noise
    assert _after(text, "max deviation") < 0.03  # plane vs injected
    text, images = run_template("boz_Ib", tmp_path, run=613, correction_run=mem.run, **common)
    assert images >= 2
    ratios = [
        float(ln.split("=")[1].split("x")[0])
        for ln in text.splitlines()
        if "with flat field + Fnl" in ln
    ]
    assert len(ratios) == 2 and max(ratios) <= 1.1
    text, images = run_template("boz_II1", tmp_path, run=614, correction_run=mem.run, **common)
    assert images >= 1 and _after(text, "rms difference") < 0.01
    text, images = run_template("boz_II2", tmp_path, run=615, correction_run=mem.run, **common)
    assert images >= 1 and _after(text, "max difference") < 0.008


def test_submit_boz_correction_dry_run(capsys, tmp_path):
    rc = cli.main(
        [
            "submit",
            "boz-correction",
            "-p",
            "2937",
            "-d",
            "615",
            "-r",
            "614",
            "-g",
            "3",
            "--kernel",
            "python3",
            "--out",
            str(tmp_path),
            "--dry-run",
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0
    assert "#SBATCH --job-name=r0614-boz-correction" in text
    exec_line = [ln for ln in text.splitlines() if ln.startswith("exec ")][0]
    words = shlex.split(exec_line)
    assert "boz_Ia.ipynb" in exec_line
    for p in (
        "proposal=2937",
        "darkrun=615",
        "run=614",
        "gain=3.0",
        "rois_th=1.0",
        "sat_level=500",
        "module=15",
        f"path={tmp_path}",
        "scenario=",
    ):
        assert p in words


@pytest.mark.parametrize(
    "bad",
    [["--gain", "0"], ["--module", "16"], ["--sat-level", "600"], ["--reservation", "upex_1; id"]],
)
def test_submit_boz_rejects_bad_values(bad, capsys, tmp_path):
    args = [
        "submit",
        "boz-correction",
        "-p",
        "2937",
        "-d",
        "615",
        "-r",
        "614",
        "-g",
        "3",
        "--out",
        str(tmp_path),
        "--dry-run",
    ]
    assert cli.main(args + [a for a in bad]) == 2
    assert "error" in capsys.readouterr().err
