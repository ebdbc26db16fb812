"""One set of constraints for the BOZ correction determination's inputs.

The ``boz_Ia`` template accepted ``module=99``, ``gain<0``, ``sat_level<0`` that
``scs-nb submit boz-correction`` refused. The constraints are defined once
(``boz.params.CORRECTION_CONSTRAINTS``): the submit profile, ``parameters`` and
``determine_correction`` apply them, and the template's parameters cell must state them.
"""

import pytest

from scs_nb.batch.params import (
    ParameterError,
    notebook_parameters,
    parse_constraints,
    validate_parameters,
)
from scs_nb.batch.profiles.boz_correction import boz_submit_parameters
from scs_nb.batch.templates import find_template
from scs_nb.errors import ToolBoxValueError
from scs_nb.routines import boz
from scs_nb.routines.boz.params import CORRECTION_CONSTRAINTS, check_correction_inputs

BAD = {
    "module": [99, -1, 16],
    "gain": [-3.0, 0.0, float("nan")],
    "rois_th": [0.0, -1.0, float("inf")],
    "sat_level": [-1, 0, 600],
}
GOOD = {"module": [0, 15], "gain": [0.5, 3.0], "rois_th": [1.0], "sat_level": [1, 500, 511]}


@pytest.mark.parametrize("name", sorted(BAD))
def test_submit_refuses_what_the_library_refuses(name):
    kw = dict(proposal=2937, dark=615, run=614, gain=3.0, rois_th=1.0, sat_level=500, module=15)
    for value in BAD[name]:
        with pytest.raises(ToolBoxValueError, match=CORRECTION_CONSTRAINTS[name]):
            boz_submit_parameters(**{**kw, name: value})
        with pytest.raises(ToolBoxValueError, match=f"{name} must be"):
            check_correction_inputs(**{name: value})
    for value in GOOD[name]:
        assert boz_submit_parameters(**{**kw, name: value})[name] == value


def test_parameters_and_determination_refuse_before_loading():
    with pytest.raises(ToolBoxValueError, match="module must be 0..15, got 99"):
        boz.parameters(2937, 615, 614, 99, 3.0)
    with pytest.raises(ToolBoxValueError, match="gain must be > 0"):
        boz.parameters(2937, 615, 614, 15, -3.0)
    with pytest.raises(ToolBoxValueError, match="sat_level must be 1..511"):
        boz.pipeline.determine_correction(2937, 615, 614, sat_level=-1)


@pytest.mark.parametrize("name", sorted(CORRECTION_CONSTRAINTS))
def test_template_notation_means_the_same(name):
    """The batch's parser of help comments reads each constraint as the library applies it."""
    parsed = parse_constraints(f"help ({CORRECTION_CONSTRAINTS[name]})")
    assert parsed
    for value in (-2, -1e-9, 0, 0.5, 1, 15, 16, 99, 510, 511, 512):
        batch_ok = all(
            {">": value > b, ">=": value >= b, "<": value < b, "<=": value <= b}[op]
            for op, b in parsed
        )
        try:
            check_correction_inputs(**{name: value})
            lib_ok = True
        except ToolBoxValueError:
            lib_ok = False
        assert lib_ok == batch_ok, (name, value)


def test_template_states_the_library_constraints():
    spec = notebook_parameters(find_template("boz_Ia").notebook())
    for name, text in CORRECTION_CONSTRAINTS.items():
        assert spec[name].constraints == parse_constraints(f"({text})"), name
    with pytest.raises(ParameterError):
        validate_parameters(spec, {"module": 99}, "boz_Ia")
