"""hRIXS.load_params refuses files that are not its parameter files, with a message
(a list, ``{}``, another class's file, values of the wrong kind), instead of TypeError /
KeyError or silently setting nonsense."""

import json

import pytest

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError


def test_round_trip(tmp_path):
    h = tb.hRIXS(900002)
    h.set_params(curve_a=0.02, x_range=slice(10, 200), use_dark=True)
    path = h.save_params(tmp_path / "h.json")
    g = tb.hRIXS(900002).load_params(path)
    assert g.get_params("curve_a", "x_range", "use_dark") == {
        "curve_a": 0.02,
        "x_range": slice(10, 200),
        "use_dark": True,
    }


@pytest.mark.parametrize(
    "content, match",
    [
        ([1, 2], "no object 'params'"),
        ({}, "no object 'params'"),
        ({"params": [1]}, "no object 'params'"),
        ({"class": "Viking", "params": {}}, "Viking.load_params"),
        ({"params": {"curve_a": "abc"}}, "curve_a .* must be a number"),
        ({"params": {"curve_a": float("nan")}}, "curve_a"),
        ({"params": {"use_dark": 3}}, "use_dark .* must be a boolean"),
        ({"params": {"x_range": 5}}, "x_range .* must be a slice"),
        ({"params": {}, "curvature_fit": [1]}, "curvature_fit must be an object"),
        ({"params": {"nonsense": 1}}, "unknown hRIXS parameter"),
        ("not json {", "not a parameter file"),
    ],
)
def test_other_files_are_refused(tmp_path, content, match):
    f = tmp_path / "p.json"
    f.write_text(content if isinstance(content, str) else json.dumps(content))
    h = tb.hRIXS(900002)
    before = h.get_params()
    with pytest.raises(ToolBoxValueError, match=match):
        h.load_params(f)
    assert h.get_params() == before  # nothing set from a refused file
