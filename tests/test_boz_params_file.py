"""BOZ parameter files: a determination killed during its non-linearity fit leaves a
preview marked incomplete, which readers refuse (or accept with a loud warning); bad
masks, other files and a dark run of another pulse pattern are refused with a message."""

import json
import shutil
import warnings

import numpy as np
import pytest

from scs_nb import sim
from scs_nb.errors import ToolBoxValueError
from scs_nb.routines import boz
from scs_nb.routines.boz import pipeline
from scs_nb.routines.boz.params import IncompleteParametersWarning
from scs_nb.routines.boz.small_data import small_data

P = 900002


@pytest.fixture(scope="module")
def runs(data_root):
    out, dirs = {}, []
    for name, scenario, run, kw in (
        ("dark", "boz_dark", 611, {"trains": 10}),
        ("mem", "boz_membranes", 612, {"trains": 20}),
        ("dark10", "boz_dark", 613, {"trains": 4, "npulses": 10}),
    ):
        res = sim.simulate(scenario, P, run, data_root=data_root, overwrite=True, **kw)
        out[name] = run
        dirs.append(res.run_dir)
    yield out
    for d in dirs:  # hundreds of MB, used by this module alone
        shutil.rmtree(d, ignore_errors=True)


class Killed(BaseException):
    """What a SLURM time limit does to the job: nothing after it runs."""


@pytest.fixture(scope="module")
def killed(runs, tmp_path_factory):
    """determine_correction stopped during the non-linearity fit."""
    out = tmp_path_factory.mktemp("boz")

    def nl_fit(*a, **k):
        raise Killed

    mp = pytest.MonkeyPatch()
    mp.setattr(pipeline, "nl_fit", nl_fit)
    try:
        with pytest.raises(Killed):
            pipeline.determine_correction(
                P, runs["dark"], runs["mem"], path=str(out), ff_max_iter=5, progress=lambda m: None
            )
    finally:
        mp.undo()
    return out / boz.parameters(P, runs["dark"], runs["mem"], 15, 3).filename()


def test_preview_is_marked_incomplete(killed):
    d = json.loads(killed.read_text())
    assert d["complete"] is False and d["Fnl"] is None and d["flat_field"]


def test_incomplete_file_is_refused(killed):
    with pytest.raises(ToolBoxValueError, match="did not finish.*allow_incomplete"):
        boz.parameters.load(str(killed))


def test_incomplete_file_on_request_warns(killed, runs):
    with pytest.warns(IncompleteParametersWarning, match="identity"):
        p = boz.parameters.load(str(killed), allow_incomplete=True)
    assert p.complete is False and p.Fnl is None
    with pytest.warns(IncompleteParametersWarning, match="NOT corrected"):
        small_data(p, runs["mem"])


def test_complete_file_loads_silently(killed, tmp_path):
    with pytest.warns(IncompleteParametersWarning):
        p = boz.parameters.load(str(killed), allow_incomplete=True)
    p.set_Fnl(np.arange(512.0) * 1.01)
    fname = p.save(str(tmp_path))
    assert json.loads(open(fname).read())["complete"] is True
    with warnings.catch_warnings():
        warnings.simplefilter("error", IncompleteParametersWarning)
        q = boz.parameters.load(fname)
    assert q.complete is True and np.allclose(q.get_Fnl(), p.get_Fnl())
    # a ToolBox file without "complete" and without Fnl is a preview too
    d = json.loads(open(fname).read())
    d.pop("complete")
    d["Fnl"] = None
    (tmp_path / "old.json").write_text(json.dumps(d))
    with pytest.raises(ToolBoxValueError, match="preview"):
        boz.parameters.load(str(tmp_path / "old.json"))


@pytest.mark.parametrize(
    "content, match",
    [
        ([1, 2, 3], "JSON object expected"),
        ({}, "missing"),
        ({"proposal": "x", "darkrun": 1, "run": 2, "module": 3, "gain": 1}, "proposal"),
        ("{not json", "not a BOZ parameters file"),
    ],
)
def test_other_files_are_refused(tmp_path, content, match):
    f = tmp_path / "p.json"
    f.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ToolBoxValueError, match=match):
        boz.parameters.load(str(f))


@pytest.mark.parametrize("bad", [[128, 0], [0, 512], [-1, 5], [3], [1.5, 2], ["a", 1]])
def test_mask_indices_outside_the_module_are_refused(bad):
    p = boz.parameters(P, 1, 2, 15, 3)
    with pytest.raises(ToolBoxValueError, match="inside the module"):
        p.set_mask([[0, 0], bad])
    p.set_mask([[0, 0], [127, 511]])
    assert (~p.get_mask()).sum() == 2 and not p.get_mask()[127, 511]


def test_dark_with_other_frame_count_is_refused(runs):
    p = boz.parameters(P, runs["dark10"], runs["mem"], 15, 3)
    with pytest.raises(ToolBoxValueError, match="10 frames per train.*20"):
        p.dask_load_persistently()
