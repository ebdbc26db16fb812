"""`scs-create-toolbox-env --offline`: checkout + venv + kernel in a temporary proposal,
and a template run in that kernel imports scs_nb from the proposal's checkout. Bad
identifiers (empty ones included), versions and sources are refused, and `--force`
never discards a user's local changes in the checkout without `--discard-changes`."""

import json
import subprocess
from pathlib import Path

import pytest

from scs_nb import cli, sim
from scs_nb.kernels import create_env

pytestmark = pytest.mark.usefixtures("tiny_runs")

TINY = Path(__file__).parent / "data" / "tiny_template.ipynb"


@pytest.fixture
def proposal(tmp_path, monkeypatch):
    root = tmp_path / "exp"
    pdir = root / "SCS" / "202622" / "p002780"
    pdir.mkdir(parents=True)
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(root))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    return pdir


@pytest.mark.parametrize(
    "args, words",
    [
        (["--identifier", "../x"], ["identifier"]),
        (
            [
                "--identifier",
                "..",
            ],
            ["identifier"],
        ),
        (["--version=--upload-pack=touch /tmp/x"], ["version"]),
        (["--version", "v1..2"], ["version"]),
        (["--version", "main;id"], ["version"]),
        (["--source=-uexploit"], ["source"]),
        (["--source", "/no/such/repo"], ["source"]),
    ],
)
def test_bad_input_rejected(proposal, capsys, args, words):
    assert create_env.main(["--proposal", "2780", "--offline", *args]) == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err
    assert not (proposal / "scratch").exists() or not any(
        (proposal / "scratch").rglob("toolbox_*")
    )


def test_offline_env_and_kernel(proposal, tmp_path, capsys, monkeypatch):
    if create_env.project_source() is None:
        pytest.skip("scs_nb is not running from a git checkout")
    assert create_env.main(["--proposal", "2780", "--offline"]) == 0
    # the ToolBox's layout (toolbox_<PROPOSAL>); the kernel keeps the name toolbox_p002780
    checkout = proposal / "scratch" / "checkouts" / "toolbox_2780"
    env = proposal / "scratch" / "envs" / "toolbox_2780"
    head = subprocess.run(
        ["git", "-C", create_env.project_source(), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    got = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert got == head  # default: the running version
    spec = json.loads(
        (tmp_path / "jupyter" / "kernels" / "toolbox_p002780" / "kernel.json").read_text()
    )
    assert spec["argv"][0] == str(env / "bin" / "python")
    assert (env / "bin" / "scs-nb").is_file()
    # refuses to overwrite; --force recreates
    assert create_env.main(["--proposal", "2780", "--offline"]) == 2
    assert "--force" in capsys.readouterr().err
    assert create_env.main(["--proposal", "2780", "--offline", "--force", "--no-kernel"]) == 0

    # a template runs in the proposal kernel (chosen by default for proposal 2780), on a
    # run of the proposal
    sim.simulate("basic", 2780, 1, trains=5, data_root=tmp_path / "exp")
    out = tmp_path / "out"
    code = cli.main(
        [
            "run",
            str(TINY),
            "-p",
            "proposal=2780",
            "-p",
            "run=1",
            "-p",
            "trains=5",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    nb = json.loads((out / "tiny_template_r0001.ipynb").read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "toolbox_p002780"
    assert nb["metadata"]["kernelspec"]["display_name"] == "SCS Toolbox (p002780)"
    result = json.loads((out / "result.json").read_text())
    assert Path(result["scs_nb_file"]).is_relative_to(checkout)


def test_empty_identifier_refused(tmp_path, capsys, monkeypatch):
    root = tmp_path / "exp"
    (root / "SCS" / "202622" / "p002780").mkdir(parents=True)
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(root))
    assert create_env.main(["--proposal", "2780", "--offline", "--identifier", ""]) == 2
    assert "identifier" in capsys.readouterr().err
    assert not any(root.rglob("toolbox_*"))


def test_force_keeps_local_changes(tmp_path, capsys, monkeypatch):
    root = tmp_path / "exp"
    pdir = root / "SCS" / "202622" / "p002780"
    pdir.mkdir(parents=True)
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(root))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    checkout = pdir / "scratch" / "checkouts" / "toolbox_mine"
    checkout.mkdir(parents=True)
    git = ["git", "-C", str(checkout), "-c", "user.email=t@x", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], check=True)
    (checkout / "analysis.py").write_text("x = 1\n")
    subprocess.run(git + ["add", "analysis.py"], check=True)
    subprocess.run(git + ["commit", "-qm", "c"], check=True)
    (checkout / "analysis.py").write_text("x = 2  # my edit\n")
    (checkout / "notes.txt").write_text("untracked\n")
    args = ["--proposal", "2780", "--identifier", "mine", "--offline", "--no-kernel"]
    assert create_env.main(args + ["--force"]) == 2
    err = capsys.readouterr().err
    assert "M analysis.py" in err and "?? notes.txt" in err and "--discard-changes" in err
    assert (checkout / "notes.txt").is_file()
    assert "my edit" in (checkout / "analysis.py").read_text()
    if create_env.project_source() is None:
        return
    assert create_env.main(args + ["--force", "--discard-changes"]) == 0
    assert not (checkout / "notes.txt").exists() and (checkout / "scs_nb").is_dir()
