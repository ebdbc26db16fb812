"""Run discovery: proposals and runs on disk, opened as extra_data DataCollections.

Proposals are found under extra_data's data root, read when a function is
called (not when the module is imported) from ``EXTRA_DATA_DATA_ROOT``
(``scs_nb.facility.data_root()``): ``<root>/<instrument>/<cycle>/p<proposal:06d>``.
Runs live in ``<proposal>/raw/r<run:04d>`` (and ``proc/`` for processed data).

Unreadable files: a run folder may hold a truncated or corrupt HDF5 file (a
copy interrupted, a disk full during acquisition). Opening a run *skips* such a
file with a ``UserWarning`` naming the file and the HDF5 error, so the rest of
the run stays usable; a run in which no file can be read raises
``ToolBoxFileError`` naming the files.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import re
import sys
import warnings
from pathlib import Path

import extra_data as ed

from ..errors import ToolBoxFileError, ToolBoxPathError, ToolBoxValueError
from ..facility import find_proposal, run_ranges
from ..facility import validate_proposal as _proposal_number
from ..facility import validate_run as _run_number
from ..mnemonics import present_in
from . import damage
from .warn import user_stacklevel

__all__ = [
    "available_runs",
    "find_proposal",
    "find_run_path",
    "open_run",
    "run_by_path",
    "mnemonics_for_run",
    "select_trains",
]

_LOCATION_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


# -- proposal and run folders ----------------------------------------------
def _available_runs(prop_dir: Path, location="raw") -> list:
    folder = prop_dir / location
    if not folder.is_dir():
        return []
    runs = []
    for d in folder.iterdir():
        m = re.fullmatch(r"r(\d{4})", d.name)
        if m and d.is_dir():
            runs.append(int(m.group(1)))
    return sorted(runs)


def available_runs(proposalNB, location="raw") -> list:
    """The run numbers of a proposal that exist on disk.

    Parameters
    ----------
    proposalNB : int or str
        Proposal number.
    location : str
        ``'raw'`` or ``'proc'``.

    Returns
    -------
    list of int
        Sorted run numbers (folders ``<proposal>/<location>/rNNNN``).

    Raises
    ------
    ToolBoxPathError
        The proposal is not found under the data root.
    """
    return _available_runs(Path(find_proposal(proposalNB)), _check_location(location))


def _check_location(data) -> str:
    if not isinstance(data, str) or not _LOCATION_RE.fullmatch(data) or ".." in data:
        raise ToolBoxValueError(
            f"data must be 'raw', 'proc', 'all' or a folder name of the proposal, got {data!r}"
        )
    return data


def _run_dir(proposalNB, runNB, location="raw") -> Path:
    """The run folder, checked to exist (ToolBoxPathError listing the runs otherwise)."""
    r = _run_number(runNB)
    prop_dir = Path(find_proposal(proposalNB))
    location = _check_location(location)
    path = prop_dir / location / f"r{r:04d}"
    if not path.is_dir():
        runs = _available_runs(prop_dir, location)
        if runs:
            what = f"runs available in {prop_dir / location}: " + run_ranges(runs)
        else:
            what = f"{prop_dir / location} holds no runs"
        raise ToolBoxPathError(
            f"run {r} of proposal {_proposal_number(proposalNB)} not found: {path} does not "
            f"exist; {what}. Pass one of these run numbers."
        )
    return path


def find_run_path(proposalNB, runNB, data="raw"):
    """Return the run path given the specified proposal and run numbers.

    Parameters
    ----------
    proposalNB: (str, int)
        proposal number e.g. 'p002252' or 2252
    runNB: (str, int)
        run number as integer
    data: str
        'raw', 'proc' (processed) or 'all' (both 'raw' and 'proc') to access
        data from either or both of those folders. For 'all' the 'raw' run
        folder is returned (the run itself). The default is 'raw'.

    Returns
    -------
    path: str
        The run path.

    Raises
    ------
    ToolBoxPathError: the proposal or the run does not exist (the message
        names the paths tried and the runs available).
    """
    return str(_run_dir(proposalNB, runNB, "raw" if data == "all" else data))


# -- opening runs ----------------------------------------------------------
def _run_files(folders, include="*"):
    """Absolute paths of the run files of ``folders`` matching ``include``."""
    return [
        os.path.abspath(os.path.join(d, n))
        for d in folders
        for n in _h5_files(d)
        if fnmatch.fnmatch(n, include or "*")
    ]


def _warn_skipped(run, folders, where, include="*"):
    """Warn, naming each file and the HDF5 error, about the run files of
    ``folders`` that extra_data left out of ``run`` (it could not open them)."""
    opened = {os.path.abspath(f.filename) for f in run.files}
    for path in _run_files(folders, include):
        if path in opened:
            continue
        try:
            ed.FileAccess(path)
            continue  # readable after all (another process finished writing it)
        except Exception as exc:
            err = str(exc)
        cause = damage.probe(path)  # permissions, I/O: the cause, not "corrupt"
        warnings.warn(
            f"unreadable file {os.path.basename(path)} in {where} skipped ("
            + (cause if cause else f"truncated or corrupt HDF5: {err}")
            + "); its trains are missing from the run",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def _h5_files(folder: Path) -> list:
    return sorted(f.name for f in folder.glob("*.h5") if f.name.lower() != "overview.h5")


def _no_readable_files(folder: Path, exc=None):
    bad = damage.unreadable_files(folder)
    if bad:  # permissions, I/O errors: name the file and the cause
        return damage.unreadable_error(*next(iter(bad.items())))
    files = _h5_files(folder)
    if files:
        return ToolBoxFileError(
            f"no file of run folder {folder} could be read ({', '.join(files)}): they are "
            "truncated or corrupt HDF5 files"
            + (f" ({exc})" if exc else "")
            + ". Copy the run again or ask the facility for the data."
        )
    return ToolBoxPathError(f"{folder} contains no HDF5 (.h5) run files")


def _is_unreadable(exc) -> bool:
    """extra_data's errors for files it cannot use (h5py OSError, or a bare
    Exception 'All HDF5 files specified are unusable')."""
    return isinstance(exc, OSError) or "unusable" in str(exc)


def select_trains(run, subset):
    """``run.select_trains(subset)``, or ``run`` when ``subset`` is None; a bad subset is a
    ToolBoxValueError saying what to pass."""
    if subset is None:
        return run
    try:
        return run.select_trains(subset)
    except Exception as exc:
        raise ToolBoxValueError(
            f"cannot select trains with subset={subset!r}: {exc}. Pass a slice, "
            "extra_data.by_index[...] (e.g. by_index[:5] for the first 5 trains) or "
            "extra_data.by_id[...]"
        ) from exc


def open_run(proposalNB, runNB, subset=None, **kwargs):
    """Get extra_data.DataCollection in a given proposal.

    Wraps the extra_data open_run routine and adds subset selection, out of
    convenience for the toolbox user. More information can be found in the
    extra_data documentation.

    Parameters
    ----------
    proposalNB: (str, int)
        proposal number e.g. 'p002252' or 2252
    runNB: (str, int)
        run number e.g. 17 or 'r0017'
    subset: slice or extra_data.by_index or numpy.s_
        a subset of train that can be loaded with extra_data.by_index[:5] for
        the first 5 trains. If None, all trains are retrieved.
    **kwargs:
        passed to ``extra_data.open_run``, e.g. data (default 'raw': 'proc',
        'all' (raw with proc sources preferred, proc optional), or a list of
        locations), include (default '*'), parallelize (default True).

    Returns
    -------
    run: extra_data.DataCollection
        DataCollection object containing information about the specified
        run. Data can be loaded using built-in class methods.

    Raises
    ------
    ToolBoxPathError: unknown proposal or run (naming the paths tried and
        the runs available).
    ToolBoxFileError: no file of the run can be read. A single unreadable
        (truncated, corrupt) file is skipped with a warning naming it.
    """
    data = kwargs.pop("data", "raw")
    if isinstance(data, str):
        if data in ("all", "default"):  # raw, with proc sources preferred when present
            raw = _run_dir(proposalNB, runNB, "raw")
            proc = raw.parent.parent / "proc" / raw.name
            locations = ["raw", "proc"] if proc.is_dir() and _h5_files(proc) else ["raw"]
        else:
            locations = [_check_location(data)]
    elif isinstance(data, (list, tuple)) and data:
        locations = [_check_location(d) for d in data]
    else:
        raise ToolBoxValueError(
            f"data must be 'raw', 'proc', 'all' or a list of locations, got {data!r}"
        )
    run_dirs = [_run_dir(proposalNB, runNB, loc) for loc in locations]
    include = kwargs.get("include", "*")
    if include not in (None, "*"):
        _check_include(run_dirs, include)
    first = run_dirs[0]
    prop_dir = first.parent.parent
    arg = locations[0] if len(locations) == 1 else locations
    kwargs.setdefault("aliases", None)

    def opener():
        try:
            return ed.open_run(str(prop_dir), _run_number(runNB), data=arg, **kwargs)
        except TypeError:  # an extra_data without the aliases argument
            kwargs.pop("aliases", None)
            return ed.open_run(str(prop_dir), _run_number(runNB), data=arg, **kwargs)

    run = _open_files(
        opener, first, " or ".join(str(d) for d in run_dirs), run_dirs, include or "*"
    )
    return select_trains(run, subset)


def _check_include(run_dirs, include):
    """ToolBoxPathError when no file of the run folders matches ``include``
    (naming the pattern and the files there), instead of extra_data's
    'no files' read as unreadable files."""
    files = [f for d in run_dirs for f in _h5_files(d)]
    if any(fnmatch.fnmatch(f, include) for f in files):
        return
    shown = ", ".join(files[:8]) + (f", ... ({len(files)} files)" if len(files) > 8 else "")
    raise ToolBoxPathError(
        f"no file of {' or '.join(str(d) for d in run_dirs)} matches include={include!r}: "
        f"the folder holds {shown or 'no HDF5 file'}. The files this pattern selects are "
        "missing from the run (not copied, or not written by the DAQ)."
    )


def _open_files(opener, folder: Path, where, folders=None, include="*"):
    """``opener()`` with unreadable files skipped (warned, naming ``where``);
    ToolBoxFileError / ToolBoxPathError for ``folder`` when no file can be read.
    extra_data prints the files it skips; that print is replaced by warnings
    built from the files the DataCollection holds (``run.files``)."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf):
            run = opener()
    except FileNotFoundError as exc:
        raise _no_readable_files(folder) from exc
    except Exception as exc:
        if _is_unreadable(exc):
            raise _no_readable_files(folder, exc) from exc
        sys.stderr.write(buf.getvalue())
        raise
    if not run.files:
        raise _no_readable_files(folder)
    folders = folders or [folder]
    opened = {os.path.abspath(f.filename) for f in run.files}
    if set(_run_files(folders, include)) <= opened:
        sys.stderr.write(buf.getvalue())  # nothing skipped: pass extra_data's output on
    else:
        _warn_skipped(run, folders, where, include)
    return damage.check_run(run, folder, where)  # missing and unreadable files named


def run_by_path(path):
    """Return specified run

    Wraps the extra_data RunDirectory routine, to ease its use for the
    scs-toolbox user. Unreadable files are skipped with a warning (see the
    module documentation).

    Parameters
    ----------
    path: str
        path to the run directory

    Returns
    -------
    run: extra_data.DataCollection
        DataCollection object containing information about the specified
        run. Data can be loaded using built-in class methods.

    Raises
    ------
    ToolBoxPathError: the folder does not exist or holds no .h5 file.
    ToolBoxFileError: no file of the folder can be read.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ToolBoxPathError(
            f"run folder {folder} does not exist or is not a folder; pass the path of a run "
            "folder such as <proposal>/raw/r0017, or use open_run(proposal, run)"
        )
    return _open_files(lambda: ed.RunDirectory(str(folder)), folder, folder)


def mnemonics_for_run(prop_or_run, runNB=None):
    """Mnemonics present in a run, each with its one applicable alternative.

    Parameters
    ----------
    prop_or_run : extra_data.DataCollection or int
        The run, or a proposal number (then ``runNB`` is required).
    runNB : int
        The run number when ``prop_or_run`` is a proposal number.

    Returns
    -------
    dict
        Mnemonic name -> ``{'source', 'key', 'dim', ...}``.

    Example
    -------
    >>> import scs_nb as tb
    >>> sorted(tb.mnemonics_for_run(2212, 208))[:3]
    """
    if isinstance(prop_or_run, (int, str)) and not hasattr(prop_or_run, "all_sources"):
        if runNB is None:
            raise ToolBoxValueError(
                "mnemonics_for_run(proposal, runNB): runNB is required "
                "when a proposal number is given"
            )
        run = open_run(prop_or_run, runNB)
    else:
        run = prop_or_run
    return present_in(run)
