"""Simulated run folders: simulations of one run by concurrent processes agree on one
result, leftovers of killed simulations are removed, an unusable data root is a clear
error, and the run files and the ground truth are readable by the group."""

import os
import stat
import subprocess
import sys
import time

import pytest

from scs_nb import atomic, sim
from scs_nb.errors import ToolBoxError


def test_concurrent_simulations_of_one_run(tmp_path):
    code = (
        "import warnings; warnings.simplefilter('ignore'); from scs_nb import sim; "
        f"print(sim.ensure_run(900001, 7, 'basic', data_root={str(tmp_path)!r}, "
        "trains=30))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    raw = next(tmp_path.glob("SCS/*/p900001/raw"))
    assert sorted(p.name for p in raw.iterdir()) == ["r0007"]  # no .part leftovers
    truth = sim.ground_truth(900001, 7, tmp_path)
    assert len(truth["train_ids"]) == 30
    # the truth file and the run files are readable by the group (umask 022 -> 0644)
    mode = 0o666 & ~atomic.umask()
    assert stat.S_IMODE(sim.truth_path(900001, 7, tmp_path).stat().st_mode) == mode
    for f in (raw / "r0007").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == mode


def test_leftover_part_folders_removed(tmp_path):
    first = sim.simulate("basic", 900001, 3, trains=5, data_root=tmp_path)
    raw = first.run_dir.parent
    old = time.time() - 3600
    legacy = raw / "r0004.part"  # the old fixed name
    killed = raw / f"r0004.pid999999999@{atomic._HOST}.x.part"  # no such process
    for d in (legacy, killed):
        d.mkdir()
        (d / "RAW-R0004-DA01-S00000.h5").write_bytes(b"half")
        os.utime(d, (old, old))
    sim.simulate("basic", 900001, 4, trains=5, data_root=tmp_path)
    assert sorted(p.name for p in raw.iterdir()) == ["r0003", "r0004"]


def test_unwritable_data_root(tmp_path, monkeypatch):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ToolBoxError, match="is a file.*data_root="):
        sim.simulate("basic", 900001, 1, trains=5, data_root=f / "root")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: judge by the mode bits
        monkeypatch.setattr(atomic, "_writable", lambda p: bool(os.stat(p).st_mode & 0o200))
    with pytest.raises(ToolBoxError, match="not writable.*EXTRA_DATA_DATA_ROOT"):
        sim.simulate("basic", 900001, 1, trains=5, data_root=ro)
