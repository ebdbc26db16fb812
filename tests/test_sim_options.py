"""Simulator options: `scs-nb simulate` checks its options against the scenario's
signature (names, types, positive counts, finite numbers, the memory a run needs) and
refuses bad ones with exit code 2 before writing anything; `--describe` names the
required options and those passed on to the device models."""

import pytest

from scs_nb import cli, sim
from scs_nb.errors import ToolBoxError


@pytest.mark.parametrize(
    "args, words",
    [
        (["--missing-trains", "1.5"], "missing_trains"),
        (["--missing-trains", "nan"], "missing_trains"),
        (["-o", "nosuch=1"], "nosuch"),
        (["-o", "npulses=abc"], "integer"),
        (["--trains", "0"], "trains must be"),
        (["-o", "npulses=-3"], "integer >= 1"),
        (["-o", "npulses=0"], "integer >= 1"),
        (["-o", "nrj=.inf"], "finite"),
        (["-o", "nrj=inf"], "number"),
        (["--seed", "-1"], "seed"),
        (["--trains", "1000000000"], "trains must be"),
        (["--trains", "999999"], "memory"),
    ],
)
def test_bad_simulator_options(tmp_path, capsys, args, words, monkeypatch):
    monkeypatch.setattr("scs_nb.sim.core._available_memory", lambda: 8 * 2**30)
    code = cli.main(
        [
            "simulate",
            "basic",
            "--proposal",
            "900001",
            "--run",
            "1",
            "--data-root",
            str(tmp_path),
            *args,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.h5"))


def test_describe_names_required_and_passthrough(capsys):
    assert cli.main(["simulate", "dssc_dark", "--describe"]) == 0
    out = capsys.readouterr().out
    assert "inspect._empty" not in out and "-o npulses=10" in out and "**dssc" in out


def test_valid_options_pass(tmp_path):
    from scs_nb.sim import core

    sc = core.get_scenario("delay_scan")
    assert core.validate_options(sc, {"start": -2, "stop": -0.5, "nsteps": 3}) == {
        "start": -2,
        "stop": -0.5,
        "nsteps": 3,
    }
    # options of scenarios taking **kwargs go on to the device models, unknown ones refused
    with pytest.raises(ToolBoxError, match="nosuch"):
        sim.simulate("dssc_dark", 900001, 2, trains=2, nosuch=1, data_root=tmp_path)
    assert not list(tmp_path.iterdir())
