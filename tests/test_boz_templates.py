"""The BOZ templates (I.a, I.b, II.1, II.2) run headless on small simulated runs; their
recorded results agree with the ground truth (``scs_nb.sim.checks.check_records``: the
flat-field plane and the lookup table of I.a, the noise at the shot-noise limit, the
transmissions of II.1 and the ΔXAS of II.2); and ``scs-nb submit boz-correction`` writes
the seed job's papermill parameters."""

import shlex
import shutil

import pytest

from scs_nb import cli, sim


def _ok(out, names, nrows):
    assert names <= {r["name"] for r in out.records}
    assert len(out.rows) == nrows, out.rows
    bad = [r for r in out.rows if r[-1] != "yes"]
    assert not bad, bad


def test_boz_templates_headless(data_root, tmp_path, run_template):
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
    out = run_template("boz_Ia", tmp_path, run=612, **common)
    assert out[1] >= 9 and "complete parameters saved:" in out[0]
    _ok(out, {"bad_pixels", "flat_field_plane", "Fnl", "noise_over_shot"}, 3)
    out = run_template("boz_Ib", tmp_path, run=613, correction_run=612, **common)
    assert out[1] >= 2
    _ok(out, {"noise_over_shot_n", "noise_over_shot_p", "saturated_frames"}, 2)
    out = run_template("boz_II1", tmp_path, run=614, correction_run=612, **common)
    assert out[1] >= 1
    _ok(out, {"transmission_n", "transmission_p"}, 2)
    out = run_template("boz_II2", tmp_path, run=615, correction_run=612, **common)
    assert out[1] >= 1
    _ok(out, {"dxas"}, 1)


def test_submit_boz_correction_dry_run(capsys, tmp_path, simulated):
    # the runs are checked before a job is written: they exist (tiny simulated ones)
    dark = simulated("boz_dark", run=1615, trains=2)
    simulated("boz_membranes", run=1614, trains=2)
    rc = cli.main(
        [
            "submit",
            "boz-correction",
            "-p",
            str(dark.proposal),
            "-d",
            "1615",
            "-r",
            "1614",
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
    assert "#SBATCH --job-name=r1614-boz-correction" in text
    exec_line = [ln for ln in text.splitlines() if ln.startswith("exec ")][0]
    words = shlex.split(exec_line)
    assert "boz_Ia.ipynb" in exec_line
    for p in (
        f"proposal={dark.proposal}",
        "darkrun=1615",
        "run=1614",
        "gain=3.0",
        "rois_th=1.0",
        "sat_level=500",
        "module=15",
        f"path={tmp_path}",
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
