"""``scs-nb find-proposal N`` prints the proposal folder (the ToolBox's findxfel)."""

import subprocess
import sys
from pathlib import Path

from scs_nb.cli import main

SCS_NB = Path(sys.executable).with_name("scs-nb")


def test_find_proposal_prints_the_folder(simulated, capsys):
    res = simulated("basic", trains=5, seed=11)
    assert main(["find-proposal", str(res.proposal)]) == 0
    out = capsys.readouterr().out.strip()
    assert Path(out) == res.run_dir.parent.parent
    assert main(["find-proposal", f"p{res.proposal:06d}"]) == 0
    assert capsys.readouterr().out.strip() == out


def test_find_proposal_console_script(simulated, data_root):
    res = simulated("basic", trains=5, seed=11)
    proc = subprocess.run(
        [str(SCS_NB), "find-proposal", str(res.proposal)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == res.run_dir.parent.parent


def test_find_proposal_unknown_or_invalid(data_root, capsys):
    assert main(["find-proposal", "4321"]) == 2
    err = capsys.readouterr().err
    assert "p004321" in err and str(data_root) in err and "EXTRA_DATA_DATA_ROOT" in err
    assert main(["find-proposal", "x; rm -rf /"]) == 2
    assert "proposal must be a number" in capsys.readouterr().err
