"""The bunch pattern: which 4.5 MHz slots hold SASE1, SASE3 and PP-laser pulses.

This module is the one pulse alignment model of scs_nb. Every pulse-resolved
quantity (XGM, digitizer peaks, BAM) gets its pulse coordinate here:

* the bunch pattern table (``bunchPatternTable``, one uint32 per slot and
  train) is decoded with ``euxfel_bunch_pattern``; without a table, the bunch
  decoder's pulse ids are used (``sase3``, ``npulses_sase3``...);
* the pulse dimension is ``sa1_pId``, ``sa3_pId`` or ``ol_pId`` and holds slot
  indices;
* when the pattern changes during a run, the coordinate is the union of the
  pulse ids of all trains, with NaN where a train had no such pulse;
* trains without pulses are kept (all NaN) unless a function says otherwise
  (``keepAllSase=False`` of the digitizer functions drops them).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import euxfel_bunch_pattern as ebp
import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError
from ..mnemonics import present_in
from ..reader import read_loose
from ..reader.discovery import open_run

__all__ = [
    "extractBunchPattern",
    "get_sase_pId",
    "npulses_has_changed",
    "pulsePatternInfo",
    "repRate",
    "is_sase_1",
    "is_sase_3",
    "is_ppl",
    "is_pulse_at",
]

SLOT_KHZ = 4500.0  # 4.5 MHz grid, in kHz
PULSE_DIMS = {"sase1": "sa1_pId", "sase3": "sa3_pId", "scs_ppl": "ol_pId"}
_ALIASES = {
    "sase1": "sase1",
    "sase3": "sase3",
    "scs_ppl": "scs_ppl",
    "laser": "scs_ppl",
    "ppl": "scs_ppl",
    "sa1": "sase1",
    "sa3": "sase3",
    "ol": "scs_ppl",
}
_DECODER_NAMES = {"sase1": "sase1", "sase3": "sase3", "scs_ppl": "laser"}


def location(loc) -> str:
    """The canonical name ('sase1', 'sase3', 'scs_ppl') of a pulse location."""
    try:
        return _ALIASES[str(loc).lower()]
    except KeyError:
        raise ToolBoxValueError(
            f"unknown bunch pattern location {loc!r}; pass one of 'sase1', 'sase3', "
            "'scs_ppl' (PP laser)"
        ) from None


def pulse_dim(loc) -> str:
    """The pulse dimension name of a location: sa1_pId, sa3_pId, ol_pId."""
    return PULSE_DIMS[location(loc)]


# -- euxfel_bunch_pattern wrappers -------------------------------------------
def is_sase_3(bpt):
    """Check for presence of a SASE3 pulse.

    Parameters
    ----------
    bpt: numpy array, xarray DataArray
        The bunch pattern data.

    Returns
    -------
    boolean: numpy array, xarray DataArray
        true if SASE3 pulse is present.
    """
    return ebp.is_sase(bpt, 3)


def is_sase_1(bpt):
    """Check for presence of a SASE1 pulse (see ``is_sase_3``)."""
    return ebp.is_sase(bpt, 1)


def is_ppl(bpt):
    """Check for presence of a pp-laser pulse (the SCS PP laser is LASER_SEED6)."""
    return ebp.is_laser(bpt, ebp.PPL_BITS.LP_SCS)


def is_pulse_at(bpt, loc):
    """Check for presence of a pulse at the location provided.

    Parameters
    ----------
    bpt: numpy array, xarray DataArray
        The bunch pattern data.
    loc: str
        The location where to check: {'sase1', 'sase3', 'scs_ppl'}

    Returns
    -------
    boolean: numpy array, xarray DataArray
        true if a pulse is present at loc.
    """
    loc = location(loc)
    return {"sase1": is_sase_1, "sase3": is_sase_3, "scs_ppl": is_ppl}[loc](bpt)


# -- the alignment model -----------------------------------------------------
@dataclass
class PulseIds:
    """Pulse ids of one location over a run.

    trainId: (ntrains,) train ids with pattern information.
    pids: the union of pulse ids (slot indices), sorted.
    mask: (ntrains, len(pids)) True where a train had that pulse.
    dim: 'sa1_pId', 'sa3_pId' or 'ol_pId'.
    source: 'bunchPatternTable' or 'bunch decoder'.
    """

    trainId: np.ndarray
    pids: np.ndarray
    mask: np.ndarray
    dim: str
    loc: str
    source: str

    @property
    def npulses(self) -> np.ndarray:
        """Number of pulses in each train."""
        return self.mask.sum(1)

    @property
    def changed(self) -> bool:
        """Whether the pulse pattern changes within the run."""
        return bool(len(self.mask)) and not bool(np.all(self.mask == self.mask[:1]))

    def per_train(self):
        """Pulse ids of each train: a list of arrays."""
        return [self.pids[m] for m in self.mask]

    def mask_array(self) -> xr.DataArray:
        """The (trainId, pulse id) mask of pulses present, as a DataArray."""
        return xr.DataArray(
            self.mask,
            dims=("trainId", self.dim),
            coords={"trainId": self.trainId, self.dim: self.pids},
        )


def load_bpt(run, merge_with=None, run_mnemonics=None):
    """The bunch pattern table (trainId, pulse_slot) of a run, or None.

    It is taken from ``merge_with['bunchPatternTable']`` when present.
    """
    if merge_with is not None and "bunchPatternTable" in merge_with:
        return merge_with["bunchPatternTable"]
    if run is None:
        return None
    mn = run_mnemonics if run_mnemonics is not None else present_in(run)
    if "bunchPatternTable" not in mn:
        return None
    return read_loose(run, "bunchPatternTable")


def _from_table(bpt, loc) -> PulseIds:
    loc = location(loc)
    values = np.asarray(bpt.values if hasattr(bpt, "values") else bpt)
    if values.ndim == 1:
        values = values[None]
    tids = (
        np.asarray(bpt["trainId"].values)
        if hasattr(bpt, "coords") and "trainId" in bpt.coords
        else np.arange(len(values))
    )
    # decode each distinct pattern once: consecutive trains mostly repeat it
    if len(values) > 1:
        new_row = np.concatenate([[True], np.any(values[1:] != values[:-1], axis=1)])
        which = np.cumsum(new_row) - 1
        distinct = np.asarray(is_pulse_at(values[new_row], loc))
    else:
        which = np.zeros(len(values), int)
        distinct = np.asarray(is_pulse_at(values, loc)).reshape(len(values), -1)
    pids = np.flatnonzero(distinct.any(0))
    return PulseIds(
        tids, pids, distinct[:, pids][which], PULSE_DIMS[loc], loc, "bunchPatternTable"
    )


def _from_decoder(run, loc, mn) -> PulseIds | None:
    name = _DECODER_NAMES[loc]
    if name not in mn or f"npulses_{name}" not in mn:
        return None
    ids = read_loose(run, name)
    npul = read_loose(run, f"npulses_{name}")
    ids, npul = xr.align(ids, npul, join="inner")
    values = np.asarray(ids.values, np.int64)
    valid = np.arange(values.shape[1])[None] < np.asarray(npul.values)[:, None]
    pids = np.unique(values[valid])
    mask = np.zeros((len(values), len(pids)), bool)
    rows = np.nonzero(valid)[0]
    mask[rows, np.searchsorted(pids, values[valid])] = True
    return PulseIds(
        np.asarray(ids["trainId"].values), pids, mask, PULSE_DIMS[loc], loc, "bunch decoder"
    )


def pulse_ids(
    run, loc="sase3", bpt=None, merge_with=None, run_mnemonics=None, required=True
) -> PulseIds | None:
    """The pulse ids of ``loc`` per train: from the bunch pattern table
    (given, in ``merge_with``, or in the run), else from the bunch decoder.

    required: raise a ToolBoxValueError when neither exists (else None).
    """
    loc = location(loc)
    if bpt is None:
        bpt = load_bpt(run, merge_with, run_mnemonics)
    if bpt is not None:
        return _from_table(bpt, loc)
    mn = (
        run_mnemonics
        if run_mnemonics is not None
        else (present_in(run) if run is not None else {})
    )
    pids = _from_decoder(run, loc, mn) if run is not None else None
    if pids is None and required:
        raise ToolBoxValueError(
            f"cannot find the {loc} pulse ids: this run has neither the bunch pattern table "
            "(mnemonic 'bunchPatternTable') nor the bunch decoder. Pass `indices` (the pulse "
            "indices of the data, e.g. slice(0, 20)) or a bunch pattern table `bpt`."
        )
    return pids


def align_packed(values, train_ids, pids: PulseIds, name, keep_empty=True, check_count=False):
    """Align data packed per train (k-th entry = k-th pulse of the train, as the
    XGM writes it) onto the pulse ids; NaN where a train had no such pulse.

    Returns a DataArray (trainId, dim). With ``check_count`` the number of
    valid entries (not NaN) per train is compared with the pattern and a
    warning lists the trains that disagree.
    """
    values = np.asarray(values, float)
    common, i_d, i_p = np.intersect1d(
        np.asarray(train_ids), pids.trainId, assume_unique=True, return_indices=True
    )
    _warn_missing(name, len(train_ids), len(common), pids)
    d = values[i_d]
    m = pids.mask[i_p]
    rank = np.cumsum(m, 1) - 1
    ncol = d.shape[1]
    inside = m & (rank < ncol)
    got = (
        np.take_along_axis(d, np.clip(rank, 0, max(ncol - 1, 0)), 1)
        if ncol
        else np.full(m.shape, np.nan)
    )
    out = np.where(inside, got, np.nan)
    if check_count:
        nvalid = np.sum(np.isfinite(d), 1)
        bad = nvalid != m.sum(1)
        if bad.any():
            warnings.warn(
                f"{name}: the number of pulses recorded differs from the bunch pattern "
                f"({pids.source}) in {int(bad.sum())} of {len(bad)} trains (e.g. train "
                f"{int(common[bad][0])}: {int(nvalid[bad][0])} recorded, "
                f"{int(m.sum(1)[bad][0])} in the pattern); values are aligned on the "
                "pattern's pulse ids.",
                stacklevel=3,
            )
    return _finish(out, common, pids, m, name, keep_empty)


def align_slots(values, train_ids, pids: PulseIds, name, columns, keep_empty=True):
    """Align data indexed by slot: ``values[:, columns[j]]`` is pulse ``pids[j]``."""
    values = np.asarray(values)
    common, i_d, i_p = np.intersect1d(
        np.asarray(train_ids), pids.trainId, assume_unique=True, return_indices=True
    )
    _warn_missing(name, len(train_ids), len(common), pids)
    m = pids.mask[i_p]
    out = np.where(m, values[i_d][:, np.asarray(columns, int)], np.nan)
    return _finish(out, common, pids, m, name, keep_empty)


def _finish(out, common, pids, m, name, keep_empty):
    da = xr.DataArray(
        out, dims=("trainId", pids.dim), coords={"trainId": common, pids.dim: pids.pids}, name=name
    )
    if not keep_empty:
        da = da.isel(trainId=np.flatnonzero(m.any(1)))
    return da


def _warn_missing(name, ndata, ncommon, pids):
    if ncommon < ndata:
        warnings.warn(
            f"{name}: {ndata - ncommon} of {ndata} trains have no bunch pattern "
            f"information ({pids.source}) and are dropped",
            stacklevel=4,
        )


# -- ToolBox API -------------------------------------------------------------
def npulses_has_changed(run, loc="sase3", run_mnemonics=None):
    """Checks if the number of pulses has changed during the run for a
    specific location ``loc`` ('sase1', 'sase3', 'scs_ppl' or 'laser').
    If the source is not found in the run, returns True.

    Parameters
    ----------
    run: extra_data.DataCollection
    loc: str
        {'sase1', 'sase3', 'scs_ppl'}
    run_mnemonics: dict
        the mnemonics for the run (see ``mnemonics_for_run``)

    Returns
    -------
    bool: True if the number of pulses has changed or the source was not found.
    """
    loc = location(loc)
    mn = run_mnemonics if run_mnemonics is not None else present_in(run)
    name = f"npulses_{_DECODER_NAMES[loc]}"
    if name in mn:
        n = np.asarray(read_loose(run, name).values)
        return bool(len(np.unique(n)) > 1)
    pids = pulse_ids(run, loc, run_mnemonics=mn, required=False)
    if pids is None:
        return True
    return bool(len(np.unique(pids.npulses)) > 1)


def get_sase_pId(run, loc="sase3", run_mnemonics=None, bpt=None, merge_with=None):
    """Returns the pulse Ids of the specified ``loc`` during a run.

    When the number of pulses changed during the run, the union of the pulse
    ids of all trains is returned (from the bunch pattern table).

    Parameters
    ----------
    run: extra_data.DataCollection
    loc: str
        {'sase1', 'sase3', 'scs_ppl'}
    run_mnemonics: dict
        the mnemonics for the run (see ``mnemonics_for_run``)
    bpt: 2D-array
        the bunch pattern table; if None, it is loaded on the fly.
    merge_with: xarray.Dataset
        dataset that may contain the bunch pattern table; if it does not,
        the loaded table is added to it as 'bunchPatternTable'.

    Returns
    -------
    np.array: the pulse ids at loc, or None if neither the table nor the
    bunch decoder is in the run.
    """
    loc = location(loc)
    mn = run_mnemonics if run_mnemonics is not None else present_in(run)
    if bpt is None:
        bpt = load_bpt(run, merge_with, mn)
        if bpt is not None and merge_with is not None and "bunchPatternTable" not in merge_with:
            merge_with["bunchPatternTable"] = bpt
    pids = pulse_ids(run, loc, bpt=bpt, run_mnemonics=mn, required=False)
    return None if pids is None else pids.pids.astype(np.int64)


def extractBunchPattern(bp_table=None, key="sase3", runDir=None):
    """Generate the bunch pattern and number of pulses of a source directly
    from the bunch pattern table, not using the bunch decoder.

    Inputs:
        bp_table: DataArray of the mnemonic 'bunchPatternTable'. If None, it
            is loaded from ``runDir``.
        key: str, one of 'sase1', 'sase3', 'scs_ppl'.
        runDir: extra_data DataCollection, required only if bp_table is None.

    Outputs:
        bunchPattern: DataArray (trainId, bunchId) of the pulse slot indices
            of ``key`` in each train, zero padded (as the bunch decoder)
        npulses: DataArray (trainId,) number of pulses per train
        matched: DataArray (trainId, pulse_slot) mask, True where ``key`` has pulses
    """
    if bp_table is None:
        if runDir is None:
            raise ToolBoxValueError("extractBunchPattern needs bp_table or runDir (the run)")
        bp_table = load_bpt(runDir)
        if bp_table is None:
            raise ToolBoxValueError(
                "the run has no bunch pattern table (mnemonic "
                "'bunchPatternTable'); use the bunch decoder "
                "mnemonics 'sase3', 'npulses_sase3' instead"
            )
    if not isinstance(bp_table, xr.DataArray):
        bp_table = xr.DataArray(np.atleast_2d(bp_table), dims=("trainId", "pulse_slot"))
    slot_dim = bp_table.dims[-1]
    matched = is_pulse_at(bp_table, key)
    m = np.asarray(matched.values)
    npulses = m.sum(1)
    width = max(int(npulses.max()) if len(npulses) else 0, 1)
    order = np.argsort(~m, axis=1, kind="stable")[:, :width]
    ids = np.where(np.arange(width)[None] < npulses[:, None], order, 0)
    coords = {"trainId": bp_table["trainId"]} if "trainId" in bp_table.coords else {}
    bunch = xr.DataArray(ids, dims=("trainId", "bunchId"), coords=coords, name=key)
    npul = xr.DataArray(npulses, dims=("trainId",), coords=coords, name=f"npulses_{key}")
    matched = matched.rename({slot_dim: "pulse_slot"}) if slot_dim != "pulse_slot" else matched
    return bunch, npul, matched


def _ids_per_train(data, key):
    """Pulse ids per train of 'sase1'/'sase3'/... from a Dataset (decoder
    variables with npulses_*) or a bunchPatternTable."""
    loc = location(key)
    name = _DECODER_NAMES[loc]
    for k in (key, name):
        if k in data and f"npulses_{k}" in data:
            ids = np.asarray(data[k].values)
            n = np.asarray(data[f"npulses_{k}"].values)
            return [row[:c] for row, c in zip(ids, n)]
    if "bunchPatternTable" in data:
        return _from_table(data["bunchPatternTable"], loc).per_train()
    raise ToolBoxValueError(
        f"the dataset has neither {key!r} with 'npulses_{key}' (bunch decoder) nor "
        "'bunchPatternTable'; load them, e.g. tb.load(proposal, run, ['sase3', "
        "'npulses_sase3', 'sase1', 'npulses_sase1'])"
    )


def repRate(data=None, runNB=None, proposalNB=None, key="sase3"):
    """Calculates the pulse repetition rate (in kHz) in sase according to the
    bunch pattern and assuming a grid of 4.5 MHz.

    Inputs:
        data: xarray Dataset containing the pulse pattern (bunch decoder
            variables or 'bunchPatternTable'), needed if runNB is None
        runNB, proposalNB: the run to load when data is None
        key: 'sase1', 'sase3' or 'scs_ppl'

    Output:
        f: repetition rate in kHz (0 with fewer than two pulses per train)
    """
    if data is None:
        if runNB is None or proposalNB is None:
            raise ToolBoxValueError("repRate needs data, or runNB and proposalNB")
        run = open_run(proposalNB, runNB)
        bpt = load_bpt(run)
        name = _DECODER_NAMES[location(key)]
        data = (
            xr.Dataset({"bunchPatternTable": bpt})
            if bpt is not None
            else xr.Dataset({k: read_loose(run, k) for k in (name, f"npulses_{name}")})
        )
    diffs = [np.diff(ids) for ids in _ids_per_train(data, key) if len(ids) > 1]
    if not diffs:
        return 0.0
    step = np.median(np.concatenate(diffs))
    return float(SLOT_KHZ / step)


def pulsePatternInfo(data, plot=False):
    """Display general information on the pulse patterns operated by SASE1
    and SASE3: number of pulses (and whether it changed), repetition rate,
    which SASE comes first in the train and the minimum separation between
    the two sub-trains.

    Inputs:
        data: xarray Dataset with the bunch decoder variables {'sase1',
            'sase3', 'npulses_sase1', 'npulses_sase3'} (or 'bunchPatternTable')
        plot: bool, plot the pulse patterns of the first train

    Outputs:
        printed summary; returns it as a dict too.
    """
    info = {}
    ids = {}
    for key in ("sase1", "sase3"):
        try:
            ids[key] = _ids_per_train(data, key)
        except ToolBoxValueError:
            continue
        n = np.array([len(x) for x in ids[key]])
        info[key] = {
            "npulses_min": int(n.min()) if len(n) else 0,
            "npulses_max": int(n.max()) if len(n) else 0,
            "changed": bool(len(np.unique(n)) > 1),
            "rep_rate_kHz": repRate(data, key=key),
        }
    if not ids:
        raise ToolBoxValueError(
            "pulsePatternInfo: no pulse pattern in data; load 'sase1', "
            "'npulses_sase1', 'sase3', 'npulses_sase3'"
        )
    lines = []
    for key, d in info.items():
        chg = " (changed during the run)" if d["changed"] else ""
        npl = (
            d["npulses_max"]
            if d["npulses_min"] == d["npulses_max"]
            else f"{d['npulses_min']}-{d['npulses_max']}"
        )
        lines.append(f"{key.upper()}: {npl} pulses per train{chg}, {d['rep_rate_kHz']:.0f} kHz")
    if "sase1" in ids and "sase3" in ids:
        firsts = []
        seps = []
        for a, b in zip(ids["sase1"], ids["sase3"]):
            if len(a) and len(b):
                firsts.append("SASE1" if a[0] < b[0] else "SASE3")
                seps.append(np.min(np.abs(np.subtract.outer(a, b))))
        if firsts:
            first = max(set(firsts), key=firsts.count)
            info["first"] = first
            info["min_separation_slots"] = int(np.min(seps))
            lines.append(
                f"{first} comes first in the train; minimum separation between "
                f"SASE1 and SASE3 pulses: {int(np.min(seps))} slots "
                f"({np.min(seps) / SLOT_KHZ * 1e3:.3f} µs)"
            )
        elif all(info[k]["npulses_max"] for k in ("sase1", "sase3")):
            lines.append("SASE1 and SASE3 never share a train (sase-dedicated trains)")
    print("\n".join(lines))
    if plot:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 2.5))
        for k, (key, per) in enumerate(ids.items()):
            first = next((x for x in per if len(x)), np.zeros(0))
            ax.vlines(first, k, k + 0.8, color=f"C{k}", label=key)
        ax.set_xlabel("pulse slot (4.5 MHz)")
        # one row per pulse source: label the rows instead of a numeric axis
        ax.set_yticks([k + 0.4 for k in range(len(ids))], [key.upper() for key in ids])
        ax.set_ylabel("pulse source")
        ax.set_ylim(-0.1, len(ids))  # a source without pulses keeps its (empty) row
        ax.legend()
        ax.set_title("pulse pattern of the first train with pulses")
    return info
