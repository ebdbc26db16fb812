"""Shared fixtures: a private data root and simulated runs with ground truth.

Runs are simulated once per test session (per xdist worker) and per set of
arguments; they are small (tens to a few hundred trains) so the suite stays fast.
"""

import os
import shutil
import sys
import zlib
from pathlib import Path

import pytest

# Caches of this environment only. pint (through EXtra) caches its parsed unit definitions
# under the user's cache folder with the absolute paths of the pint that wrote them: a cache
# left by a deleted environment breaks every later one (hgrecco/pint#1572). Kernels started
# by template tests inherit the setting.
VENV_CACHE = os.path.join(sys.prefix, "var", "cache")
os.environ["XDG_CACHE_HOME"] = VENV_CACHE
if "PYTEST_XDIST_WORKER" not in os.environ:
    # Fill pint's cache once, here in the controlling process, before xdist starts its
    # workers: pint writes its cache files in place, and two workers filling an empty
    # cache at once read each other's half-written pickles (EOFError at collection).
    try:
        import pint

        pint.UnitRegistry(cache_folder=":auto:")
    except ImportError:  # pint comes with EXtra, which only the agreement tests need
        pass

from scs_nb import sim  # noqa: E402
from scs_nb.facility.paths import simulation_truth_path  # noqa: E402

PROPOSAL = 900002  # tests' proposal, distinct from the demo's
AUTO_RUNS = (2000, 9000)  # run numbers the `simulated` fixture picks itself


@pytest.fixture(scope="session", autouse=True)
def private_dask_credentials(tmp_path_factory):
    """SLURM clusters write their workers' TLS credentials here, not into the home folder."""
    old = os.environ.get("SCS_NB_DASK_CREDENTIALS")
    os.environ["SCS_NB_DASK_CREDENTIALS"] = str(tmp_path_factory.mktemp("dask-credentials"))
    yield
    if old is None:
        os.environ.pop("SCS_NB_DASK_CREDENTIALS", None)
    else:
        os.environ["SCS_NB_DASK_CREDENTIALS"] = old


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    old = os.environ.get("EXTRA_DATA_DATA_ROOT")
    os.environ["EXTRA_DATA_DATA_ROOT"] = str(root)
    yield root
    if old is None:
        os.environ.pop("EXTRA_DATA_DATA_ROOT", None)
    else:
        os.environ["EXTRA_DATA_DATA_ROOT"] = old


#: the stored runs of tests/data/tiny_template.ipynb (proposal TINY_PROPOSAL): the
#: template reads a run, so the runs the batch tests name must exist
TINY_PROPOSAL = 900005
TINY_RUNS = (*range(1, 21), 179, 2001, 9041, 9042, 9051, 9052, 9053, 9101, 9102, 9111, 9112)


@pytest.fixture(scope="session")
def tiny_runs(data_root):
    """Small ``basic`` runs (20 trains) for the tiny template, simulated once per session."""
    for run in TINY_RUNS:
        sim.ensure_run(TINY_PROPOSAL, run, "basic", data_root=data_root, trains=20, seed=run)
    return TINY_PROPOSAL, TINY_RUNS


@pytest.fixture(scope="session")
def simulated(data_root):
    """Factory: ``simulated('delay_scan', trains=50, seed=2)`` -> SimResult.

    Each distinct call gets its own run number in proposal PROPOSAL; the same
    arguments return the cached run. ``result.truth`` is the ground truth,
    ``result.run_dir`` the run folder; ``result.proposal``/``result.run`` the
    numbers to pass to ``tb.open_run``.

    The run number enters the simulator's random state, so it is derived from
    the arguments (2000-8999), not from the order the tests ran in: a test sees
    the same realisation whichever tests ran before it, on whichever worker.
    Explicit ``run=`` numbers stay below 2000.
    """
    cache = {}
    used = {}

    def make(scenario, run=None, proposal=PROPOSAL, **kwargs):
        key = (scenario, run, proposal, tuple(sorted(kwargs.items())))
        if key not in cache:
            if run is None:
                number = AUTO_RUNS[0] + zlib.crc32(repr(key).encode()) % (
                    AUTO_RUNS[1] - AUTO_RUNS[0]
                )
                while (proposal, number) in used:
                    number = AUTO_RUNS[0] + (number + 1 - AUTO_RUNS[0]) % (
                        AUTO_RUNS[1] - AUTO_RUNS[0]
                    )
            else:
                number = run
                assert not AUTO_RUNS[0] <= number < AUTO_RUNS[1], (
                    f"explicit run numbers must be below {AUTO_RUNS[0]}"
                )
                assert (proposal, number) not in used, (
                    f"run {number} already simulated for {used[proposal, number]}"
                )
            used[proposal, number] = key
            res = sim.simulate(
                scenario, proposal, number, data_root=data_root, overwrite=True, **kwargs
            )
            res.proposal, res.run = proposal, number
            cache[key] = res
        _SIMULATED["touched"].add(key)
        return cache[key]

    def evict_large(keys):
        """Remove the large runs of ``keys`` from disk and from the cache: a later module
        that asks for one simulates it again, identically (its number and seed come from
        the arguments)."""
        for key in keys:
            res = cache.get(key)
            if res is None or _size(res.run_dir) < LARGE_RUN_BYTES:
                continue
            shutil.rmtree(res.run_dir, ignore_errors=True)
            del cache[key]
            used.pop((res.proposal, res.run), None)

    _SIMULATED.update(touched=set(), evict=evict_large)
    yield make
    _SIMULATED.clear()


# Simulated runs are kept for the session, but the large ones (BOZ, DSSC: 20 MB and more)
# only for the test module that asked for them: the suite's temporary space stays ~2 GB.
LARGE_RUN_BYTES = 20e6
_SIMULATED: dict = {}


def _size(folder) -> int:
    return sum(f.stat().st_size for f in Path(folder).glob("*") if f.is_file())


@pytest.fixture(scope="module", autouse=True)
def _drop_large_runs_after_module():
    """At the end of each test module, the large runs it simulated are removed."""
    if _SIMULATED:
        _SIMULATED["touched"] = set()
    yield
    if _SIMULATED:
        _SIMULATED["evict"](_SIMULATED["touched"])
        _SIMULATED["touched"] = set()


def copy_simulated_run(res, number):
    """A copy of the simulated run ``res`` under run ``number`` of its proposal (files renamed
    to the new number), with its ground truth: the simulator refuses proposals holding
    runs it did not write, so a copy without its truth would stop later simulations.

    Returns the copy's run folder."""
    dst = res.run_dir.with_name(f"r{number:04d}")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(res.run_dir, dst)
    for f in dst.glob("*.h5"):
        f.rename(f.with_name(f.name.replace(f"-R{res.run:04d}-", f"-R{number:04d}-")))
    prop_dir = res.run_dir.parent.parent
    truth = simulation_truth_path(prop_dir, number)
    truth.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(simulation_truth_path(prop_dir, res.run), truth)
    return dst


@pytest.fixture(scope="module")
def private_cache(tmp_path_factory):
    """A private ``$SCS_NB_CACHE`` (azimuthal integration matrices) for one test module."""
    old = os.environ.get("SCS_NB_CACHE")
    folder = tmp_path_factory.mktemp("az_cache")
    os.environ["SCS_NB_CACHE"] = str(folder)
    yield
    shutil.rmtree(folder, ignore_errors=True)  # matrices of up to ~100 MB
    if old is None:
        os.environ.pop("SCS_NB_CACHE", None)
    else:
        os.environ["SCS_NB_CACHE"] = old


class TemplateRun(tuple):
    """``text, images = run_template(...)``; also ``.nb`` (the executed notebook),
    ``.records`` (its recorded results) and ``.rows`` (the records against the ground
    truth, ``scs_nb.sim.checks.check_records``)."""

    nb = property(lambda self: self._nb)
    records = property(lambda self: self._records)
    rows = property(lambda self: self._rows)


@pytest.fixture(scope="session")
def run_template(data_root):
    """Factory: ``res = run_template('hrixs', tmp_path, proposal=P, run=5, ...)`` runs
    the template headless through ``scs_nb.batch.runner`` (kernel python3, outputs in
    ``tmp_path``) on runs that exist (the runner refuses missing ones); ``text, images``
    are its printed output and PNG count, ``.records``/``.rows`` its results and their
    comparison with the ground truth."""
    pytest.importorskip("papermill")
    import nbformat

    from scs_nb.batch import runner
    from scs_nb.results import read_results
    from scs_nb.sim.checks import check_records

    def run(name, tmp_path, **params):
        res = runner.run_template(
            name, params, kernel="python3", out=tmp_path, overwrite=True, progress=False
        )
        assert res.ok, res.message
        nb = nbformat.read(str(res.notebook), as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        out = TemplateRun(
            (
                "".join(o.get("text", "") for o in outputs),
                sum("image/png" in o.get("data", {}) for o in outputs),
            )
        )
        out._nb = nb
        rpath = runner.results_path(res.notebook)
        out._records = read_results(rpath) if rpath.exists() else []
        out._rows = check_records(out._records, data_root)
        return out

    return run
