"""A simulated run is published together with its ground truth: if the truth cannot be
written, no run appears (and a rerun is not refused); a published run always has it."""

import errno
import os

import pytest

from scs_nb import sim
from scs_nb.sim import folders

P = 900002


def _fail_truth_write(monkeypatch):
    real = folders.write_atomic

    def write_atomic(path, data, *a, **k):
        if "ground_truth" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data, *a, **k)

    monkeypatch.setattr(folders, "write_atomic", write_atomic)


def test_no_run_without_its_truth(data_root, monkeypatch):
    run_dir = sim.proposal_dir(P, data_root) / "raw" / "r0621"
    with monkeypatch.context() as m:
        _fail_truth_write(m)
        with pytest.raises(OSError, match="No space left"):
            sim.simulate("basic", P, 621, trains=5, data_root=data_root)
    assert not run_dir.exists()
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith("r0621")]
    # the rerun is not refused, and run and truth are there
    res = sim.simulate("basic", P, 621, trains=5, data_root=data_root)
    assert res.run_dir == run_dir and res.truth_file.is_file()
    assert sim.ground_truth(P, 621, data_root)["options"] == {}
    truth_dir = res.truth_file.parent
    assert sorted(p.name for p in truth_dir.iterdir()) == ["ground_truth.json"]


def test_truth_rename_failure_takes_the_run_back(data_root, monkeypatch):
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("ground_truth.json"):
            raise OSError(errno.EIO, "Input/output error", str(dst))
        return real(src, dst)

    run_dir = sim.proposal_dir(P, data_root) / "raw" / "r0622"
    with monkeypatch.context() as m:
        m.setattr(folders.os, "replace", replace)
        with pytest.raises(OSError, match="Input/output"):
            sim.simulate("basic", P, 622, trains=5, data_root=data_root)
    assert not run_dir.exists()
    assert not folders.truth_path(P, 622, data_root).exists()
    sim.simulate("basic", P, 622, trains=5, data_root=data_root)
    assert folders.truth_path(P, 622, data_root).is_file()
