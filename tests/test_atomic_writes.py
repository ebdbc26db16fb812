"""Atomic outputs: every writer of scs_nb (notebooks, status files, DSSC module files,
geometries, caches, simulated runs) goes through ``scs_nb.atomic``, so a file with its
final name is always complete, gets the permissions of an ordinary new file (readable by
the proposal's group), and the temporary leftovers of killed writers are cleaned up
without touching those of live ones."""

import os
import stat
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from scs_nb import atomic


def test_replacing_writes_whole_files_with_the_group_mode(tmp_path):
    """atomic.replacing: the one temp-file-then-rename path of the module, geometry,
    azimuthal-cache, BOZ, PES and FastCCD writers: the file appears complete with
    the umask's mode, an error leaves neither it nor a temporary file behind."""
    target = tmp_path / "sub" / "out.h5"
    with atomic.replacing(target) as tmp:
        assert not target.exists() and os.path.basename(tmp).startswith(".out.h5.pid")
        with h5py.File(tmp, "w") as f:
            f["x"] = np.arange(3)
    with h5py.File(target, "r") as f:
        assert f["x"][()].tolist() == [0, 1, 2]
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~atomic.umask()
    with pytest.raises(RuntimeError), atomic.replacing(target) as tmp:
        with h5py.File(tmp, "w") as f:
            f["x"] = np.arange(5)
        raise RuntimeError("killed while writing")
    with h5py.File(target, "r") as f:
        assert f["x"].shape == (3,)  # the old file, untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.h5"]


def test_stale_leftovers_are_cleaned(tmp_path):
    old = time.time() - 3600
    host = atomic._HOST
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [
        tmp_path / f".nb.pid{dead.pid}@{host}.abc.part.ipynb",
        tmp_path / ".nb.legacy.part.ipynb",
    ]
    alive = [
        tmp_path / f".nb.pid1@{host}.abc.part.ipynb",  # pid 1 lives
        tmp_path / f".nb.pid{dead.pid}@{host}.new.part.ipynb",
    ]  # newer than us
    for p in stale + alive:
        p.write_text("x")
    for p in stale + alive[:1]:
        os.utime(p, (old, old))
    removed = atomic.clean_stale(tmp_path, ".nb.", ".part.ipynb")
    assert sorted(removed) == sorted(stale)
    assert all(p.exists() for p in alive)
