"""The simulated run: train ids, pulse pattern, sources and ground truth.

A scenario is a function ``f(run: SimRun, **options)`` registered with
``@scenario``; it adds device models (each a function in its own module of
``scs_nb.sim``) and records what it injected in ``run.truth``.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import tempfile
import time
import tracemalloc
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import check_writable_dir, clean_stale, part_name, umask
from ..errors import ToolBoxPathError, ToolBoxValueError
from ..facility import validate_proposal, validate_run
from .extra import add_mnemonics
from .folders import (
    claim_proposal,
    default_data_root,
    ground_truth,
    proposal_dir,
    publish_run,
    to_jsonable,
    truth_path,
)
from .registry import Scenario, get_scenario
from .writer import ControlSource, RunWriter

DEFAULT_PROPOSAL = 900001  # the demo proposal used by templates


# -- the run being built ---------------------------------------------------
class SimRun:
    """State shared by the device models of one simulated run.

    Parameters
    ----------
    proposal, run : int
        Proposal and run number (the run number enters the random state).
    ntrains : int
        Number of trains before dropping missing ones (at least 2).
    seed : int
        Random seed: the same seed gives the same run.
    first_train : int, optional
        First train id; default ``1_500_000_000 + run * 100_000``.
    missing_trains : float
        Fraction of trains the DAQ dropped (never the first or last).
    scenario_name : str
        Recorded in the ground truth.

    Attributes
    ----------
    train_ids : numpy.ndarray of uint64
        Ids of the recorded trains.
    sources : list
        The ``ControlSource`` / ``InstrumentSource`` objects to write.
    pattern : timing.PulsePattern or None
        Set by ``timing.add_timing``.
    truth : dict
        What the device models injected; written as ``ground_truth.json``.
    """

    def __init__(
        self,
        proposal,
        run,
        ntrains,
        seed=0,
        first_train=None,
        missing_trains=0.0,
        scenario_name="",
    ):
        self.proposal = validate_proposal(proposal)
        self.run = validate_run(run)
        self.seed = int(seed)
        ntrains = int(ntrains)
        if ntrains < 2:
            raise ToolBoxValueError(f"trains must be at least 2, got {ntrains}")
        self.rng = np.random.default_rng([self.seed, self.run])
        first = first_train if first_train is not None else 1_500_000_000 + self.run * 100_000
        all_ids = np.arange(first, first + ntrains, dtype=np.uint64)
        missing = np.zeros(ntrains, bool)
        if missing_trains:
            nmiss = int(round(float(missing_trains) * ntrains))
            if nmiss:
                # never the first or last train, so the run's extent is known
                idx = self.rng.choice(np.arange(1, ntrains - 1), size=nmiss, replace=False)
                missing[idx] = True
        self.train_ids = all_ids[~missing]
        self.sources: list = []
        self.pattern = None  # set by timing.add_timing()
        self.absent: dict = {}  # source name -> boolean mask of trains without data
        self.truth = {
            "scenario": scenario_name,
            "proposal": self.proposal,
            "run": self.run,
            "seed": self.seed,
            "train_ids": self.train_ids.tolist(),
            "missing_train_ids": all_ids[missing].tolist(),
            "sources": {},
        }

    @property
    def ntrains(self) -> int:
        """Number of recorded trains (after dropping the missing ones).

        Returns
        -------
        int
        """
        return len(self.train_ids)

    def rng_for(self, name) -> np.random.Generator:
        """An independent, reproducible generator for one device.

        Parameters
        ----------
        name : str
            The device (or any label); the same name gives the same stream.

        Returns
        -------
        numpy.random.Generator
        """
        return np.random.default_rng([self.seed, self.run, zlib.crc32(name.encode())])

    def add(self, source):
        """Add a source to the run.

        Parameters
        ----------
        source : ControlSource or InstrumentSource
            The source to write.

        Returns
        -------
        ControlSource or InstrumentSource
            ``source``.
        """
        self.sources.append(source)
        return source

    def source(self, name):
        """The source called ``name``.

        Parameters
        ----------
        name : str
            Source name, e.g. ``'SCS_BLU_XGM/XGM/DOOCS'``.

        Returns
        -------
        ControlSource or InstrumentSource

        Raises
        ------
        KeyError
            If the run has no such source.
        """
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def make_absent(self, pattern, fraction=(1 / 3, 2 / 3)):
        """Make sources record no data in a part of the run.

        Parameters
        ----------
        pattern : str
            Every source whose name contains it is affected.
        fraction : tuple of float
            Start and end of the affected part, as fractions of the run
            (default the middle third).

        Raises
        ------
        ToolBoxValueError
            If no source matches ``pattern``.
        """
        lo, hi = (int(f * self.ntrains) for f in fraction)
        mask = np.zeros(self.ntrains, bool)
        mask[lo:hi] = True
        hit = [s for s in self.sources if pattern in s.name]
        if not hit:
            raise ToolBoxValueError(
                f"no simulated source matches {pattern!r}; sources: "
                f"{', '.join(s.name for s in self.sources)}"
            )
        for s in hit:
            if isinstance(s, ControlSource):
                present = np.ones(self.ntrains, bool) if s.present is None else s.present
                s.present = present & ~mask
            else:
                s.counts = {g: np.where(mask, 0, c) for g, c in s.counts.items()}
            self.absent[s.name] = mask
        self.truth["absent"] = {s.name: self.train_ids[mask].tolist() for s in hit}


# -- option validation ------------------------------------------------------------
#: the most trains a simulated run may have (about 28 hours at 10 Hz)
MAX_TRAINS = 1_000_000


def validate_options(sc: Scenario, options: dict) -> dict:
    """Check scenario options against the scenario function's signature.

    Checked: known names, the type of the default (int, float, bool), finite
    numbers, and integer options that default to a positive value (counts,
    steps, sizes) stay >= 1 (seeds >= 0).

    Parameters
    ----------
    sc : Scenario
        The scenario.
    options : dict
        Option name -> value.

    Returns
    -------
    dict
        ``options``, unchanged.

    Raises
    ------
    ToolBoxValueError
        On the first option that fails, saying what was expected.
    """
    params = list(inspect.signature(sc.func).parameters.values())[1:]
    named = {p.name: p for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    open_kw = any(p.kind == p.VAR_KEYWORD for p in params)
    for name, value in options.items():
        where = f"scenario {sc.name!r} option {name!r}"
        if name not in named:
            if open_kw:
                continue
            raise ToolBoxValueError(
                f"{where} does not exist; its options are {', '.join(named) or '(none)'} "
                f"(see `scs-nb simulate {sc.name} --describe`)"
            )
        default = named[name].default
        if default is inspect.Parameter.empty or default is None:
            continue
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ToolBoxValueError(f"{where} must be true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ToolBoxValueError(
                    f"{where} must be an integer (default {default}), got {value!r}"
                )
            low = 0 if "seed" in name else 1  # counts, steps, sizes; seeds >= 0
            if default > 0 and value < low:
                raise ToolBoxValueError(
                    f"{where} must be an integer >= {low} (default {default}), got {value}"
                )
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ToolBoxValueError(
                    f"{where} must be a number (default {default}), got {value!r}"
                )
            if not math.isfinite(float(value)):
                raise ToolBoxValueError(f"{where} must be a finite number, got {value!r}")
    return options


def _check_run_options(ntrains, seed, missing_trains):
    if isinstance(ntrains, bool) or not isinstance(ntrains, (int, np.integer)):
        raise ToolBoxValueError(f"trains must be an integer, got {ntrains!r}")
    if not 2 <= ntrains <= MAX_TRAINS:
        raise ToolBoxValueError(
            f"trains must be 2..{MAX_TRAINS}, got {ntrains}; pass "
            "--trains N (or leave it out for the scenario's default)"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ToolBoxValueError(f"seed must be an integer >= 0, got {seed!r}")
    try:
        f = float(missing_trains)
    except (TypeError, ValueError):
        f = float("nan")
    if isinstance(missing_trains, bool) or not math.isfinite(f) or not 0 <= f < 1:
        raise ToolBoxValueError(
            f"missing_trains is the fraction of trains dropped, 0 <= f < 1, got {missing_trains!r}"
        )


def _available_memory() -> int:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 * 2**30


def _check_memory(sc, ntrains, seed, options, probe=100):
    """Refuse a run whose in-memory model would not fit: the scenario is built for
    ``probe`` trains under tracemalloc and scaled to ``ntrains``."""
    if ntrains <= 20 * probe:
        return
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        sim = SimRun(DEFAULT_PROPOSAL, 1, probe, seed)
        sc.func(sim, **options)
        peak = tracemalloc.get_traced_memory()[1] - base
        del sim
    finally:
        if started:
            tracemalloc.stop()
    need = peak / probe * ntrains
    avail = _available_memory()
    if need > 0.5 * avail:
        raise ToolBoxValueError(
            f"scenario {sc.name!r} with {ntrains} trains needs about {need / 2**30:.1f} GiB of "
            f"memory ({peak / probe / 1024:.0f} KiB per train) but {avail / 2**30:.1f} GiB are "
            f"free; pass fewer --trains (at most about {int(0.5 * avail / (peak / probe))})"
        )


@dataclass
class SimResult:
    """What ``simulate`` wrote.

    Attributes
    ----------
    run_dir : pathlib.Path
        The run folder (``.../raw/r<run>``).
    truth_file : pathlib.Path
        Its ``ground_truth.json``.
    truth : dict
        The ground truth.
    files : list of pathlib.Path
        The HDF5 files of the run.
    """

    run_dir: Path
    truth_file: Path
    truth: dict
    files: list


def simulate(
    scenario_name,
    proposal=DEFAULT_PROPOSAL,
    run=1,
    trains=None,
    seed=0,
    data_root=None,
    size="small",
    missing_trains=0.0,
    absent=None,
    overwrite=False,
    trains_per_file=None,
    progress=False,
    **options,
) -> SimResult:
    """Simulate one SCS run in the EuXFEL file format.

    Parameters
    ----------
    scenario_name: str
        one of ``list_scenarios()``.
    proposal, run: int
        where to write: ``<data root>/SCS/<cycle>/p<proposal>/raw/r<run>``.
    trains: int
        number of trains; default depends on the scenario and ``size``.
    seed: int
        the random seed; the same seed gives the same files and truth.
    data_root: path
        default ``default_data_root()`` ($EXTRA_DATA_DATA_ROOT).
    size: 'small' | 'large'
        default number of trains: the scenario's small (tests) or large
        (benchmarks) size.
    missing_trains: float
        fraction of trains the DAQ dropped (gaps in train ids).
    absent: str
        a source name (or part of it) that records no data in the middle
        third of the run.
    overwrite: bool
        replace an existing run; otherwise an existing run is an error.
    trains_per_file: int, optional
        trains per sequence file (default 500).
    progress: bool
        show a progress bar of the files written.
    **options:
        passed to the scenario function, except ``extra_mnemonics`` (any
        scenario): mnemonics of the table whose sources are written too
        ('a,b,c', a list, or 'all'; see ``scs_nb.sim.extra``).

    Returns
    -------
    SimResult
        The run folder, its files and ground truth. When another process
        published the same run at the same time, its run and truth.
    """
    sc = get_scenario(scenario_name)
    if size not in ("small", "large"):
        raise ToolBoxValueError(f"size must be 'small' or 'large', got {size!r}")
    ntrains = trains if trains is not None else (sc.large_trains if size == "large" else sc.trains)
    _check_run_options(ntrains, seed, missing_trains)
    options = dict(options)
    extra = options.pop("extra_mnemonics", None)  # any scenario (see sim.extra)
    validate_options(sc, options)
    root = Path(data_root) if data_root else default_data_root()
    pdir = proposal_dir(proposal, root)
    run_dir = pdir / "raw" / f"r{validate_run(run):04d}"
    if run_dir.exists() and not overwrite:
        raise ToolBoxPathError(
            f"{run_dir} already exists; pass overwrite=True (--overwrite) to replace it, "
            "or choose another run number"
        )
    check_writable_dir(
        run_dir.parent, "data root folder", "data_root= (--data-root) or set EXTRA_DATA_DATA_ROOT"
    )
    claim_proposal(pdir, proposal, mark=False)  # refused before any work; marked when writing
    _check_memory(sc, int(ntrains), seed, options)
    sim = SimRun(
        proposal, run, ntrains, seed, missing_trains=missing_trains, scenario_name=scenario_name
    )
    sim.truth["options"] = to_jsonable(options)
    try:
        sc.func(sim, **options)
    except TypeError as exc:
        if "unexpected keyword" not in str(exc):
            raise
        raise ToolBoxValueError(
            f"scenario {sc.name!r}: {exc} (see `scs-nb simulate {sc.name} --describe`)"
        ) from None
    if extra:
        add_mnemonics(sim, extra)
    if absent:
        sim.make_absent(absent)
    # write into a temporary folder of this process, then rename: never a half-written
    # run, and two processes simulating the same run do not collide
    claim_proposal(pdir, proposal)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(run_dir.parent, run_dir.name + ".", ".part")
    tmp_dir = Path(
        tempfile.mkdtemp(dir=run_dir.parent, prefix=part_name(run_dir.name), suffix=".part")
    )
    try:
        os.chmod(tmp_dir, 0o777 & ~umask())
        writer = RunWriter(
            tmp_dir, sim.proposal, sim.run, sim.train_ids, trains_per_file=trains_per_file or 500
        )
        for s in sim.sources:
            writer.add(s)
        bar = None
        if progress:
            from tqdm.auto import tqdm  # optional display: tqdm.auto probes for Jupyter widgets

            bar = tqdm(desc=f"simulating r{sim.run:04d}", unit="file")
        files = writer.write(progress=(lambda f: bar.update(1)) if bar else None)
        if bar:
            bar.close()
        sim.truth["sources"].update({s.name: type(s).__name__ for s in sim.sources})
        tpath = truth_path(sim.proposal, sim.run, root)
        text = json.dumps(to_jsonable(sim.truth))
        won = publish_run(tmp_dir, run_dir, overwrite, truth=(tpath, text))
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
    if won:
        return SimResult(run_dir, tpath, sim.truth, [run_dir / f.name for f in files])
    # another process wrote this run first: use its run (and its ground truth)
    for _ in range(200):
        if tpath.is_file():
            break
        time.sleep(0.05)
    warnings.warn(
        f"{run_dir} was written by another process at the same time; using its run",
        UserWarning,
        stacklevel=2,
    )
    truth = ground_truth(sim.proposal, sim.run, root) if tpath.is_file() else sim.truth
    return SimResult(run_dir, tpath, truth, sorted(run_dir.glob("*.h5")))


def ensure_run(proposal=DEFAULT_PROPOSAL, run=1, scenario=None, data_root=None, **kwargs):
    """Make sure a run exists, simulating ``scenario`` if it does not.

    This is how templates run anywhere: with real data the run is found and
    nothing is simulated; on a laptop the scenario is written into the local
    data root, and ``EXTRA_DATA_DATA_ROOT`` points there for this process.

    Parameters
    ----------
    proposal, run : int
        Proposal and run number.
    scenario : str, optional
        Scenario to simulate if the run is not found; without it a missing run
        is an error.
    data_root : str or pathlib.Path, optional
        Data root; default ``default_data_root()``.
    **kwargs
        Passed on to ``simulate`` (``trains``, ``seed``, scenario options).

    Returns
    -------
    pathlib.Path
        The run folder.

    Raises
    ------
    ToolBoxPathError
        If the run does not exist and no scenario is given.
    """
    root = Path(data_root) if data_root else default_data_root()
    p, r = validate_proposal(proposal), validate_run(run)
    found = sorted(root.glob(f"*/*/p{p:06d}/raw/r{r:04d}"))
    if not found:
        if not scenario:
            raise ToolBoxPathError(
                f"run {r} of proposal {p} not found under {root}; set EXTRA_DATA_DATA_ROOT "
                "or pass a scenario to simulate it"
            )
        try:
            found = [simulate(scenario, p, r, data_root=root, **kwargs).run_dir]
        except ToolBoxPathError:
            # another process published the run between the look-up and simulate's check
            found = sorted(root.glob(f"*/*/p{p:06d}/raw/r{r:04d}"))
            if not found:
                raise
    os.environ["EXTRA_DATA_DATA_ROOT"] = str(root)
    return found[0]
