"""Loading runs: the ToolBox ``load`` API over extra_data.

Proposals are found under extra_data's data root, read when a function is
called (not when the module is imported) from ``EXTRA_DATA_DATA_ROOT``
(``scs_nb.facility.data_root()``): ``<root>/<instrument>/<cycle>/p<proposal:06d>``.
Runs live in ``<proposal>/raw/r<run:04d>`` (and ``proc/`` for processed data).

Unreadable files: a run folder may hold a truncated or corrupt HDF5 file (a
copy interrupted, a disk full during acquisition). Opening a run *skips* such a
file with a ``UserWarning`` naming the file and the HDF5 error, so the rest of
the run stays usable; a run in which no file can be read raises
``ToolBoxFileError`` naming the files. Reading data that fails later (a file
whose header is intact but whose data is damaged) raises ``ToolBoxFileError``
naming the source, key and files.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import ToolBoxFileError, ToolBoxPathError, ToolBoxTypeError, ToolBoxValueError
from .facility import find_proposal, run_ranges
from .facility import validate_proposal as _proposal_number
from .facility import validate_run as _run_number
from .mnemonics import kind_of, mnemonics_for_run
from .reader import field_list as _as_field_list
from .reader import lookup, read

__all__ = ["find_proposal", "find_run_path", "open_run", "run_by_path", "load", "get_array",
           "load_run_values", "concatenateRuns", "check_data_rate"]

#: fraction of missing trains above which ``load`` warns
MISSING_TRAINS_WARN = 0.05

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


def _check_location(data) -> str:
    if not isinstance(data, str) or not _LOCATION_RE.fullmatch(data) or ".." in data:
        raise ToolBoxValueError(
            f"data must be 'raw', 'proc', 'all' or a folder name of the proposal, got {data!r}")
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
            f"exist; {what}. Pass one of these run numbers.")
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


# -- warnings point at the user's code ---------------------------------------
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_SKIP_DIRS = (_PACKAGE_DIR, os.path.dirname(contextlib.__file__))


def _user_stacklevel() -> int:
    """stacklevel for warnings.warn (called by the caller of this function) that
    points at the first frame outside scs_nb (and contextlib)."""
    frame = sys._getframe(1)  # the function calling warnings.warn: stacklevel 1
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
            _SKIP_DIRS):
        frame = frame.f_back
        level += 1
    return level


# -- opening runs ----------------------------------------------------------
def _run_files(folders, include="*"):
    """Absolute paths of the run files of ``folders`` matching ``include``."""
    import fnmatch
    return [os.path.abspath(os.path.join(d, n)) for d in folders for n in _h5_files(d)
            if fnmatch.fnmatch(n, include or "*")]


def _warn_skipped(run, folders, where, include="*"):
    """Warn, naming each file and the HDF5 error, about the run files of
    ``folders`` that extra_data left out of ``run`` (it could not open them)."""
    import extra_data as ed

    opened = {os.path.abspath(f.filename) for f in run.files}
    for path in _run_files(folders, include):
        if path in opened:
            continue
        try:
            ed.FileAccess(path)
            continue       # readable after all (another process finished writing it)
        except Exception as exc:
            err = str(exc)
        from .damage import probe
        cause = probe(path)         # permissions, I/O: the cause, not "corrupt"
        warnings.warn(
            f"unreadable file {os.path.basename(path)} in {where} skipped ("
            + (cause if cause else f"truncated or corrupt HDF5: {err}")
            + "); its trains are missing from the run",
            UserWarning, stacklevel=_user_stacklevel())


def _h5_files(folder: Path) -> list:
    return sorted(f.name for f in folder.glob("*.h5") if f.name.lower() != "overview.h5")


def _no_readable_files(folder: Path, exc=None):
    from .damage import unreadable_files, unreadable_error
    bad = unreadable_files(folder)
    if bad:                     # permissions, I/O errors: name the file and the cause
        return unreadable_error(*next(iter(bad.items())))
    files = _h5_files(folder)
    if files:
        return ToolBoxFileError(
            f"no file of run folder {folder} could be read ({', '.join(files)}): they are "
            "truncated or corrupt HDF5 files" + (f" ({exc})" if exc else "")
            + ". Copy the run again or ask the facility for the data.")
    return ToolBoxPathError(f"{folder} contains no HDF5 (.h5) run files")


def _is_unreadable(exc) -> bool:
    """extra_data's errors for files it cannot use (h5py OSError, or a bare
    Exception 'All HDF5 files specified are unusable')."""
    return isinstance(exc, OSError) or "unusable" in str(exc)


def _select(run, subset):
    if subset is None:
        return run
    try:
        return run.select_trains(subset)
    except Exception as exc:
        raise ToolBoxValueError(
            f"cannot select trains with subset={subset!r}: {exc}. Pass a slice, "
            "extra_data.by_index[...] (e.g. by_index[:5] for the first 5 trains) or "
            "extra_data.by_id[...]") from exc


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
    import extra_data as ed

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
        raise ToolBoxValueError(f"data must be 'raw', 'proc', 'all' or a list of locations, "
                                f"got {data!r}")
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

    run = _open_files(opener, first, " or ".join(str(d) for d in run_dirs), run_dirs,
                      include or "*")
    return _select(run, subset)


def _check_include(run_dirs, include):
    """ToolBoxPathError when no file of the run folders matches ``include``
    (naming the pattern and the files there), instead of extra_data's
    'no files' read as unreadable files."""
    import fnmatch

    files = [f for d in run_dirs for f in _h5_files(d)]
    if any(fnmatch.fnmatch(f, include) for f in files):
        return
    shown = ", ".join(files[:8]) + (f", ... ({len(files)} files)" if len(files) > 8 else "")
    raise ToolBoxPathError(
        f"no file of {' or '.join(str(d) for d in run_dirs)} matches include={include!r}: "
        f"the folder holds {shown or 'no HDF5 file'}. The files this pattern selects are "
        "missing from the run (not copied, or not written by the DAQ).")


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
        sys.stderr.write(buf.getvalue())     # nothing skipped: pass extra_data's output on
    else:
        _warn_skipped(run, folders, where, include)
    from .damage import check_run     # missing and unreadable files named
    return check_run(run, folder, where)


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
    import extra_data as ed

    folder = Path(path)
    if not folder.is_dir():
        raise ToolBoxPathError(
            f"run folder {folder} does not exist or is not a folder; pass the path of a run "
            "folder such as <proposal>/raw/r0017, or use open_run(proposal, run)")
    return _open_files(lambda: ed.RunDirectory(str(folder)), folder, folder)


def _pulse_function(name):
    """``scs_nb.pulses.<name>``, imported when load() first needs it."""
    from . import pulses

    return getattr(pulses, name)


def _train_span(train_ids) -> int:
    tids = np.asarray(train_ids, dtype=np.int64)
    return int(tids.max() - tids.min() + 1) if len(tids) else 0


def _warn_missing(run, ds, arrays, where):
    """Warn when more than 5 % of the trains of the run have no data in ``ds``."""
    run_tids = np.asarray(run.train_ids, dtype=np.uint64)
    span = _train_span(run_tids)
    if span == 0:
        return
    have = ds.sizes.get("trainId", 0)
    missing = span - have
    if missing / span <= MISSING_TRAINS_WARN:
        return
    parts = []
    gaps = span - len(run_tids)
    if gaps:
        parts.append(f"{gaps} train ids between the first and last train are absent from the "
                     "run files (trains dropped by the DAQ, or in files that could not be read)")
    for name, arr in arrays.items():
        n = len(np.intersect1d(np.asarray(arr.trainId, dtype=np.uint64), run_tids))
        if n < len(run_tids):
            src = arr.attrs.get("source", "")
            parts.append(f"{name}{' (' + src + ')' if src else ''} has data in "
                         f"{n} of {len(run_tids)} trains")
    from .damage import hint
    warnings.warn(
        f"{where}: {missing} of {span} trains ({100 * missing / span:.1f} %) are missing from "
        "the loaded data: " + "; ".join(parts) + "." + hint(run)
        + " Only trains with data for every field are kept; use check_data_rate(run, fields) "
        "for the rate of each field, or load the sparse fields separately.",
        UserWarning, stacklevel=_user_stacklevel())


def load(proposalNB=None, runNB=None, fields=None, data="all", display=False,
         validate=False, subset=None, rois={}, extract_digitizers=True, extract_xgm=True,
         extract_bam=True, bunchPattern="sase3", parallelize=True, **kwargs):
    """Load a run and extract the data. Output is an xarray with aligned trainIds.

    Parameters
    ----------
    proposalNB: str, int or extra_data DataCollection
        proposal number e.g. 'p002252' or 2252, or a run already opened
        (then runNB is not needed)
    runNB: str, int
        run number as integer
    fields: str, list of str, list of dict
        list of mnemonics to load specific data such as "fastccd", "SCS_XGM",
        or dictionnaries defining a custom mnemonic such as
        {"extra": {'source': 'SCS_CDIFFT_MAG/SUPPLY/CURRENT',
        'key': 'actual_current.value', 'dim': None}}
    data: str or Sequence of str
        'raw', 'proc' (processed), or any other location relative to the
        proposal path with data per run to access. May also be 'all' (both
        'raw' and 'proc'; 'proc' is optional) or a sequence of strings to load
        data from several locations, with later locations overwriting sources
        present in earlier ones.
    display: bool
        whether to show the run.info or not
    validate: bool
        whether to run extra-data-validate or not (problems are warned)
    subset: slice or extra_data.by_index or numpy.s_
        a subset of train that can be loaded with extra_data.by_index[:5] for
        the first 5 trains. If None, all trains are retrieved.
    rois: dict
        a dictionnary of mnemonics with a list of rois definition and the
        desired names, for example:
        {'fastccd': {'ref': {'roi': by_index[730:890, 535:720],
        'dim': ['ref_x', 'ref_y']}, 'sam': {'roi': by_index[1050:1210, 535:720],
        'dim': ['sam_x', 'sam_y']}}}
    extract_digitizers: bool
        If True, extracts the peaks from digitizer variables and aligns the
        pulse Id according to the fadc_bp bunch pattern.
    extract_xgm: bool
        If True, extracts the values from XGM variables (e.g. 'SCS_SA3',
        'XTD10_XGM') and aligns the pulse Id with the sase1 / sase3 bunch
        pattern.
    extract_bam: bool
        If True, extracts the values from BAM variables (e.g. 'BAM1932M') and
        aligns the pulse Id with the sase3 bunch pattern.
    bunchPattern: str
        bunch pattern used to extract the Fast ADC pulses. A string or a dict
        as in {'FFT_PD2': 'sase3', 'ILH_I0': 'scs_ppl'}. Ignored if
        extract_digitizers=False.
    parallelize: bool
        from EXtra-Data: enable or disable opening files in parallel.
    **kwargs:
        the ToolBox's per-detector switches ``extract_adq412``,
        ``extract_fadc``, ``extract_fadc2``, ``extract_tim`` (ADQ412 MCPs) and
        ``extract_laser`` (FastADC photodiodes): False leaves that board's
        mnemonics raw. Any other keyword is a ToolBoxValueError naming these.

    Returns
    -------
    run, ds: DataCollection, xarray.Dataset
        extra_data DataCollection of the proposal and run number and an
        xarray Dataset with aligned trainIds and pulseIds. Only trains with
        data for every field are kept (a ``UserWarning`` says so when more than
        5 % of the trains of the run are missing, counting trains dropped by
        the DAQ). ``ds.attrs``: runFolder, proposal, runNB.

    Raises
    ------
    ToolBoxPathError: unknown proposal or run.
    ToolBoxValueError: unknown mnemonic (the message lists the mnemonics of
        the run) or a mnemonic whose source is missing from the run.
    ToolBoxFileError: no file of the run can be read, or data of a damaged
        file cannot be read (unreadable files are otherwise skipped with a
        warning).

    Example
    -------
    >>> import scs_nb as tb
    >>> run, data = tb.load(2212, 208, ['SCS_SA3', 'MCP2apd', 'nrj'])
    """
    switches = _digitizer_switches(kwargs)
    if hasattr(proposalNB, "all_sources"):      # an open DataCollection
        if fields is None and runNB is not None and not isinstance(runNB, (int, np.integer)):
            fields, runNB = runNB, None        # load(run, ['nrj'])
        run = _select(proposalNB, subset)
        meta = _run_metadata(run)
        proposal, run_nb, run_folder = meta["proposal"], meta["runNB"], meta["runFolder"]
        if validate and run_folder:
            _validate(run_folder)
    else:
        if proposalNB is None or runNB is None:
            raise ToolBoxValueError("load(proposalNB, runNB, fields): proposalNB and runNB "
                                    "are required, e.g. load(2212, 208, ['nrj']), or pass "
                                    "an open run: load(run, fields=['nrj'])")
        run = open_run(proposalNB, runNB, subset=subset, data=data, parallelize=parallelize)
        run_folder = find_run_path(proposalNB, runNB)
        proposal, run_nb = _proposal_number(proposalNB), _run_number(runNB)
        if validate:
            _validate(run_folder)
    if display:
        run.info()
    fields_ = _as_field_list(fields)
    if not isinstance(rois, dict):
        raise ToolBoxTypeError(f"rois must be a dict {{mnemonic: {{name: {{'roi': ..., "
                               f"'dim': [...]}}}}}}, got {rois!r}")
    arrays = {}
    resolved = {}
    for name, spec in fields_:
        if name in arrays or name in resolved:
            continue
        name, alt = lookup(run, name, spec)
        resolved[name] = alt
        if display:
            print(f"Loading {name}")
        if name in rois:
            if not isinstance(rois[name], dict):
                raise ToolBoxTypeError(f"rois[{name!r}] must be a dict "
                                       "{name: {'roi': by_index[...], 'dim': [...]}}")
            for roi_name, r in rois[name].items():
                if not isinstance(r, dict) or "roi" not in r:
                    raise ToolBoxValueError(
                        f"rois[{name!r}][{roi_name!r}] must be {{'roi': by_index[...], "
                        f"'dim': [...]}}, got {r!r}")
                arrays[roi_name] = read(run, roi_name, alt=alt, roi=r["roi"],
                                        dim=r.get("dim"))
        else:
            arrays[name] = read(run, name, alt=alt)
    unknown_rois = set(rois) - {n for n, _ in fields_}
    if unknown_rois:
        raise ToolBoxValueError(f"rois given for {sorted(unknown_rois)}, which are not in "
                                f"fields {[n for n, _ in fields_]}; add them to fields")
    if arrays:
        ds = xr.merge(list(arrays.values()), join="inner")
        ds.attrs = {}  # merge copies the first variable's attributes
    else:
        ds = xr.Dataset(coords={"trainId": np.asarray(run.train_ids, dtype=np.uint64)})
    ds = ds.assign_coords(trainId=np.asarray(ds["trainId"].values, dtype=np.uint64))
    if arrays:
        _warn_missing(run, ds, arrays, f"load(proposal {proposal}, run {run_nb})")
    ds.attrs["runFolder"] = run_folder
    ds.attrs["proposal"] = proposal
    ds.attrs["runNB"] = run_nb
    ds = _extract_pulses(run, ds, resolved, extract_digitizers and switches, extract_xgm,
                         extract_bam, bunchPattern)
    return run, ds


#: the ToolBox's per-board switches of load() and the boards each one covers
_BOARD_SWITCHES = {"extract_adq412": ("ADQ412",), "extract_tim": ("ADQ412",),
                   "extract_fadc": ("FastADC",), "extract_fadc2": ("FastADC2",),
                   "extract_laser": ("FastADC", "FastADC2")}


def _digitizer_switches(kwargs) -> dict:
    """{board: extract?} from load()'s extra keywords (unknown ones are an error)."""
    unknown = sorted(set(kwargs) - set(_BOARD_SWITCHES))
    if unknown:
        import inspect
        valid = [p for p in inspect.signature(load).parameters if p != "kwargs"]
        raise ToolBoxValueError(
            f"load() got unknown keyword(s) {', '.join(unknown)}. Valid keywords: "
            f"{', '.join(valid + sorted(_BOARD_SWITCHES))}.")
    boards = {"ADQ412": True, "FastADC": True, "FastADC2": True}
    for switch, value in kwargs.items():
        if not value:
            for b in _BOARD_SWITCHES[switch]:
                boards[b] = False
    return boards


def _board(alt) -> str:
    from .facility import sources
    if alt["source"].startswith(sources.FASTADC2):
        return "FastADC2"
    return "FastADC" if alt.get("digitizer") == "FastADC" else "ADQ412"


def _run_metadata(run) -> dict:
    """proposal, run number and run folder of an open DataCollection."""
    meta = {}
    try:
        meta = run.run_metadata()
    except Exception:  # pragma: no cover - several runs, or no METADATA
        pass
    folders = sorted({os.path.dirname(f.filename) for f in run.files})
    return {"proposal": meta.get("proposalNumber"), "runNB": meta.get("runNumber"),
            "runFolder": folders[0] if len(folders) == 1 else folders}


def _extract_pulses(run, ds, resolved, boards, extract_xgm, extract_bam, bunchPattern):
    """Hand pulse-resolved fields to scs_nb.pulses, as the ToolBox load does.
    ``boards``: {board: extract?}, or False for no digitizer at all."""
    attrs = dict(ds.attrs)
    names = [n for n in resolved if n in ds]
    kinds = {n: kind_of(resolved[n]) for n in names}
    digi = [n for n in names if kinds[n] in ("digitizer_raw", "digitizer_peaks")
            and boards and boards[_board(resolved[n])]]
    if digi:
        func = _pulse_function("get_digitizer_peaks")
        for name in digi:
            bp = bunchPattern
            if isinstance(bunchPattern, dict):
                bp = bunchPattern.get(name)
                if bp is None:
                    continue
            ds = func(run, mnemonic=name, merge_with=ds, bunchPattern=bp)
    xgms = [n for n in names if kinds[n] == "xgm"] if extract_xgm else []
    if xgms:
        ds = _pulse_function("get_xgm")(run, mnemonics=xgms, merge_with=ds)
    bams = [n for n in names if kinds[n] == "bam"] if extract_bam else []
    if bams:
        ds = _pulse_function("get_bam")(run, mnemonics=bams, merge_with=ds)
    for k, v in attrs.items():
        ds.attrs.setdefault(k, v)
    return ds


def _validate(run_folder):
    """Run extra-data-validate's checks; problems become one warning."""
    from extra_data.validation import RunValidator

    validator = RunValidator(run_folder)
    validator.run_checks()
    if validator.problems:
        lines = [p.get("msg", str(p)) + (f" ({p['file']})" if "file" in p else "")
                 for p in validator.problems[:10]]
        warnings.warn(f"extra-data-validate found {len(validator.problems)} problem(s) in "
                      f"{run_folder}: " + "; ".join(lines), UserWarning,
                      stacklevel=_user_stacklevel())


def _run_from(run, proposalNB, runNB, subset, data):
    if run is None:
        if proposalNB is None or runNB is None:
            raise ToolBoxValueError("pass run (a DataCollection from open_run) or both "
                                    "proposalNB and runNB")
        return open_run(proposalNB, runNB, subset=subset, data=data)
    if not hasattr(run, "all_sources"):
        raise ToolBoxTypeError(f"run must be an extra_data DataCollection (from open_run), "
                               f"got {type(run).__name__}")
    return _select(run, subset)


def get_array(run=None, mnemonic=None, stepsize=None, subset=None, data="raw",
              proposalNB=None, runNB=None):
    """Loads one data array for the specified mnemonic and rounds its values to
    integer multiples of stepsize for consistent grouping (except for
    stepsize=None). Returns a 1D array of ones if mnemonic is set to None.

    Parameters
    ----------
    run: extra_data.DataCollection
        DataCollection containing the data. Used if proposalNB and runNB are
        None.
    mnemonic: str
        Identifier of a single item in the mnemonic collection (or a custom
        dict {'name': {'source', 'key', 'dim'}}). None creates a dummy 1D
        array of ones with length equal to the number of trains.
    stepsize: float
        nominal stepsize of the array data - values will be rounded to integer
        multiples of this value.
    subset: slice or extra_data.by_index or numpy.s_
        a subset of train that can be loaded with extra_data.by_index[:5] for
        the first 5 trains. If None, all trains are retrieved.
    data: str or Sequence of str
        'raw', 'proc' (processed), or any other location relative to the
        proposal path with data per run to access. May also be 'all'. The
        default is 'raw'.
    proposalNB: (str, int)
        proposal number e.g. 'p002252' or 2252.
    runNB: (str, int)
        run number e.g. 17 or 'r0017'.

    Returns
    -------
    data: xarray.DataArray
        xarray DataArray containing rounded array values using the trainId as
        coordinate.

    Raises
    ------
    ToolBoxValueError: Toolbox specific exception, indicating a non-valid
        mnemonic entry

    Example
    -------
    >>> import scs_nb as tb
    >>> run = tb.open_run(2212, 235)
    >>> mnemonic = 'PP800_PhaseShifter'
    >>> data_PhaseShifter = tb.get_array(run, mnemonic, 0.5)
    """
    if proposalNB is not None and runNB is not None:
        run = None  # the ToolBox: proposalNB and runNB take precedence over run
    run = _run_from(run, proposalNB, runNB, subset, data)
    if stepsize is not None:
        if isinstance(stepsize, bool) or not isinstance(stepsize, (int, float, np.number)) \
                or not np.isfinite(stepsize) or stepsize <= 0:
            raise ToolBoxValueError(f"stepsize must be a positive number, got {stepsize!r}")
    if mnemonic is None:
        tids = np.asarray(run.train_ids, dtype=np.uint64)
        return xr.DataArray(np.ones(len(tids), dtype=np.int16), dims=["trainId"],
                            coords={"trainId": tids})
    fields = _as_field_list(mnemonic)
    if len(fields) != 1:
        raise ToolBoxValueError(f"get_array loads one mnemonic, got {mnemonic!r}; use load() "
                                "for several")
    name, spec = fields[0]
    name, alt = lookup(run, name, spec)
    arr = read(run, name, alt=alt)
    arr = arr.assign_coords(trainId=np.asarray(arr["trainId"].values, dtype=np.uint64))
    if stepsize is not None:
        arr = stepsize * np.round(arr / stepsize)
        arr.name = name
    return arr


def load_run_values(prop_or_run, runNB=None, which="mnemonics"):
    """Load the run value for each mnemonic whose source is a CONTROL source
    (see extra-data DataCollection.get_run_value() for details).

    Parameters
    ----------
    prop_or_run: extra_data DataCollection or int
        The run (DataCollection) to check for mnemonics. Alternatively, the
        proposal number (int), for which the runNB is also required.
    runNB: int
        The run number. Only used if the first argument is the proposal
        number.
    which: str
        'mnemonics' or 'all'. If 'mnemonics', only the run values for the
        ToolBox mnemonics are retrieved. If 'all', a compiled dictionnary of
        all control sources run values is returned.

    Returns
    -------
    run_values: dict
        mnemonic -> run value ('mnemonics'; None where the RUN section lacks
        it), or source -> {key: value} ('all').
    """
    if which not in ("mnemonics", "all"):
        raise ToolBoxValueError(f"which must be 'mnemonics' or 'all', got {which!r}")
    if hasattr(prop_or_run, "all_sources"):
        run = prop_or_run
    else:
        if runNB is None:
            raise ToolBoxValueError("load_run_values(proposal, runNB): runNB is required when "
                                    "a proposal number is given")
        run = open_run(prop_or_run, runNB)
    if which == "all":
        return {src: run.get_run_values(src) for src in sorted(run.control_sources)}
    out = {}
    for name, alt in mnemonics_for_run(run).items():
        if alt["source"] not in run.control_sources:
            continue
        try:
            out[name] = run.get_run_value(alt["source"], alt["key"])
        except Exception:  # not recorded in RUN (or a multi-run collection)
            out[name] = None
    return out


def concatenateRuns(runs):
    """Sorts and concatenate a list of runs with identical data variables
    along the trainId dimension.

    Parameters
    ----------
    runs: list
        the xarray Datasets to concatenate

    Returns
    -------
    a concatenated xarray Dataset, sorted by first train id; each attribute
    becomes the list of the runs' values.
    """
    runs = list(runs) if runs is not None else []
    if not runs:
        raise ToolBoxValueError("concatenateRuns needs a non-empty list of Datasets")
    for i, r in enumerate(runs):
        if not isinstance(r, xr.Dataset) or "trainId" not in r.dims:
            raise ToolBoxTypeError(f"runs[{i}] is not an xarray Dataset with a trainId "
                                   f"dimension (got {type(r).__name__})")
    ordered = sorted(runs, key=lambda r: int(r["trainId"].values[0])
                     if r.sizes["trainId"] else 0)
    keys = set(ordered[0].data_vars)
    for r in ordered[1:]:
        if set(r.data_vars) != keys:
            raise ToolBoxValueError(
                "data fields between different runs are not identical, cannot combine runs: "
                f"{sorted(keys)} vs {sorted(r.data_vars)}. Load the same fields in each run.")
    result = xr.concat(ordered, dim="trainId", combine_attrs="drop")
    for k in ordered[0].attrs:
        result.attrs[k] = [r.attrs.get(k) for r in ordered]
    return result


def check_data_rate(run, fields=None):
    """Calculates the fraction of train ids that contain data in a run.

    Parameters
    ----------
    run: extra_data DataCollection
        the DataCollection associated to the data.
    fields: str, list of str or dict
        mnemonics to check. If None, all mnemonics in the run are checked. A
        custom mnemonic can be defined with a dictionnary: {'extra':
        {'source': 'SCS_CDIFFT_MAG/SUPPLY/CURRENT', 'key':
        'actual_current.value'}}

    Returns
    -------
    ret: dict
        dictionnary with mnemonic as keys and fraction of train ids that
        contain data as values.
    """
    if not hasattr(run, "all_sources"):
        raise ToolBoxTypeError(f"run must be an extra_data DataCollection, got "
                               f"{type(run).__name__}")
    if fields is None:
        items = list(mnemonics_for_run(run).items())
    else:
        items = [lookup(run, name, spec) for name, spec in _as_field_list(fields)]
    ntrains = len(run.train_ids)
    ret = {}
    for name, alt in items:
        counts = np.asarray(run[alt["source"], alt["key"]].data_counts(labelled=False))
        ret[name] = float(np.count_nonzero(counts) / ntrains) if ntrains else 0.0
    return ret

