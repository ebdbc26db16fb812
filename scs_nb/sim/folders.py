"""Run folders and ground-truth I/O of the simulator.

Where simulated proposals, runs and their ground truth live, reading the
ground truth back, and writing a finished run into place atomically.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..atomic import clean_stale, part_name, write_atomic
from ..errors import ToolBoxPathError
from ..facility import (
    DEFAULT_CYCLE,
    data_root,
    proposal_folder,
    simulation_truth_path,
    simulator_marker_path,
)


def default_data_root() -> Path:
    """The data root the simulator writes into.

    Returns
    -------
    pathlib.Path
        ``scs_nb.facility.data_root()`` ($EXTRA_DATA_DATA_ROOT or the local cache).
    """
    return data_root()


def proposal_dir(proposal, data_root=None, cycle=DEFAULT_CYCLE) -> Path:
    """Folder of a (simulated) proposal; an existing one is found in any cycle.

    Parameters
    ----------
    proposal : int
        Proposal number.
    data_root : str or pathlib.Path, optional
        Data root; default ``default_data_root()``.
    cycle : str
        Cycle of a proposal that does not exist yet.

    Returns
    -------
    pathlib.Path
        ``<data root>/SCS/<cycle>/p<proposal>``.
    """
    return proposal_folder(proposal, data_root, cycle)


def truth_path(proposal, run, data_root=None) -> Path:
    """Where the ground truth of a simulated run lives.

    It lies beside the run folder, outside ``raw/``, so that extra_data never
    sees it.

    Parameters
    ----------
    proposal, run : int
        Proposal and run number.
    data_root : str or pathlib.Path, optional
        Data root; default ``default_data_root()``.

    Returns
    -------
    pathlib.Path
        ``<proposal>/usr/simulation/r<run>/ground_truth.json``.
    """
    return simulation_truth_path(proposal_dir(proposal, data_root), run)


def ground_truth(proposal, run, data_root=None) -> dict:
    """The injected quantities of a simulated run.

    Parameters
    ----------
    proposal, run : int
        Proposal and run number.
    data_root : str or pathlib.Path, optional
        Data root; default ``default_data_root()``.

    Returns
    -------
    dict
        The ground truth as written by ``simulate`` (JSON types; the units are
        in the key names, e.g. ``nrj_eV``).

    Raises
    ------
    ToolBoxPathError
        If the run has no ground truth (it was not simulated).
    """
    path = truth_path(proposal, run, data_root)
    if not path.is_file():
        raise ToolBoxPathError(
            f"no ground truth for proposal {proposal} run {run}: "
            f"{path} does not exist (was the run simulated?)"
        )
    with open(path) as f:
        return json.load(f)


def to_jsonable(obj):
    """A copy of ``obj`` that ``json.dumps`` writes: the ground truth's types made plain.

    Parameters
    ----------
    obj : object
        Dicts (keys made str), lists, tuples, numpy arrays and scalars, nested.

    Returns
    -------
    object
        Plain dicts, lists and Python scalars; non-finite floats become None.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def publish_run(tmp_dir: Path, run_dir: Path, overwrite: bool, truth=None) -> bool:
    """Rename the finished ``tmp_dir`` to ``run_dir``, with its ground truth.

    With ``overwrite`` an existing run is moved aside first and deleted after
    the rename. The ground truth is written under a temporary name before the run is
    renamed (if that fails, nothing is published) and renamed right after it; should that
    rename fail, the run is taken back: a run never looks complete without its truth.

    Parameters
    ----------
    tmp_dir : pathlib.Path
        The finished run folder, written under a temporary name.
    run_dir : pathlib.Path
        The run folder.
    overwrite : bool
        Replace an existing run.
    truth : tuple of (pathlib.Path, str), optional
        The ground truth's file and its JSON text.

    Returns
    -------
    bool
        True when published; False when another process published it first
        (and ``overwrite`` is off).
    """
    staged = None
    if truth is not None:
        tpath, text = truth
        clean_stale(tpath.parent, tpath.name + ".", ".part")
        staged = Path(
            tempfile.mktemp(dir=tpath.parent, prefix=part_name(tpath.name), suffix=".part")
        )
        write_atomic(staged, text)  # a full disk stops here, before anything is published
    try:
        won = _rename_run(tmp_dir, run_dir, overwrite)
        if won and staged is not None:
            try:
                os.replace(staged, tpath)
            except OSError:
                shutil.rmtree(run_dir, ignore_errors=True)
                raise
        return won
    finally:
        if staged is not None and staged.exists():
            staged.unlink()


def _rename_run(tmp_dir: Path, run_dir: Path, overwrite: bool) -> bool:
    """The rename of `publish_run`: True when done, False when another process won."""
    aside = None
    if overwrite and run_dir.exists():
        aside = Path(
            tempfile.mkdtemp(
                dir=run_dir.parent, prefix=part_name(run_dir.name + ".old"), suffix=".part"
            )
        )
        try:
            os.replace(run_dir, aside / run_dir.name)
        except FileNotFoundError:  # a concurrent overwrite moved it already
            pass
    try:
        os.rename(tmp_dir, run_dir)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not run_dir.is_dir():
            raise
        return False
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def foreign_runs(prop_dir: Path) -> list:
    """Run folders of ``raw/`` that the simulator did not write (no ground truth).

    Parameters
    ----------
    prop_dir : pathlib.Path
        A proposal folder.

    Returns
    -------
    list of str
        Their names (``r0060``, ...), sorted.
    """
    raw = Path(prop_dir) / "raw"
    if not raw.is_dir():
        return []
    out = []
    for d in sorted(raw.iterdir()):
        if d.is_dir() and len(d.name) == 5 and d.name[0] == "r" and d.name[1:].isdigit():
            if not simulation_truth_path(prop_dir, int(d.name[1:])).is_file():
                out.append(d.name)
    return out


def claim_proposal(prop_dir: Path, proposal: int, mark: bool = True):
    """Make sure the simulator may write into ``prop_dir``, and mark it as its own.

    The simulator writes only into proposal folders it created: a folder holding a
    run without the simulator's ground truth (real data, or runs copied from
    elsewhere) is refused, so that simulated runs never mix with real ones.

    Parameters
    ----------
    prop_dir : pathlib.Path
        The proposal folder (created when absent).
    proposal : int
        Its number (for the message).
    mark : bool
        Write the simulator's marker (False: only check, write nothing).

    Raises
    ------
    ToolBoxPathError
        The folder holds runs the simulator did not write.
    """
    prop_dir = Path(prop_dir)
    foreign = foreign_runs(prop_dir)
    if foreign:
        shown = ", ".join(foreign[:8]) + (" ..." if len(foreign) > 8 else "")
        raise ToolBoxPathError(
            f"proposal {proposal} at {prop_dir} holds runs the simulator did not write "
            f"({shown}): it never simulates into a proposal with real data. Simulate into "
            "another proposal number (--proposal) or another data root (--data-root / "
            "EXTRA_DATA_DATA_ROOT)."
        )
    marker = simulator_marker_path(prop_dir)
    if mark and not marker.is_file():
        write_atomic(
            marker,
            json.dumps(
                {
                    "written_by": "scs_nb simulator",
                    "proposal": int(proposal),
                    "note": "every run of this proposal is simulated; see "
                    "usr/simulation/rNNNN/ground_truth.json",
                },
                indent=1,
            ),
        )
