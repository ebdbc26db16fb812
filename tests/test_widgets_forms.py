"""RunPicker and ParameterForm without a browser, and the explore_run template
headless (papermill): the same notebook prints values and static figures."""

import matplotlib

matplotlib.use("Agg")

import nbformat
import numpy as np
import pytest

from scs_nb.batch import runner
from scs_nb.batch.params import ParameterError, load_parameter_file, validate_parameters
from scs_nb.errors import ToolBoxPathError, ToolBoxValueError
from scs_nb.results import read_results
from scs_nb.widgets import ParameterForm, RunPicker


# -- RunPicker ---------------------------------------------------------------
def test_run_picker_info_and_data_rate(simulated, data_root):
    full = simulated("basic", trains=24, seed=5)
    gappy = simulated("basic", trains=30, seed=6, absent="BAM_414")
    picker = RunPicker(data_root=data_root, interactive=False)
    assert full.proposal in [v for _, v in picker.proposal_dd.options]
    picker.select(full.proposal, full.run)
    info = picker.info
    tids = full.truth["train_ids"]
    assert picker.value == {"proposal": full.proposal, "run": full.run}
    assert info["trains"] == len(tids)
    assert info["duration_s"] == pytest.approx((tids[-1] - tids[0] + 1) / 10)
    assert "SCS_BLU_XGM/XGM/DOOCS:output" in info["sources"]
    assert {"SCS_SA3", "nrj", "BAM414"} <= set(info["mnemonics"])
    assert all(v == 1.0 for v in info["data_rate"].values())
    assert len(picker.run.train_ids) == len(tids)
    # a source missing in the middle third: its data rate is below 1
    seen = []
    picker.observe(lambda p: seen.append(p.value))
    picker.run_dd.value = gappy.run
    assert seen[-1] == {"proposal": gappy.proposal, "run": gappy.run}
    absent = gappy.truth["absent"]["SCS_ILH_LAS/DOOCS/BAM_414_B2:output"]
    expected = 1 - len(absent) / len(gappy.truth["train_ids"])
    assert picker.info["data_rate"]["BAM414"] == pytest.approx(expected)
    assert picker.info["data_rate"]["SCS_SA3"] == 1.0
    assert "BAM414" in picker.summary() and "color:#b00" in picker.rates_html.value
    with pytest.raises(ToolBoxValueError, match="run 9998 is not in the data root"):
        picker.select(run=9998)


def test_run_picker_reads_its_own_data_root(tmp_path, monkeypatch):
    """A picker on another data root than $EXTRA_DATA_DATA_ROOT opens runs there."""
    from scs_nb import sim

    res = sim.simulate("basic", 900003, 5, trains=12, seed=3, data_root=tmp_path / "other")
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(tmp_path / "empty"))
    picker = RunPicker(data_root=tmp_path / "other", interactive=False)
    picker.select(900003, 5)
    assert picker.info["trains"] == len(res.truth["train_ids"]) == 12
    assert list(picker.run.train_ids) == res.truth["train_ids"]


def test_run_picker_empty_root(tmp_path):
    picker = RunPicker(data_root=tmp_path, interactive=False)
    assert picker.value == {"proposal": None, "run": None}
    assert picker.run is None
    assert "No proposals" in picker.info_html.value
    assert "no run selected" in picker.summary()


# -- ParameterForm -----------------------------------------------------------
def test_parameter_form_validates_like_scs_nb_run(tmp_path):
    form = ParameterForm("explore_run", interactive=False)
    spec = form.spec
    assert form.value == {n: p.default for n, p in spec.items()}
    # widgets by type; help as tooltip
    assert type(form.inputs["proposal"]).__name__ == "IntText"
    assert type(form.inputs["low"]).__name__ == "Text"  # float | None
    assert form.inputs["proposal"].tooltip == spec["proposal"].help
    # a bad value: the same message as validate_parameters, buttons disabled
    assert form.set(low="abc") is False
    with pytest.raises(ParameterError) as err:
        form.value
    with pytest.raises(ParameterError) as ref:
        validate_parameters(spec, {"low": "abc"}, template="explore_run")
    assert str(err.value) == str(ref.value)
    assert form.run_headless_btn.disabled and "expects" in form.validity.value
    assert form.set(low="12.5", run=61, xgm="XTD10_SA3") is True
    assert form.value["low"] == 12.5 and form.value["run"] == 61
    form.inputs["run"].value = 0  # run range check
    assert not form.valid and "between 1 and 9999" in form.validity.value
    form.inputs["run"].value = 61
    with pytest.raises(ParameterError, match="unknown parameter"):
        form.set(rnu=3)
    # YAML export: what scs-nb run -f reads back gives the same values
    path = form.export_yaml(tmp_path / "p.yaml")
    back = validate_parameters(spec, load_parameter_file(path), template="explore_run")
    assert back == form.value
    with pytest.raises(ToolBoxPathError, match="already exists"):
        form.export_yaml(path)
    form.export_yaml(path, overwrite=True)
    # the inline run replaces the parameters cell by the values
    first = form.cells_with_values()[0]
    assert "low = 12.5" in first and "xgm = 'XTD10_SA3'" in first


def test_explore_template_headless_via_form(simulated, data_root, tmp_path):
    """The explore_run template run headless (papermill, as scs-nb run does)
    from the form: every widget prints its value, figures are static PNGs."""
    res = simulated("delay_scan", trains=30, seed=7)
    form = ParameterForm(
        "explore_run",
        proposal=res.proposal,
        run=res.run,
        low=300.0,
        high=800.0,
        out=str(tmp_path / "out"),
        interactive=False,
    )
    result = form.run_headless(wait=True)
    assert result.ok, result.message
    nb = nbformat.read(str(result.notebook), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    images = sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    )
    assert "interactive widgets: False" in text
    assert f"proposal {res.proposal} run {res.run}: 30 trains" in text
    raw = np.asarray(res.truth["xgm"]["SCS"]["sa3_fast_raw"])
    kept = int(((raw >= 300) & (raw <= 800)).sum())
    (rec,) = [r for r in read_results(runner.results_path(result.notebook))]
    assert rec["name"] == "pulses_kept" and rec["value"] == kept
    assert "integParams = dict(pulseStart=" in text
    assert "PP800_DelayLine: 10 bins" in text
    assert images >= 3
    assert form.result is result and "wrote" in form.validity.value
