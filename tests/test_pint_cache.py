"""The suite does not depend on caches other environments left behind.

pint (imported by EXtra) caches parsed unit definitions in the user's cache folder with the
absolute paths of the pint that wrote them; once that environment is deleted, ``import extra``
fails everywhere else with ``FileNotFoundError: .../pint/default_en.txt/constants_en.txt``.
tests/conftest.py points the caches at this venv's own folder.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pint = pytest.importorskip("pint")
ROOT = Path(__file__).resolve().parents[1]


def test_extra_imports():
    import extra  # noqa: F401  (heavy; the import is what is tested)


def test_caches_belong_to_this_venv():
    import platformdirs

    cache = Path(platformdirs.user_cache_path(appname="pint", appauthor=False))
    assert Path(sys.prefix) in cache.parents


def _poisoned_home(tmp_path):
    """A home whose ~/.cache/pint was written by a pint installation that is gone since."""
    home, old = tmp_path / "home", tmp_path / "old-env"
    old.mkdir()
    shutil.copytree(Path(pint.__file__).parent, old / "pint")
    env = dict(os.environ, HOME=str(home), PYTHONPATH=str(old))
    env.pop("XDG_CACHE_HOME", None)
    code = "import pint; pint.UnitRegistry(cache_folder=':auto:')"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    shutil.rmtree(old)
    assert any((home / ".cache" / "pint").iterdir())
    env.pop("PYTHONPATH")
    return env


def test_suite_ignores_a_stale_user_pint_cache(tmp_path):
    env = _poisoned_home(tmp_path)
    # the defect, as any program of this venv meets it
    plain = subprocess.run(
        [sys.executable, "-c", "import pint; pint.UnitRegistry(cache_folder=':auto:')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if plain.returncode == 0:
        pytest.skip("this pint no longer reads stale paths from its cache")
    assert "constants_en.txt" in plain.stderr
    # the suite's own set-up is immune: run a test of this file in a fresh pytest
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            f"{__file__}::test_extra_imports",
            f"{__file__}::test_caches_belong_to_this_venv",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
