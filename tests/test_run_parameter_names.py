"""The BOZ templates' ``darkrun`` (the ToolBox name) is a run parameter like
``dark_run``: a missing dark run is refused before a kernel starts, and the
report header lists it."""

import pytest

from scs_nb.batch.inputs import check_runs_exist, is_run_parameter, run_parameters
from scs_nb.batch.report import header_html
from scs_nb.errors import ToolBoxPathError


@pytest.mark.parametrize(
    "name, expected",
    [
        ("run", True),
        ("darkrun", True),
        ("dark_run", True),
        ("calibration_runs", True),
        ("rerun", False),
        ("nruns", False),
        ("overwrite", False),
    ],
)
def test_names(name, expected):
    assert is_run_parameter(name) is expected


def test_missing_darkrun_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(tmp_path))
    (tmp_path / "SCS" / "202601" / "p900123" / "raw" / "r0902").mkdir(parents=True)
    values = {"proposal": 900123, "darkrun": 901, "run": 902, "module": 15}
    assert run_parameters(values) == {"run": [902], "darkrun": [901]}
    with pytest.raises(ToolBoxPathError, match=r"darkrun=901 not found.*runs that exist: 902"):
        check_runs_exist(values, "boz_Ia")
    assert "darkrun = 901" in header_html("boz_Ia", values)
