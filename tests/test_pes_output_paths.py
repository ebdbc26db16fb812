"""PES average traces are written inside the proposal folder, never into raw data.

``save_pes_avg_traces(subdir=...)`` (the ``pes_basic`` template's parameter) joined the path
unchecked: ``../..`` escaped the proposal folder and ``subdir='raw'`` put an ``.h5`` into the
raw run folder, which every later open of the run then warned about.
"""

from pathlib import Path

import pytest

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError
from scs_nb.facility import find_proposal


@pytest.fixture(scope="module")
def run(simulated):
    return simulated("pes", trains=10)


def _files(folder):
    # extra_data's own run map cache (karabo_data_map.json) may appear on opening a run
    return sorted(
        p for p in Path(folder).rglob("*") if p.is_file() and p.name != "karabo_data_map.json"
    )


@pytest.mark.parametrize(
    "subdir",
    [
        "../..",
        "usr/../../elsewhere",
        "/tmp/pes",
        "~/pes",
        "raw",
        "./raw/r0001",
        "proc",
        "",
        "usr/\npes",
    ],
)
def test_subdir_outside_or_in_facility_folders_is_refused(run, subdir):
    folder = Path(find_proposal(run.proposal))
    before = _files(folder.parent)
    with pytest.raises(ToolBoxValueError, match="subdir"):
        tb.save_pes_avg_traces(run.proposal, run.run, "2A", subdir=subdir, overwrite=True)
    with pytest.raises(ToolBoxValueError, match="subdir"):
        tb.load_pes_avg_traces(run.proposal, run.run, "2A", subdir=subdir)
    assert _files(folder.parent) == before  # nothing written anywhere


def test_subdir_inside_the_proposal_folder(run):
    path = Path(tb.save_pes_avg_traces(run.proposal, run.run, "2A", subdir="scratch/pes"))
    folder = Path(find_proposal(run.proposal))
    assert path.parent.parent == folder / "scratch" / "pes"
    assert list(tb.load_pes_avg_traces(run.proposal, run.run, subdir="scratch/pes")) == [
        "PES_2Araw"
    ]
    # the raw run folder holds only what the facility wrote
    assert not list((folder / "raw").rglob("*pes-data*"))
