"""The suite and the benchmarks do not fill the disk: pytest keeps the temporary folders
of failed tests only, and benchmarks/boz.py removes its simulated runs unless --keep."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_passing_tests_keep_no_temporary_folders(pytestconfig):
    assert pytestconfig.getini("tmp_path_retention_policy") == "failed"


def _bench(tmp, *args):
    env = dict(os.environ, TMPDIR=str(tmp))
    small = ["--trains", "4", "--dark-trains", "2", "--pulses", "4", "--reference-trains", "2"]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "boz.py"), *small, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("boz-bench-"))


def test_boz_benchmark_cleans_up_unless_kept(tmp_path):
    assert _bench(tmp_path) == []
    kept = _bench(tmp_path, "--keep")
    assert len(kept) == 1 and any((tmp_path / kept[0]).rglob("*.h5"))
