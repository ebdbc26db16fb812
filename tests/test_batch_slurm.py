"""`scs-nb submit`: sbatch scripts for reserved and ordinary partitions, job arrays,
quoting, and injection attempts rejected before anything is written."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from scs_nb import cli
from scs_nb.batch import slurm as slurm_mod
from scs_nb.batch.slurm import SlurmOptions, build_scripts

pytestmark = pytest.mark.usefixtures("tiny_runs")

TINY = Path(__file__).parent / "data" / "tiny_template.ipynb"


def dry(capsys, *args):
    code = cli.main(["submit", str(TINY), "--dry-run", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ordinary_partition_script(capsys, tmp_path):
    code, out, _ = dry(
        capsys,
        "--runs",
        "10-12,20",
        "-p",
        "scale=2",
        "--out",
        str(tmp_path),
        "--partition",
        "upex",
        "--time",
        "12:00:00",
        "--mail-user",
        "someone@xfel.eu",
        "--max-concurrent",
        "4",
        "--constraint",
        "V100",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "#!/bin/bash"
    for directive in (
        "--partition=upex",
        "--time=12:00:00",
        "--mail-type=END,FAIL",
        "--mail-user=someone@xfel.eu",
        "--constraint=V100",
        "--nodes=1",
        "--job-name=r0010-0020-tiny_template",
        f"--output={tmp_path}/logs/%A_%a-%x.out",
        "--array=0-3%4",
    ):
        assert f"#SBATCH {directive}" in lines
    assert not any("--reservation" in ln for ln in lines)
    assert f"  3) TASK=(-p run=20 --out {tmp_path}/r0020) ;;" in lines
    assert not any(tmp_path.iterdir())  # a dry run writes nothing
    exec_line = [ln for ln in lines if ln.startswith("exec ")][0]
    words = shlex.split(exec_line)
    assert words[1:6] == [sys.executable, "-m", "scs_nb.cli", "run", str(TINY)]
    assert ["-p", "scale=2.0"] == words[words.index("-p") : words.index("-p") + 2]
    # bash accepts it
    script = tmp_path / "s.sh"
    script.write_text(out)
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_reservation_script(capsys, tmp_path, monkeypatch):
    code, out, _ = dry(
        capsys, "--runs", "5", "--reservation", "upex_002780", "--out", str(tmp_path)
    )
    assert code == 0
    assert "#SBATCH --reservation=upex_002780" in out.splitlines()
    assert "--partition" not in out  # the reservation replaces the partition
    # the reservation named after another proposal (whose runs this machine does not hold)
    monkeypatch.setattr(slurm_mod, "check_runs_exist", lambda *a, **k: None)
    code, out, _ = dry(capsys, "--runs", "5", "-p", "proposal=3333", "--reservation", "auto")
    assert code == 0 and "#SBATCH --reservation=upex_003333" in out


def test_arrays_split_at_1000(tmp_path, monkeypatch):
    # 2500 runs: their existence is not what this test is about
    monkeypatch.setattr(slurm_mod, "check_runs_exist", lambda *a, **k: None)
    scripts = build_scripts(
        str(TINY),
        over=("run", "1-2500"),
        out=str(tmp_path),
        options=SlurmOptions(max_concurrent=50),
    )
    assert [len(s.tasks) for s in scripts] == [1000, 1000, 500]
    assert "#SBATCH --array=0-999%50" in scripts[0].text
    assert "#SBATCH --array=0-499%50" in scripts[2].text
    assert "  0) TASK=(-p run=2001 " in scripts[2].text


def test_over_another_parameter(tmp_path):
    """The seed's DSSC job: one task per module group of one run."""
    (script,) = build_scripts(
        str(TINY), {"run": "179"}, over=("trains", "10,20"), out=str(tmp_path)
    )
    assert f"  1) TASK=(-p trains=20 --out {tmp_path}/r0179/trains_20) ;;" in script.text
    assert "-p run=179" in [ln for ln in script.text.splitlines() if ln.startswith("exec ")][0]


def test_script_passes_values_verbatim(tmp_path):
    """Run the script's command with a stand-in python that prints its arguments."""
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    scripts = build_scripts(
        str(TINY),
        {"label": "two words 'quoted' \"too\"", "fail_on": "1, 2"},
        over=("run", "7-8"),
        out=str(tmp_path / "o"),
        python=str(fake),
    )
    path = tmp_path / "job.sh"
    path.write_text(scripts[0].text)
    env = dict(os.environ, SLURM_ARRAY_TASK_ID="1")
    proc = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    args = proc.stdout.splitlines()[1:]  # after the "array task" line
    assert args[:4] == ["-m", "scs_nb.cli", "run", str(TINY)]
    assert "label=two words 'quoted' \"too\"" in args
    assert "fail_on=[1, 2]" in args
    assert args[-4:] == ["-p", "run=8", "--out", str(tmp_path / "o" / "r0008")]
    env["SLURM_ARRAY_TASK_ID"] = "5"
    assert subprocess.run(["bash", str(path)], env=env, capture_output=True).returncode == 1


@pytest.mark.parametrize(
    "args, words",
    [
        (["--runs", "1", "-p", "label=a; rm -rf ~"], ["'label'", "';'"]),
        (["--runs", "1", "-p", "label=$(reboot)"], ["'label'", "'$'"]),
        (["--runs", "1", "-p", "label=`id`"], ["'label'", "'`'"]),
        (["--runs", "1;2"], ["--runs"]),
        (["--runs", "1", "--reservation", "upex_2780"], ["upex_00NNNN"]),
        (["--runs", "1", "--reservation", "upex_002780\n#SBATCH -A x"], ["upex_00NNNN"]),
        (["--runs", "1", "--partition", "exfel --wrap=x"], ["--partition"]),
        (["--runs", "1", "--time", "2h; id"], ["--time"]),
        (["--runs", "1", "--mail-type", "END,$(id)"], ["--mail-type"]),
        (["--runs", "1", "--mail-user", "a b@c.de"], ["--mail-user"]),
        (["--runs", "1", "--job-name", "x y"], ["--job-name"]),
        (["--runs", "1", "--out", "/tmp/a b"], ["folder", "/tmp/a b"]),
        (["--runs", "1", "--logs", "/tmp/%x"], ["log folder"]),
        (["--runs", "1", "--array-size", "1001"], ["--array-size"]),
        (["--runs", "1", "-p", "run=3"], ["'run'", "-p"]),
        (["--runs", "1", "-p", "trains=1e3"], ["'trains'", "int"]),
        (["--over", "nope=1-3"], ["'nope'"]),
        ([], ["'run'", "required"]),
    ],
)
def test_injection_and_bad_values_rejected(capsys, tmp_path, args, words, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = dry(capsys, *args)
    assert code == 2 and out == ""
    for w in words:
        assert w in err
    assert not any(tmp_path.iterdir())


def test_submit_calls_sbatch_with_a_list(tmp_path, capsys, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "calls"
    sbatch = bindir / "sbatch"
    sbatch.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" >> {record}\necho "Submitted batch job 4242"\n'
    )
    sbatch.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    out = tmp_path / "o"
    assert cli.main(["submit", str(TINY), "--runs", "1-2", "--out", str(out)]) == 0
    assert "job 4242" in capsys.readouterr().out
    scripts = sorted((out / "slurm").glob("*.sh"))
    assert len(scripts) == 1 and record.read_text().splitlines() == [str(scripts[0])]
    assert (out / "logs").is_dir()  # SLURM does not create it


def test_submit_without_sbatch_says_where_scripts_are(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.main(["submit", str(TINY), "--runs", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "sbatch is not available" in err and str(tmp_path / "o" / "slurm") in err


def test_make_cluster(capsys):
    from scs_nb.errors import ToolBoxValueError
    from scs_nb.parallel.cluster import make_cluster

    cluster = make_cluster(
        "slurm",
        partition="upex",
        reservation="upex_002780",
        walltime="02:00:00",
        cores=4,
        memory="8GB",
        print_script=True,
    )
    try:
        script = capsys.readouterr().out
        assert "#SBATCH -p upex" in script and "#SBATCH --reservation=upex_002780" in script
        assert "#SBATCH -t 02:00:00" in script
    finally:
        cluster.close()
    with pytest.raises(ToolBoxValueError):
        make_cluster("slurm", reservation="upex_1")
    with pytest.raises(ToolBoxValueError):
        make_cluster("cloud")
    from distributed import Client

    with make_cluster("local", cores=1, processes=False) as local, Client(local) as client:
        assert client.submit(lambda x: x + 1, 1).result() == 2


PROFILE_ARGS = {
    "dssc-binning": ["--proposal", "2719", "--dark", "180", "--run", "179"],
    "boz-correction": ["-p", "2937", "-d", "615", "-r", "614", "-g", "3"],
}


@pytest.mark.parametrize("profile", sorted(PROFILE_ARGS))
def test_profiles_take_every_slurm_option(profile, capsys, tmp_path, monkeypatch):
    """The named profiles take the SLURM options of `scs-nb submit` (--mem, --nodes, ...)."""
    # the seed's proposal and runs, not on this machine: the options are what is tested
    monkeypatch.setattr(slurm_mod, "check_runs_exist", lambda *a, **k: None)
    rc = cli.main(
        [
            "submit",
            profile,
            *PROFILE_ARGS[profile],
            "--kernel",
            "python3",
            "--out",
            str(tmp_path),
            "--dry-run",
            "--mem",
            "64G",
            "--constraint",
            "V100",
            "--mail-user",
            "someone@xfel.eu",
            "--nodes",
            "2",
            "--mail-type",
            "NONE",
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0
    for directive in (
        "--mem=64G",
        "--constraint=V100",
        "--mail-user=someone@xfel.eu",
        "--nodes=2",
    ):
        assert f"#SBATCH {directive}" in lines
    assert not any("--mail-type" in ln for ln in lines)
    rc = cli.main(
        [
            "submit",
            profile,
            *PROFILE_ARGS[profile],
            "--kernel",
            "python3",
            "--out",
            str(tmp_path),
            "--dry-run",
            "--mem",
            "64 GB",
        ]
    )
    assert rc == 2 and "--mem must be a memory size" in capsys.readouterr().err


def test_a_new_option_row_reaches_submit_profiles_and_dask(monkeypatch, capsys, tmp_path):
    """One row added to the option table is an option of `scs-nb submit`, of each profile,
    a #SBATCH line of their scripts and a directive of make_cluster('slurm')'s jobs."""
    from scs_nb.parallel import slurm_options as so

    monkeypatch.setattr(slurm_mod, "check_runs_exist", lambda *a, **k: None)  # seed's runs
    from scs_nb.parallel.cluster import make_cluster

    qos = so.SlurmOption("qos", "--qos", None, r"[a-z]+", "a QOS name", "quality of service")
    monkeypatch.setattr(so, "SLURM_OPTIONS", so.SLURM_OPTIONS + (qos,))

    code, out, _ = dry(capsys, "--runs", "1", "--out", str(tmp_path), "--qos", "high")
    assert code == 0 and "#SBATCH --qos=high" in out.splitlines()
    code, _, err = dry(capsys, "--runs", "1", "--out", str(tmp_path), "--qos", "high;id")
    assert code == 2 and "--qos must be a QOS name" in err
    for profile, args in PROFILE_ARGS.items():
        assert (
            cli.main(
                [
                    "submit",
                    profile,
                    *args,
                    "--kernel",
                    "python3",
                    "--out",
                    str(tmp_path),
                    "--dry-run",
                    "--qos",
                    "high",
                ]
            )
            == 0
        )
        assert "#SBATCH --qos=high" in capsys.readouterr().out.splitlines()

    assert so.cluster_kwargs({"qos": "high", "time": "01:00:00"}) == {
        "walltime": "01:00:00",
        "job_extra_directives": ["--qos=high"],
    }
    cluster = make_cluster(
        "slurm", partition="upex", cores=1, memory="1GB", qos="high", print_script=True
    )
    try:
        assert "#SBATCH --qos=high" in capsys.readouterr().out
    finally:
        cluster.close()
