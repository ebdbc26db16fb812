"""``scs-nb submit dssc-binning``: the seed's SLURM job with named options, validated and
quoted."""

import shlex

import pytest

from scs_nb import cli


def test_submit_dssc_dry_run(capsys, tmp_path, simulated):
    # the runs are checked before a job is written: they exist (tiny simulated ones)
    dark = simulated("dssc_dark", run=180, modules="0", trains=2)
    simulated("dssc_delay_scan", run=179, modules="0", trains=2)
    rc = cli.main(
        [
            "submit",
            "dssc-binning",
            "--proposal",
            str(dark.proposal),
            "--dark",
            "180",
            "--run",
            "179",
            "--module-group",
            "0-3",
            "--xaxis",
            "delay",
            "--bin-width",
            "0.1",
            "--reservation",
            "upex_002719",
            "--kernel",
            "python3",
            "--out",
            str(tmp_path),
            "--dry-run",
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0
    assert "#SBATCH --job-name=r0179-dssc-binning" in text
    assert "#SBATCH --reservation=upex_002719" in text
    assert "#SBATCH --array=0-3" in text and f"--output={tmp_path}/logs/" in text
    exec_line = [ln for ln in text.splitlines() if ln.startswith("exec ")][0]
    words = shlex.split(exec_line)
    for p in (
        f"proposal={dark.proposal}",
        "run=179",
        "dark_run=180",
        "xaxis=delay",
        "bin_width=0.1",
        f"path={tmp_path}",
    ):
        assert p in words
    for g in range(4):
        assert f"module_group={g}" in text


@pytest.mark.parametrize(
    "bad",
    [
        ["--xaxis", "delay; rm -rf /"],
        ["--reservation", "upex_1; id"],
        ["--bin-width", "-1"],
        ["--module-group", "7"],
    ],
)
def test_submit_dssc_rejects_bad_values(bad, capsys, tmp_path):
    args = [
        "submit",
        "dssc-binning",
        "--proposal",
        "2719",
        "--run",
        "179",
        "--out",
        str(tmp_path),
        "--dry-run",
    ]
    rc = cli.main(args + bad)
    assert rc == 2
    assert "error" in capsys.readouterr().err
