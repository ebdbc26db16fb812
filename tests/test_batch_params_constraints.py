"""Template parameter constraints: bad values are refused with exit code 2 before a
kernel starts (a batch of hundreds of runs should not fail one by one): NaN/inf floats,
values outside the constraints that templates declare in their parameters cell
(`(> 0)`, `(0..15)`, `(non-empty)`), empty lists, duplicate YAML keys, non-text or
folder -f files; `--help` shows the constraints."""

import pytest

from scs_nb import cli
from scs_nb.batch.params import ParameterError, parse_parameters_source, validate_parameters

SPEC = parse_parameters_source(
    "bin_width: float = 0.5  # bin width (ps) (> 0)\n"
    "module_group: int = 0  # module group (0..3)\n"
    "modules: list[int] = [0, 1]  # DSSC modules (0..15, non-empty)\n"
    "fields: list[str] = ['SCS_SA3']  # mnemonics to load (non-empty)\n"
    "low: float | None = None  # threshold (>= 0)\n"
    "note: str = 'x'  # free text (not a constraint)\n"
)


@pytest.mark.parametrize(
    "given, words",
    [
        ({"bin_width": "nan"}, "finite"),
        ({"bin_width": "inf"}, "finite"),
        ({"bin_width": float("-inf")}, "finite"),
        ({"bin_width": "-0.1"}, "> 0"),
        ({"bin_width": "0"}, "> 0"),
        ({"module_group": "7"}, "0..3"),
        ({"modules": "16"}, "0..15"),
        ({"modules": "[3, -1]"}, "each item"),
        ({"modules": ""}, "empty"),
        ({"fields": []}, "empty"),
        ({"low": "-1"}, ">= 0"),
    ],
)
def test_constraints_enforced(given, words):
    with pytest.raises(ParameterError, match=words.replace("..", r"\.\.").replace("+", r"\+")):
        validate_parameters(SPEC, given)


def test_constraints_parsed_and_valid_values_pass():
    assert SPEC["bin_width"].constraints == ((">", 0),)
    assert SPEC["modules"].constraints == ((">=", 0), ("<=", 15), ("non-empty", None))
    assert SPEC["note"].constraints == () and SPEC["low"].constraints == ((">=", 0),)
    v = validate_parameters(SPEC, {"bin_width": "0.25", "modules": "15", "low": "None"})
    assert v["bin_width"] == 0.25 and v["modules"] == [15] and v["low"] is None
    with pytest.raises(ParameterError, match="default"):
        parse_parameters_source("w: float = -1.0  # width (> 0)\n")


@pytest.mark.parametrize(
    "args, words",
    [
        (["-p", "modules=16"], "0..15"),
        (["-p", "module_group=7"], "0..3"),
        (["-p", "bin_width=-0.5"], "> 0"),
        (["-p", "bin_width=inf"], "finite"),
        (["-p", "bin_width=nan"], "finite"),
        (["-p", "pattern=[]"], "empty"),
    ],
)
def test_template_cli_refuses(tmp_path, capsys, args, words):
    code = cli.main(["run", "dssc_binning", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2 and words in err
    assert not any(tmp_path.iterdir())  # nothing started, nothing written


def test_load_run_data_refuses_empty_fields(tmp_path, capsys):
    assert cli.main(["run", "load_run_data", "-p", "fields=", "--out", str(tmp_path)]) == 2
    assert "empty" in capsys.readouterr().err


def test_bad_parameter_files(tmp_path, capsys):
    dup = tmp_path / "dup.yaml"
    dup.write_text("bin_width: 0.5\nmodule_group: 1\nbin_width: 2\n")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    for f, words in ((dup, "twice"), (binary, "not a text file"), (tmp_path, "folder")):
        assert cli.main(["run", "dssc_binning", "-f", str(f), "--out", str(tmp_path / "o")]) == 2
        assert words in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_help_shows_constraints(capsys):
    assert cli.main(["run", "dssc_binning", "--help"]) == 0
    out = capsys.readouterr().out
    assert "(0..3)" in out and "(> 0)" in out and "constraint" in out
