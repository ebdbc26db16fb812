"""`scs-activate-toolbox-kernel`: kernelspec JSON in a temporary JUPYTER_DATA_DIR."""

import json
import os
import sys

import pytest

from scs_nb.kernels import activate, find_proposal


@pytest.fixture
def proposal(tmp_path, monkeypatch):
    """Proposal 2780 in a private data root, with a (fake) toolbox environment."""
    root = tmp_path / "exp"
    pdir = root / "SCS" / "202622" / "p002780"
    env = pdir / "scratch" / "envs" / "toolbox_p002780" / "bin"
    env.mkdir(parents=True)
    os.symlink(sys.executable, env / "python")
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(root))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    return pdir


def test_find_proposal(proposal):
    assert find_proposal(2780) == proposal
    assert find_proposal("p002780") == proposal


def test_install_kernelspec(proposal, tmp_path, capsys):
    assert activate.main(["--proposal", "2780"]) == 0
    kdir = tmp_path / "jupyter" / "kernels" / "toolbox_p002780"
    spec = json.loads((kdir / "kernel.json").read_text())
    python = str(proposal / "scratch" / "envs" / "toolbox_p002780" / "bin" / "python")
    assert spec["argv"][0] == python and os.path.isabs(spec["argv"][0])  # venv, unresolved
    assert spec["argv"][1:5] == ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert "--HistoryManager.enabled=False" in spec["argv"]
    assert spec["display_name"] == "SCS Toolbox (p002780)"
    assert spec["language"] == "python"
    from jupyter_client.kernelspec import KernelSpecManager

    assert (
        KernelSpecManager().get_kernel_spec("toolbox_p002780").display_name
        == "SCS Toolbox (p002780)"
    )
    assert "toolbox_p002780" in capsys.readouterr().out
    # --remove cleans up
    assert activate.main(["--proposal", "2780", "--remove"]) == 0
    assert not kdir.exists()
    assert activate.main(["--proposal", "2780", "--remove"]) == 2


def test_toolbox_layout_env_found_and_preferred(proposal, tmp_path):
    """An environment as the ToolBox's scs-create-toolbox-env makes it
    (scratch/envs/toolbox_2780) is found; the kernel keeps its name and display name."""
    seed_env = proposal / "scratch" / "envs" / "toolbox_2780" / "bin"
    seed_env.mkdir(parents=True)
    os.symlink(sys.executable, seed_env / "python")
    assert activate.main(["--proposal", "2780"]) == 0
    spec = json.loads(
        (tmp_path / "jupyter" / "kernels" / "toolbox_p002780" / "kernel.json").read_text()
    )
    assert spec["argv"][0] == str(seed_env / "python")
    assert spec["display_name"] == "SCS Toolbox (p002780)"


def test_no_env_names_both_layouts(proposal, capsys):
    import shutil

    shutil.rmtree(proposal / "scratch" / "envs" / "toolbox_p002780")
    assert activate.main(["--proposal", "2780"]) == 2
    err = capsys.readouterr().err
    assert "toolbox_2780" in err and "toolbox_p002780" in err


def test_identifier_and_prefix(proposal, tmp_path):
    env = proposal / "scratch" / "envs" / "toolbox_beam-2" / "bin"
    env.mkdir(parents=True)
    os.symlink(sys.executable, env / "python")
    shared = tmp_path / "shared"
    assert (
        activate.main(["--proposal", "2780", "--identifier", "beam-2", "--prefix", str(shared)])
        == 0
    )
    spec = json.loads(
        (shared / "share" / "jupyter" / "kernels" / "toolbox_beam-2" / "kernel.json").read_text()
    )
    assert spec["argv"][0] == str(env / "python")
    assert spec["display_name"] == "SCS Toolbox (p002780, beam-2)"
    assert not (tmp_path / "jupyter" / "kernels").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--proposal", "2780", "--identifier", "../x"], ["identifier"]),
        (["--proposal", "2780", "--identifier=-x"], ["identifier"]),
        (["--proposal", "2780", "--identifier", "a/b"], ["identifier"]),
        (["--proposal", "27;80"], ["proposal"]),
        (["--proposal", "1234567"], ["proposal"]),
        (["--proposal", "4444"], ["proposal 4444 not found"]),
        (["--proposal", "2780", "--identifier", "other"], ["scs-create-toolbox-env"]),
    ],
)
def test_bad_input_rejected(proposal, tmp_path, capsys, args, words):
    assert activate.main(args) == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err
    assert not (tmp_path / "jupyter").exists()


def test_empty_identifier_refused(proposal, capsys):
    assert activate.main(["--proposal", "2780", "--identifier", ""]) == 2
    assert "identifier" in capsys.readouterr().err
