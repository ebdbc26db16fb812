"""Template parameters: parsed from the `parameters` cell, validated before any kernel."""

import textwrap
from pathlib import Path

import nbformat
import pytest

from scs_nb import cli
from scs_nb.batch import params as P
from scs_nb.batch.batch import parse_runs
from scs_nb.batch.templates import find_template, list_templates
from scs_nb.errors import ToolBoxError

pytestmark = pytest.mark.usefixtures("tiny_runs")

TINY = Path(__file__).parent / "data" / "tiny_template.ipynb"

CELL = textwrap.dedent('''\
    proposal: int = 900001  # proposal number
    run: int = None  # run number (required)
    dark_run: int | None = None  # dark run; None = no dark
    xaxis: Literal["delay", "nrj"] = "delay"  # what to bin against
    bin_width: float = 0.1  # bin width
    modules: list[int] = [0, 1]  # DSSC modules
    tags: list = ["a"]  # free list
    plot: bool = True  # make figures
    name: str = "x"  # a label
    note: str | None = None  # optional note
    extra: dict = {"a": 1}  # options
''')


@pytest.fixture
def spec():
    return P.parse_parameters_source(CELL)


@pytest.fixture(autouse=True)
def no_kernel(monkeypatch):
    """Validation must fail before papermill starts a kernel."""
    import papermill

    def boom(*a, **k):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(papermill, "execute_notebook", boom)


def test_parse_cell(spec):
    assert list(spec) == [
        "proposal",
        "run",
        "dark_run",
        "xaxis",
        "bin_width",
        "modules",
        "tags",
        "plot",
        "name",
        "note",
        "extra",
    ]
    assert spec["run"].required and spec["run"].type == "int"
    assert spec["run"].help == "run number (required)"
    assert not spec["dark_run"].required and spec["dark_run"].nullable
    assert spec["xaxis"].type == "choice" and spec["xaxis"].choices == ("delay", "nrj")
    assert spec["modules"].item_type == "int" and spec["modules"].default == [0, 1]
    assert spec["bin_width"].default == 0.1 and spec["plot"].default is True


def test_values_parsed_by_type(spec):
    v = P.validate_parameters(
        spec,
        {
            "run": "12",
            "bin_width": "2",
            "modules": "3, 4",
            "plot": "no",
            "xaxis": "nrj",
            "name": "a b=c",
            "dark_run": "None",
            "tags": "[1, 'x']",
            "extra": '{"k": [1, 2]}',
        },
    )
    assert v["run"] == 12 and isinstance(v["bin_width"], float) and v["bin_width"] == 2.0
    assert v["modules"] == [3, 4] and v["plot"] is False and v["xaxis"] == "nrj"
    assert v["name"] == "a b=c" and v["dark_run"] is None and v["tags"] == [1, "x"]
    assert v["extra"] == {"k": [1, 2]} and v["proposal"] == 900001
    assert P.validate_parameters(spec, {"run": 1, "modules": "[5]"})["modules"] == [5]
    v = P.validate_parameters(spec, {"run": 1, "name": "None", "note": "None"})
    assert v["name"] == "None" and v["note"] is None


@pytest.mark.parametrize(
    "given, words",
    [
        ({"run": "1.5"}, ["'run'", "int"]),
        ({"run": "x"}, ["'run'", "int"]),
        ({"run": True}, ["'run'", "int"]),  # a YAML bool is no int
        ({"run": 1, "bin_width": "fast"}, ["'bin_width'", "float"]),
        ({"run": 1, "plot": "maybe"}, ["'plot'", "bool"]),
        ({"run": 1, "modules": "1,x"}, ["'modules'", "list of int"]),
        ({"run": 1, "xaxis": "energy"}, ["'xaxis'", "'delay', 'nrj'"]),
        ({"run": 1, "name": 3}, ["'name'", "str"]),
        ({"run": 1, "proposal": 0}, ["'proposal'", "between"]),
        ({"run": 10001}, ["'run'", "between"]),
        ({}, ["'run'", "required", "-p run=VALUE"]),
        ({"run": "None"}, ["'run'", "required"]),
        ({"run": 1, "binwidth": "1"}, ["'binwidth'", "unknown", "did you mean 'bin_width'"]),
    ],
)
def test_bad_values_name_the_parameter(spec, given, words):
    with pytest.raises(P.ParameterError) as err:
        P.validate_parameters(spec, given, template="t")
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize(
    "source, words",
    [
        ("run = 1  # no annotation\n", ["line 1", "annotated"]),
        ("run: int = 1\n", ["'run'", "# help"]),
        ("run: int = 1 + 1  # computed\n", ["'run'", "literal"]),
        ("run: numpy.ndarray = 1  # odd\n", ["'run'", "annotation"]),
        ("run: int = 'a'  # wrong default\n", ["'run'", "default"]),
        ("import os\n", ["annotated"]),
        ("run: int = (\n", ["syntax"]),
    ],
)
def test_template_contract_violations(source, words):
    with pytest.raises(P.ParameterError) as err:
        P.parse_parameters_source(source)
    for w in words:
        assert w in str(err.value)


def test_parameter_file(tmp_path, spec):
    f = tmp_path / "p.yaml"
    f.write_text("run: 7\nbin_width: 1\nmodules: [1, 2]\nplot: false\n")
    v = P.validate_parameters(spec, P.load_parameter_file(f))
    assert v["run"] == 7 and v["bin_width"] == 1.0 and v["modules"] == [1, 2]
    f.write_text("run: seven\n")
    with pytest.raises(P.ParameterError, match="'run' expects an int"):
        P.validate_parameters(spec, P.load_parameter_file(f))
    f.write_text("- a\n- b\n")
    with pytest.raises(P.ParameterError, match="mapping"):
        P.load_parameter_file(f)


def test_format_value_round_trip(spec):
    values = P.validate_parameters(
        spec, {"run": 3, "modules": [1, 2], "plot": False, "bin_width": 0.25, "extra": {"a": [1]}}
    )
    text = {k: P.format_value(spec[k], v) for k, v in values.items()}
    assert P.validate_parameters(spec, text) == values


def test_parse_runs():
    assert parse_runs("10-13,25") == [10, 11, 12, 13, 25]
    assert parse_runs("1-9:4,2") == [1, 2, 5, 9]
    for bad in ("", "5-3", "a", "1;2", "1-"):
        with pytest.raises(ToolBoxError):
            parse_runs(bad)


def test_templates_listing(tmp_path):
    nb = nbformat.read(str(TINY), as_version=4)
    nbformat.write(nb, str(tmp_path / "tiny.ipynb"))
    (tmp_path / "other.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    items = list_templates(tmp_path)
    assert [t.name for t in items] == ["other", "tiny"]
    assert items[1].description().startswith("Tiny test template")
    assert find_template(str(TINY)).name == "tiny_template"
    with pytest.raises(ToolBoxError, match="no template named"):
        find_template("no_such_template_xyz")
    with pytest.raises(P.ParameterError, match="tagged 'parameters'"):
        items[0].parameters()


def test_cli_templates_lists_shipped(capsys):
    assert cli.main(["templates"]) == 0


def test_cli_run_help_lists_parameters(capsys):
    assert cli.main(["run", str(TINY), "--help"]) == 0
    out = capsys.readouterr().out
    assert "fail_on" in out and "list[int]" in out and "(required)" in out
    assert "run number" in out


@pytest.mark.parametrize(
    "args, words",
    [
        (["-p", "run=abc"], ["'run'", "int"]),
        (["-p", "run=1", "-p", "rnu=2"], ["unknown parameter 'rnu'", "did you mean 'run'"]),
        ([], ["'run'", "required"]),
        (["-p", "run=1", "-p", "scale=big"], ["'scale'", "float"]),
        (["-p", "run"], ["NAME=VALUE"]),
        (["-p", "run=1", "--kernel", "no_such_kernel"], ["no_such_kernel", "not installed"]),
    ],
)
def test_cli_run_rejects_before_kernel(capsys, tmp_path, args, words):
    code = cli.main(["run", str(TINY), "--out", str(tmp_path)] + args)
    assert code == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err
    assert not any(tmp_path.iterdir())


def test_cli_templates_check(tmp_path, capsys, monkeypatch):
    from scs_nb.batch import templates

    nb = nbformat.read(str(TINY), as_version=4)
    nbformat.write(nb, str(tmp_path / "good.ipynb"))
    nb.cells.insert(1, nbformat.v4.new_code_cell("import os"))
    nbformat.write(nb, str(tmp_path / "bad.ipynb"))
    monkeypatch.setattr(templates, "templates_dir", lambda: tmp_path)
    assert cli.main(["templates"]) == 0
    assert cli.main(["templates", "--check"]) == 1
    out = capsys.readouterr().out
    assert "good" in out and "[ok: 6 parameters]" in out
    assert "BROKEN: the first code cell" in out


def test_cli_param_file(tmp_path, capsys):
    f = tmp_path / "p.yaml"
    f.write_text("run: 3\nscale: fast\n")
    assert cli.main(["run", str(TINY), "-f", str(f), "--out", str(tmp_path / "o")]) == 2
    assert "'scale' expects a float, got 'fast'" in capsys.readouterr().err
    # -p overrides the file; still nothing runs for an unknown name in the file
    f.write_text("run: 3\nscael: 2\n")
    assert cli.main(["run", str(TINY), "-f", str(f), "-p", "scale=2"]) == 2
    assert "unknown parameter 'scael'" in capsys.readouterr().err
