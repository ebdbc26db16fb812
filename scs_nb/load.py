"""Loading runs: the ToolBox ``load`` API, a facade over the reader and the pulses.

``open_run``, ``run_by_path``, ``find_run_path`` and ``mnemonics_for_run`` come
from run discovery (``scs_nb.reader.discovery``, where proposals and runs are
found and unreadable files are skipped with a warning); ``load`` reads the
mnemonics through ``scs_nb.reader`` and hands pulse-resolved fields to
``scs_nb.pulses``, as the ToolBox does. Reading data that fails later (a file
whose header is intact but whose data is damaged) raises ``ToolBoxFileError``
naming the source, key and files.
"""

from __future__ import annotations

import inspect
import os
import warnings

import numpy as np
import xarray as xr
from extra_data.validation import RunValidator

from . import pulses
from .errors import ToolBoxTypeError, ToolBoxValueError
from .facility import validate_proposal as _proposal_number
from .facility import validate_run as _run_number
from .mnemonics import kind_of
from .reader import damage, lookup, read
from .reader import field_list as _as_field_list
from .reader.discovery import (
    find_proposal,
    find_run_path,
    mnemonics_for_run,
    open_run,
    run_by_path,
)
from .reader.discovery import select_trains as _select
from .reader.values import run_value, run_values
from .reader.warn import user_stacklevel as _user_stacklevel

__all__ = [
    "find_proposal",
    "find_run_path",
    "open_run",
    "run_by_path",
    "load",
    "get_array",
    "load_run_values",
    "concatenateRuns",
    "check_data_rate",
    "mnemonics_for_run",
]

#: fraction of missing trains above which ``load`` warns
MISSING_TRAINS_WARN = 0.05


def _pulse_function(name):
    """``scs_nb.pulses.<name>``, looked up at call time (tests replace it)."""
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
        parts.append(
            f"{gaps} train ids between the first and last train are absent from the "
            "run files (trains dropped by the DAQ, or in files that could not be read)"
        )
    for name, arr in arrays.items():
        n = len(np.intersect1d(np.asarray(arr.trainId, dtype=np.uint64), run_tids))
        if n < len(run_tids):
            src = arr.attrs.get("source", "")
            parts.append(
                f"{name}{' (' + src + ')' if src else ''} has data in "
                f"{n} of {len(run_tids)} trains"
            )
    warnings.warn(
        f"{where}: {missing} of {span} trains ({100 * missing / span:.1f} %) are missing from "
        "the loaded data: "
        + "; ".join(parts)
        + "."
        + damage.hint(run)
        + " Only trains with data for every field are kept; use check_data_rate(run, fields) "
        "for the rate of each field, or load the sparse fields separately.",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


def load(
    proposalNB=None,
    runNB=None,
    fields=None,
    data="all",
    display=False,
    validate=False,
    subset=None,
    rois={},
    extract_digitizers=True,
    extract_xgm=True,
    extract_bam=True,
    bunchPattern="sase3",
    parallelize=True,
    **kwargs,
):
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
    if hasattr(proposalNB, "all_sources"):  # an open DataCollection
        if fields is None and runNB is not None and not isinstance(runNB, (int, np.integer)):
            fields, runNB = runNB, None  # load(run, ['nrj'])
        run = _select(proposalNB, subset)
        meta = _run_metadata(run)
        proposal, run_nb, run_folder = meta["proposal"], meta["runNB"], meta["runFolder"]
        if validate and run_folder:
            _validate(run_folder)
    else:
        if proposalNB is None or runNB is None:
            raise ToolBoxValueError(
                "load(proposalNB, runNB, fields): proposalNB and runNB "
                "are required, e.g. load(2212, 208, ['nrj']), or pass "
                "an open run: load(run, fields=['nrj'])"
            )
        run = open_run(proposalNB, runNB, subset=subset, data=data, parallelize=parallelize)
        run_folder = find_run_path(proposalNB, runNB)
        proposal, run_nb = _proposal_number(proposalNB), _run_number(runNB)
        if validate:
            _validate(run_folder)
    if display:
        run.info()
    fields_ = _as_field_list(fields)
    if not isinstance(rois, dict):
        raise ToolBoxTypeError(
            f"rois must be a dict {{mnemonic: {{name: {{'roi': ..., "
            f"'dim': [...]}}}}}}, got {rois!r}"
        )
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
                raise ToolBoxTypeError(
                    f"rois[{name!r}] must be a dict "
                    "{name: {'roi': by_index[...], 'dim': [...]}}"
                )
            for roi_name, r in rois[name].items():
                if not isinstance(r, dict) or "roi" not in r:
                    raise ToolBoxValueError(
                        f"rois[{name!r}][{roi_name!r}] must be {{'roi': by_index[...], "
                        f"'dim': [...]}}, got {r!r}"
                    )
                arrays[roi_name] = read(run, roi_name, alt=alt, roi=r["roi"], dim=r.get("dim"))
        else:
            arrays[name] = read(run, name, alt=alt)
    unknown_rois = set(rois) - {n for n, _ in fields_}
    if unknown_rois:
        raise ToolBoxValueError(
            f"rois given for {sorted(unknown_rois)}, which are not in "
            f"fields {[n for n, _ in fields_]}; add them to fields"
        )
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
    ds = extract_pulses(
        run, ds, resolved, extract_digitizers and switches, extract_xgm, extract_bam, bunchPattern
    )
    return run, ds


#: the ToolBox's per-board switches of load() and the boards each one covers
_BOARD_SWITCHES = {
    "extract_adq412": ("ADQ412",),
    "extract_tim": ("ADQ412",),
    "extract_fadc": ("FastADC",),
    "extract_fadc2": ("FastADC2",),
    "extract_laser": ("FastADC", "FastADC2"),
}


def _digitizer_switches(kwargs) -> dict:
    """{board: extract?} from load()'s extra keywords (unknown ones are an error)."""
    unknown = sorted(set(kwargs) - set(_BOARD_SWITCHES))
    if unknown:
        valid = [p for p in inspect.signature(load).parameters if p != "kwargs"]
        raise ToolBoxValueError(
            f"load() got unknown keyword(s) {', '.join(unknown)}. Valid keywords: "
            f"{', '.join(valid + sorted(_BOARD_SWITCHES))}."
        )
    boards = {"ADQ412": True, "FastADC": True, "FastADC2": True}
    for switch, value in kwargs.items():
        if not value:
            for b in _BOARD_SWITCHES[switch]:
                boards[b] = False
    return boards


def _board(alt) -> str:
    """The board (``load`` switch) of a digitizer alternative: the table's ``board``
    field; a user's entry without one counts as its ``digitizer`` model."""
    return alt.get("board") or alt.get("digitizer") or "ADQ412"


def _run_metadata(run) -> dict:
    """proposal, run number and run folder of an open DataCollection."""
    meta = {}
    try:
        meta = run.run_metadata()
    except Exception:  # pragma: no cover - several runs, or no METADATA
        pass
    folders = sorted({os.path.dirname(f.filename) for f in run.files})
    return {
        "proposal": meta.get("proposalNumber"),
        "runNB": meta.get("runNumber"),
        "runFolder": folders[0] if len(folders) == 1 else folders,
    }


def extract_pulses(run, ds, resolved, boards, extract_xgm, extract_bam, bunchPattern):
    """Hand pulse-resolved fields to scs_nb.pulses, as the ToolBox load does.

    Also the last step of a live stream's ``dataset()`` (``scs_nb.live``), so that
    live data and a loaded run are processed alike.

    Parameters
    ----------
    run : extra_data.DataCollection or scs_nb.pulses.source.InMemory
        The run, or the trains in memory.
    ds : xarray.Dataset
        The fields as read (raw digitizer traces, XGM and BAM arrays).
    resolved : dict
        Field name -> the alternative (source, key) it was read from.
    boards : dict or bool
        {board: extract?} (``load``'s per-board switches), or False for no
        digitizer at all.
    extract_xgm, extract_bam : bool
        Align the XGM / BAM arrays on the bunch pattern.
    bunchPattern : str or dict
        Pattern of the digitizer peaks, as in ``load``.

    Returns
    -------
    xarray.Dataset
        ``ds`` with pulse-resolved variables aligned (digitizer raw traces
        replaced by their peaks).
    """
    attrs = dict(ds.attrs)
    names = [n for n in resolved if n in ds]
    kinds = {n: kind_of(resolved[n]) for n in names}
    digi = [
        n
        for n in names
        if kinds[n] in ("digitizer_raw", "digitizer_peaks")
        and boards
        and boards[_board(resolved[n])]
    ]
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
    validator = RunValidator(run_folder)
    validator.run_checks()
    if validator.problems:
        lines = [
            p.get("msg", str(p)) + (f" ({p['file']})" if "file" in p else "")
            for p in validator.problems[:10]
        ]
        warnings.warn(
            f"extra-data-validate found {len(validator.problems)} problem(s) in "
            f"{run_folder}: " + "; ".join(lines),
            UserWarning,
            stacklevel=_user_stacklevel(),
        )


def _run_from(run, proposalNB, runNB, subset, data):
    if run is None:
        if proposalNB is None or runNB is None:
            raise ToolBoxValueError(
                "pass run (a DataCollection from open_run) or both proposalNB and runNB"
            )
        return open_run(proposalNB, runNB, subset=subset, data=data)
    if not hasattr(run, "all_sources"):
        raise ToolBoxTypeError(
            f"run must be an extra_data DataCollection (from open_run), got {type(run).__name__}"
        )
    return _select(run, subset)


def get_array(
    run=None, mnemonic=None, stepsize=None, subset=None, data="raw", proposalNB=None, runNB=None
):
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
        if (
            isinstance(stepsize, bool)
            or not isinstance(stepsize, (int, float, np.number))
            or not np.isfinite(stepsize)
            or stepsize <= 0
        ):
            raise ToolBoxValueError(f"stepsize must be a positive number, got {stepsize!r}")
    if mnemonic is None:
        tids = np.asarray(run.train_ids, dtype=np.uint64)
        return xr.DataArray(
            np.ones(len(tids), dtype=np.int16), dims=["trainId"], coords={"trainId": tids}
        )
    fields = _as_field_list(mnemonic)
    if len(fields) != 1:
        raise ToolBoxValueError(
            f"get_array loads one mnemonic, got {mnemonic!r}; use load() for several"
        )
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
            raise ToolBoxValueError(
                "load_run_values(proposal, runNB): runNB is required when "
                "a proposal number is given"
            )
        run = open_run(prop_or_run, runNB)
    if which == "all":
        return {src: run_values(run, src) for src in sorted(run.control_sources)}
    out = {}
    for name, alt in mnemonics_for_run(run).items():
        if alt["source"] not in run.control_sources:
            continue
        try:
            out[name] = run_value(run, alt["source"], alt["key"])
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
            raise ToolBoxTypeError(
                f"runs[{i}] is not an xarray Dataset with a trainId "
                f"dimension (got {type(r).__name__})"
            )
    ordered = sorted(runs, key=lambda r: int(r["trainId"].values[0]) if r.sizes["trainId"] else 0)
    keys = set(ordered[0].data_vars)
    for r in ordered[1:]:
        if set(r.data_vars) != keys:
            raise ToolBoxValueError(
                "data fields between different runs are not identical, cannot combine runs: "
                f"{sorted(keys)} vs {sorted(r.data_vars)}. Load the same fields in each run."
            )
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
        raise ToolBoxTypeError(
            f"run must be an extra_data DataCollection, got {type(run).__name__}"
        )
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
