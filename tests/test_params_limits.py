"""Hostile parameter input is refused at the door (exit 2, a message, no traceback) before
a kernel starts: YAML alias bombs, a 15 MB parameter file, self-referencing aliases, deep
nesting in -p values and in YAML, a YAML key that is a list, and a time limit of NaN."""

import math
import time
from pathlib import Path

import pytest

from scs_nb import cli
from scs_nb.batch import limits, runner
from scs_nb.errors import ToolBoxValueError

PROBE = Path(__file__).parent / "data" / "probe_template.ipynb"


def _refused(capsys, out, argv, *words, seconds=5.0):
    """Run scs-nb; it must exit 2 within ``seconds`` with ``words`` and no traceback,
    and write nothing (no kernel started)."""
    t0 = time.monotonic()
    code = cli.main(argv + ["--out", str(out), "--no-progress"])
    took = time.monotonic() - t0
    err = capsys.readouterr().err
    assert code == 2, err
    assert took < seconds, f"took {took:.1f} s"
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    assert not out.exists() or not list(out.iterdir())
    return err


def test_yaml_alias_bomb_in_untyped_list(tmp_path, capsys):
    # 2 KB that expands to 10**9 items: each level lists the previous one ten times
    lines = ["items:", "  - &l0 [" + ", ".join(["lol"] * 10) + "]"]
    for i in range(1, 9):
        lines.append(f"  - &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    assert bomb.stat().st_size < 2048
    _refused(
        capsys,
        tmp_path / "out",
        ["run", str(PROBE), "-f", str(bomb)],
        f"more than {limits.MAX_ITEMS} items",
        "aliases",
    )


def test_self_referencing_alias(tmp_path, capsys):
    f = tmp_path / "loop.yaml"
    f.write_text("items: &a [1, *a]\n")
    _refused(capsys, tmp_path / "out", ["run", str(PROBE), "-f", str(f)], "contains itself")


def test_15_mb_parameter_file(tmp_path, capsys):
    f = tmp_path / "big.yaml"
    with open(f, "w") as fh:
        fh.write("items:\n")
        fh.write("  - 1234567\n" * 1_500_000)
    assert f.stat().st_size > 15e6
    _refused(capsys, tmp_path / "out", ["run", str(PROBE), "-f", str(f)], "MiB", "at most 1 MiB")


@pytest.mark.parametrize(
    "name, text",
    [
        ("opts", '{"a": ' * 100_000 + "1" + "}" * 100_000),  # JSON parser recursion
        ("opts", "{'a': " * 300 + "1" + "}" * 300),  # Python parser nesting limit
        ("items", "[" * 100_000 + "]" * 100_000),
        ("items", "[" * (limits.MAX_DEPTH + 1) + "]" * (limits.MAX_DEPTH + 1)),
    ],
)
def test_deeply_nested_p_values(tmp_path, capsys, name, text):
    _refused(capsys, tmp_path / "out", ["run", str(PROBE), "-p", f"{name}={text}"], repr(name))


def test_quoted_brackets_are_not_nesting(tmp_path):
    # brackets inside strings do not count; a flat value with many of them passes
    limits.check_text("items", '["' + "[" * 100 + '"]')
    with pytest.raises(limits.ParameterError):
        limits.check_text("items", "[" * (limits.MAX_DEPTH + 1))


def test_deeply_nested_yaml(tmp_path, capsys):
    f = tmp_path / "deep.yaml"
    f.write_text("items: " + "[" * 5000 + "]" * 5000 + "\n")
    _refused(capsys, tmp_path / "out", ["run", str(PROBE), "-f", str(f)], "nested")
    g = tmp_path / "deep2.yaml"  # deep, but within the parser's reach: the depth bound
    g.write_text("opts:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(60)) + "\n")
    _refused(capsys, tmp_path / "out", ["run", str(PROBE), "-f", str(g)], "nested more than")


@pytest.mark.parametrize(
    "text", ["? [a, b]\n: 1\n", "opts:\n  ? [a]\n  : 1\n", "opts:\n  ? {x: 1}\n  : 1\n"]
)
def test_yaml_key_that_is_a_list(tmp_path, capsys, text):
    f = tmp_path / "key.yaml"
    f.write_text(text)
    _refused(capsys, tmp_path / "out", ["run", str(PROBE), "-f", str(f)], "keys must be names")


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "soon"])
def test_timeout_must_be_finite_and_positive(tmp_path, capsys, value):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", str(PROBE), "--timeout", value, "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--timeout" in err and "Traceback" not in err
    assert not out.exists()


def test_library_refuses_nan_timeout_before_a_kernel(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ToolBoxValueError, match="finite number of seconds"):
        runner.run_template(str(PROBE), out=out, timeout=math.nan, progress=False)
    assert not out.exists() or not list(out.iterdir())


def test_reasonable_values_pass(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text("items: [" + ", ".join(map(str, range(10_000))) + "]\nopts: {a: {b: [1, 2]}}\n")
    prep = runner.prepare(str(PROBE), {"shot": "3"}, str(f), out=tmp_path / "out")
    assert len(prep.values["items"]) == 10_000 and prep.values["opts"] == {"a": {"b": [1, 2]}}
