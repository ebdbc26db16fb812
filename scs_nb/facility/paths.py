"""Proposal and run numbers, identifiers, the data root and proposal folders.

The data root is where proposals live, ``<root>/<instrument>/<cycle>/p<proposal:06d>``:
``$EXTRA_DATA_DATA_ROOT`` when set (read at each call, not at import), else the
facility's ``/gpfs/exfel/exp`` where it exists, else a per-user folder
(``$XDG_CACHE_HOME/scs_nb/exp``, default ``~/.cache/scs_nb/exp``) into which the
simulator writes runs on a laptop. Every reader and the simulator use this one
function, so a simulated run is found where it was written.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import numpy as np

from ..errors import ToolBoxPathError, ToolBoxTypeError, ToolBoxValueError

__all__ = [
    "FACILITY_DATA_ROOT",
    "DEFAULT_CYCLE",
    "validate_proposal",
    "validate_run",
    "validate_identifier",
    "data_root",
    "find_proposal",
    "proposal_folder",
    "processed_dir",
    "proposal_subdir",
    "run_ranges",
    "cache_dir",
    "SIMULATOR_MARKER",
    "simulation_truth_path",
    "simulator_marker_path",
    "is_simulated_run",
]

#: file the simulator writes at the top of each proposal folder it creates
SIMULATOR_MARKER = "SIMULATED_BY_SCS_NB.json"

FACILITY_DATA_ROOT = "/gpfs/exfel/exp"
DEFAULT_CYCLE = "202622"  # cycle folder of simulated proposals

_IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")


def validate_proposal(proposal) -> int:
    """2252, '2252', 'p002252' -> 2252; anything else is a ToolBoxValueError."""
    if isinstance(proposal, (bool, np.bool_)):
        raise ToolBoxTypeError(
            f"proposal must be a number such as 2252 or 'p002252', got {proposal!r}"
        )
    if isinstance(proposal, (int, np.integer)):
        p = int(proposal)
    elif isinstance(proposal, str) and re.fullmatch(r"p?\d{1,6}", proposal.strip()):
        p = int(proposal.strip().lstrip("p"))
    else:
        raise ToolBoxValueError(
            f"proposal must be a number such as 2252 or 'p002252', got {proposal!r}"
        )
    if not 0 < p < 1_000_000:
        raise ToolBoxValueError(f"proposal must be between 1 and 999999, got {p}")
    return p


def validate_run(run) -> int:
    """17, '17', 'r0017' -> 17; anything else is a ToolBoxValueError."""
    if isinstance(run, (bool, np.bool_)):
        raise ToolBoxTypeError(f"run must be a number such as 17 or 'r0017', got {run!r}")
    if isinstance(run, (int, np.integer)):
        r = int(run)
    elif isinstance(run, str) and re.fullmatch(r"r?\d{1,4}", run.strip()):
        r = int(run.strip().lstrip("r"))
    else:
        raise ToolBoxValueError(f"run must be a number such as 17 or 'r0017', got {run!r}")
    if not 0 < r < 10_000:
        raise ToolBoxValueError(f"run must be between 1 and 9999, got {r}")
    return r


def validate_identifier(identifier) -> str:
    """An environment identifier: letters, digits, '_' and '-', not starting with '-'."""
    if (
        not isinstance(identifier, str)
        or not _IDENTIFIER.fullmatch(identifier)
        or ".." in identifier
    ):
        raise ToolBoxValueError(
            f"identifier must be 1-64 letters, digits, '_' or '-' (not starting with '-'), "
            f"e.g. 'p002780' or 'beamtime2'; got {identifier!r}"
        )
    return identifier


def data_root() -> Path:
    """The data root, read now (see the module documentation)."""
    env = os.environ.get("EXTRA_DATA_DATA_ROOT")
    if env:
        return Path(env)
    if os.path.isdir(FACILITY_DATA_ROOT):
        return Path(FACILITY_DATA_ROOT)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scs_nb" / "exp"


def find_proposal(proposal, root=None) -> str:
    """The folder of a proposal: ``<data root>/<instrument>/<cycle>/p<proposal>``.

    Raises ToolBoxPathError naming the data root and the pattern searched.
    """
    p = validate_proposal(proposal)
    root = Path(root) if root else data_root()
    pattern = f"*/*/p{p:06d}"
    found = sorted(d for d in root.glob(pattern) if d.is_dir())
    if not found:
        raise ToolBoxPathError(
            f"proposal {p} not found: no folder matches {root / pattern} (data root {root}). "
            "Set EXTRA_DATA_DATA_ROOT to the folder holding <instrument>/<cycle>/p<proposal> "
            "folders, or simulate a run with `scs-nb simulate SCENARIO --proposal "
            f"{p} --run 1`."
        )
    return str(found[0])


def proposal_folder(proposal, root=None, cycle=DEFAULT_CYCLE) -> Path:
    """The folder of a proposal: the existing one (any cycle), else where a
    simulated one is created (``<root>/SCS/<cycle>/p<proposal:06d>``)."""
    p = validate_proposal(proposal)
    root = Path(root) if root else data_root()
    found = sorted(root.glob(f"*/*/p{p:06d}"))
    if found:
        return found[0]
    return root / "SCS" / cycle / f"p{p:06d}"


def simulation_truth_path(prop_dir, run) -> Path:
    """Where the simulator keeps the ground truth of a run of a proposal folder.

    It lies outside ``raw/`` (``<proposal>/usr/simulation/r<run>/ground_truth.json``),
    so that extra_data never sees it; its presence says the run was simulated.

    Parameters
    ----------
    prop_dir : str or pathlib.Path
        The proposal folder.
    run : int
        Run number.

    Returns
    -------
    pathlib.Path
    """
    return (
        Path(prop_dir) / "usr" / "simulation" / f"r{validate_run(run):04d}" / "ground_truth.json"
    )


def simulator_marker_path(prop_dir) -> Path:
    """The ownership marker of a proposal folder the simulator created.

    Parameters
    ----------
    prop_dir : str or pathlib.Path
        The proposal folder.

    Returns
    -------
    pathlib.Path
        ``<proposal>/SIMULATED_BY_SCS_NB.json``.
    """
    return Path(prop_dir) / SIMULATOR_MARKER


def is_simulated_run(proposal, run, root=None) -> bool:
    """Whether a run of a proposal was written by scs_nb's simulator.

    Parameters
    ----------
    proposal, run : int
        Proposal and run number.
    root : str or pathlib.Path, optional
        Data root; default :func:`data_root`.

    Returns
    -------
    bool
        True when the run has the simulator's ground truth beside it.
    """
    try:
        prop_dir = find_proposal(proposal, root)
    except ToolBoxPathError:
        return False
    return simulation_truth_path(prop_dir, run).is_file()


def processed_dir(proposal, run=None, *parts, root=None) -> Path:
    """The folder of a proposal's processed outputs: ``<proposal>/usr/processed_runs``.

    The one place this folder is named (the ToolBox's SLURM scripts write there).

    Parameters
    ----------
    proposal : int, str or os.PathLike
        The proposal number (2252, 'p002252'), found under the data root; or a
        proposal folder given as a path (``Path``, or text containing '/').
    run : int, optional
        Adds the run's subfolder ``r<run:04d>``.
    *parts : str
        Further subfolders (e.g. ``'fastccd'``).
    root : str or Path, optional
        The data root (default: :func:`data_root`); for a proposal number only.

    Returns
    -------
    Path
        ``<proposal folder>/usr/processed_runs[/r<run:04d>][/parts...]`` (not created).

    Raises
    ------
    ToolBoxPathError
        The proposal is not found under the data root.
    """
    if isinstance(proposal, os.PathLike) or (isinstance(proposal, str) and "/" in proposal):
        folder = Path(proposal)
    else:
        folder = Path(find_proposal(proposal, root))
    out = folder / "usr" / "processed_runs"
    if run is not None:
        out = out / f"r{validate_run(run):04d}"
    return out.joinpath(*parts)


# folders of a proposal that the facility writes (raw data, calibrated data): never ours
FACILITY_WRITTEN = ("raw", "proc")


def proposal_subdir(folder, subdir, what="subdir") -> Path:
    """A folder inside a proposal folder, for outputs: ``folder / subdir``, checked.

    Parameters
    ----------
    folder : str or Path
        The proposal folder.
    subdir : str or Path
        A relative path inside it (e.g. ``'usr/processed_runs'``, ``'scratch/pes'``).
    what : str
        The parameter's name, for messages.

    Returns
    -------
    Path
        ``folder / subdir``.

    Raises
    ------
    ToolBoxValueError
        ``subdir`` is empty, absolute, climbs out with ``..``, has control characters, or
        lies in a folder the facility writes (``raw/``, ``proc/``).
    """
    text = os.fspath(subdir) if isinstance(subdir, (str, os.PathLike)) else None
    if not text or not text.strip():
        raise ToolBoxValueError(
            f"{what}={subdir!r}: pass a folder inside the proposal folder, "
            f"e.g. 'usr/processed_runs'"
        )
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    parts = Path(text).parts
    problem = None
    if bad:
        problem = f"contains the control character {bad[0]!r}"
    elif Path(text).is_absolute() or text.startswith("~"):
        problem = "is not relative to the proposal folder"
    elif ".." in parts:
        problem = "climbs out with '..'"
    elif parts and parts[0] in FACILITY_WRITTEN:
        problem = f"lies in {parts[0]}/, which the facility writes (its files are never ours)"
    if problem:
        raise ToolBoxValueError(
            f"{what}={text!r} {problem}; pass a folder inside the proposal folder {folder}, "
            f"e.g. 'usr/processed_runs' or 'scratch/<name>'"
        )
    return Path(folder) / text


def run_ranges(numbers) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'"""
    out, start, prev = [], None, None
    for n in numbers:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ", ".join(out)


def cache_dir(*parts) -> Path:
    """A cache folder of scs_nb, created: ``$SCS_NB_CACHE`` or
    ``$XDG_CACHE_HOME/scs_nb`` (default ``~/.cache/scs_nb``), then ``parts``."""
    base = os.environ.get("SCS_NB_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "scs_nb")
    path = Path(base, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
