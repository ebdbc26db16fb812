"""Write EuXFEL run files, data format 1.0.

A run is a set of sources (``ControlSource`` and ``InstrumentSource``) over a
common array of train ids. Sources are grouped into aggregators (``DA01`` for
most devices, ``DSSC00``..``DSSC15`` for detector modules) and split into
sequence files of ``trains_per_file`` trains, as the DAQ does:

    <run dir>/RAW-R0001-DA01-S00000.h5

Instrument data is generated per file and per chunk of trains by the source
itself (``InstrumentSource.fill``), so a run of many GB is written with bounded
memory. Every file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import h5py
import numpy as np

FORMAT_VERSION = "1.0"
_VLEN = h5py.special_dtype(vlen=bytes)
#: HDF5 filters of instrument datasets above _COMPRESS_ABOVE bytes (gzip 1 + shuffle: fast,
#: readable by any HDF5 build, as EuXFEL corrected data)
_COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
_COMPRESS_ABOVE = 1 << 20
_T0_NS = int(datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp() * 1e9)


@dataclass
class ControlSource:
    """A slow (CONTROL) device: one value per train, plus RUN values.

    Attributes
    ----------
    name : str
        Device name, e.g. ``'SCS_BLU_XGM/XGM/DOOCS'``.
    class_id : str
        Karabo class of the device.
    values : dict
        Key (without ``.value``, dots as separators) -> array (ntrains, ...).
    present : numpy.ndarray of bool, optional
        Mask (ntrains,) of trains with data; None means all.
    units : dict
        Key -> ``(unitSymbol, metricPrefixSymbol)``.
    run_values : dict
        Key -> value stored in RUN only (e.g. configuration).
    aggregator : str
        The data aggregator (file name part) that records the device.
    """

    name: str
    class_id: str
    values: dict
    present: np.ndarray | None = None
    units: dict = field(default_factory=dict)
    run_values: dict = field(default_factory=dict)
    aggregator: str = "DA01"


@dataclass
class InstrumentSource:
    """A fast (INSTRUMENT) output channel, ``'DEVICE/ID:channel'``.

    Attributes
    ----------
    name : str
        Source name, ``'DEVICE/ID:channel'``.
    class_id : str
        Karabo class of the device.
    groups : dict
        Index group -> {key (dots as separators): (entry shape, dtype)}. Keys
        start with their index group, e.g. ``'data.intensityTD'`` in group
        ``'data'``.
    counts : dict
        Index group -> array (ntrains,) of entries per train.
    fill : callable
        ``fill(group, train_index_array) -> {key: array (sum(counts), ...)}``
        generating the data of those trains, in train order. It is only asked
        for trains with a non-zero count.
    units : dict
        Key -> ``(unitSymbol, metricPrefixSymbol)``.
    aggregator : str
        The data aggregator (file name part) that records the source.
    chunk_trains : int
        Trains generated and written per ``fill`` call.
    trains_per_file : int, optional
        Sequence file length; default the run's.
    """

    name: str
    class_id: str
    groups: dict
    counts: dict
    fill: Callable
    units: dict = field(default_factory=dict)
    aggregator: str = "DA01"
    chunk_trains: int = 64
    trains_per_file: int | None = None  # sequence file length (default: the run's)


def array_fill(arrays: dict) -> Callable:
    """A ``fill`` factory over in-memory arrays.

    Parameters
    ----------
    arrays : dict
        Index group -> {key: array}, the entries of all trains concatenated.

    Returns
    -------
    callable
        ``make(counts)`` -> the ``fill(group, tix)`` of an
        ``InstrumentSource`` with these per-train ``counts``.
    """

    def make(counts):
        offsets = {
            g: np.concatenate([[0], np.cumsum(np.asarray(c, np.int64))]) for g, c in counts.items()
        }

        def fill(group, tix):
            off = offsets[group]
            sel = (
                np.concatenate([np.arange(off[i], off[i + 1]) for i in tix])
                if len(tix)
                else np.zeros(0, int)
            )
            return {k: v[sel] for k, v in arrays[group].items()}

        return fill

    return make


def instrument_from_arrays(
    name, class_id, arrays: dict, counts: dict, units=None, aggregator="DA01"
) -> InstrumentSource:
    """Build an InstrumentSource from full in-memory arrays.

    Parameters
    ----------
    name, class_id : str
        Source name (``'DEVICE/ID:channel'``) and Karabo class.
    arrays : dict
        Index group -> {key: array}, the entries of all trains concatenated.
    counts : dict
        Index group -> entries per train.
    units : dict, optional
        Key -> ``(unitSymbol, metricPrefixSymbol)``.
    aggregator : str
        The data aggregator that records the source.

    Returns
    -------
    InstrumentSource
    """
    groups = {
        g: {k: (v.shape[1:], v.dtype) for k, v in keys.items()} for g, keys in arrays.items()
    }
    counts = {g: np.asarray(c, dtype=np.uint64) for g, c in counts.items()}
    return InstrumentSource(
        name, class_id, groups, counts, array_fill(arrays)(counts), units or {}, aggregator
    )


def _stored(arr) -> np.ndarray:
    """``arr`` as the DAQ stores it: booleans as ``u1`` (0/1), as real run files and
    extra_data's mock files do; HDF5's enum booleans would make extra_data hand out
    ``numpy.bool`` values, which the karabo bridge (msgpack) cannot serialise."""
    arr = np.asarray(arr)
    return arr.astype(np.uint8) if arr.dtype == np.bool_ else arr


def _set_units(ds, units, key):
    unit, prefix = units.get(key, (None, None))
    if unit is not None:
        ds.attrs["unitSymbol"] = unit
        ds.attrs["metricPrefixSymbol"] = prefix or ""


class RunWriter:
    """Writes the files of one run into ``run_dir``.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        The run folder (``.../raw/rNNNN``), created by ``write``.
    proposal, run : int
        Proposal and run number (file names and METADATA).
    train_ids : array of int
        The recorded trains, strictly increasing.
    trains_per_file : int
        Default sequence file length.

    Raises
    ------
    ValueError
        If the train ids are not strictly increasing.
    """

    def __init__(self, run_dir, proposal: int, run: int, train_ids, trains_per_file=500):
        self.run_dir = Path(run_dir)
        self.proposal = int(proposal)
        self.run = int(run)
        self.train_ids = np.asarray(train_ids, dtype=np.uint64)
        if np.any(np.diff(self.train_ids.astype(np.int64)) <= 0):
            raise ValueError("train ids must be strictly increasing")
        self.trains_per_file = int(trains_per_file)
        self.sources: list = []

    def add(self, source):
        """Add a source to write.

        Parameters
        ----------
        source : ControlSource or InstrumentSource
            The source; its name must be new to the run.

        Raises
        ------
        ValueError
            If a source of that name was added before.
        """
        if any(s.name == source.name for s in self.sources):
            raise ValueError(f"source {source.name} added twice")
        self.sources.append(source)

    # -- files -------------------------------------------------------------
    def write(self, progress=None):
        """Write the sequence files of every aggregator.

        Parameters
        ----------
        progress : callable, optional
            Called with the path of each file once it is written.

        Returns
        -------
        list of pathlib.Path
            The files written, by aggregator and sequence number.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        by_agg = {}
        for s in self.sources:
            by_agg.setdefault(s.aggregator, []).append(s)
        paths = []
        n = len(self.train_ids)
        for agg, sources in sorted(by_agg.items()):
            tpf = min(
                (getattr(s, "trains_per_file", None) or self.trains_per_file) for s in sources
            )
            for seq, start in enumerate(range(0, n, tpf)):
                tix = np.arange(start, min(start + tpf, n))
                fname = self.run_dir / f"RAW-R{self.run:04d}-{agg}-S{seq:05d}.h5"
                self._write_file(fname, sources, tix, seq)
                paths.append(fname)
                if progress is not None:
                    progress(fname)
        return paths

    def _write_file(self, fname: Path, sources, tix, seq):
        tmp = fname.with_name(fname.name + ".part")
        with h5py.File(tmp, "w") as f:
            tids = self.train_ids[tix]
            ts = _T0_NS + (tids.astype(np.int64) - int(self.train_ids[0])) * 100_000_000
            f.create_dataset("INDEX/trainId", data=tids, dtype="u8")
            f.create_dataset("INDEX/timestamp", data=ts.astype("u8"))
            f.create_dataset("INDEX/flag", data=np.ones(len(tix), "i4"))
            ids = []
            for s in sources:
                if isinstance(s, ControlSource):
                    self._write_control(f, s, tix, ts)
                    ids.append("CONTROL/" + s.name)
                else:
                    ids += self._write_instrument(f, s, tix)
            self._write_metadata(f, ids, seq)
        os.replace(tmp, fname)

    def _write_control(self, f, s: ControlSource, tix, ts):
        present = np.ones(len(self.train_ids), bool) if s.present is None else s.present
        p = present[tix]
        count = p.astype("u8")
        first = np.concatenate([[0], np.cumsum(p.astype(np.int64))[:-1]]).astype("u8")
        f.create_dataset(f"INDEX/{s.name}/first", data=first)
        f.create_dataset(f"INDEX/{s.name}/count", data=count)
        grp = f.require_group(f"CONTROL/{s.name}")
        rows = tix[p]
        for key, arr in s.values.items():
            path = key.replace(".", "/")
            arr = _stored(arr)
            d = grp.create_dataset(f"{path}/value", data=arr[rows])
            _set_units(d, s.units, key)
            grp.create_dataset(f"{path}/timestamp", data=ts[p].astype("u8"))
            r = f.create_dataset(f"RUN/{s.name}/{path}/value", data=arr[:1])
            _set_units(r, s.units, key)
            f.create_dataset(f"RUN/{s.name}/{path}/timestamp", data=ts[:1].astype("u8"))
        run_values = {"classId": s.class_id, "deviceId": s.name.split(":")[0]}
        run_values.update(s.run_values)
        for key, value in run_values.items():
            path = key.replace(".", "/")
            if isinstance(value, str):
                f.create_dataset(
                    f"RUN/{s.name}/{path}/value",
                    data=[value.encode()],
                    dtype=h5py.string_dtype("ascii"),
                )
            else:
                f.create_dataset(
                    f"RUN/{s.name}/{path}/value",
                    data=_stored(np.atleast_1d(value)[None] if np.ndim(value) else [value]),
                )
            f.create_dataset(f"RUN/{s.name}/{path}/timestamp", data=ts[:1].astype("u8"))

    def _write_instrument(self, f, s: InstrumentSource, tix):
        ids = []
        for group, keys in s.groups.items():
            counts = np.asarray(s.counts[group], dtype=np.uint64)[tix]
            first = np.concatenate([[0], np.cumsum(counts.astype(np.int64))[:-1]]).astype("u8")
            total = int(counts.sum())
            f.create_dataset(f"INDEX/{s.name}/{group}/first", data=first)
            f.create_dataset(f"INDEX/{s.name}/{group}/count", data=counts)
            base = f.require_group(f"INSTRUMENT/{s.name}")
            dsets = {}
            for key, (shape, dtype) in keys.items():
                shape = tuple(shape)
                dtype = _stored(np.zeros(0, dtype)).dtype
                chunks = (
                    (
                        max(
                            1,
                            min(
                                total,
                                max(
                                    1,
                                    (1 << 20)
                                    // max(1, int(np.prod(shape)) * np.dtype(dtype).itemsize),
                                ),
                            ),
                        ),
                    )
                    + shape
                    if total
                    else None
                )
                # large arrays (images, traces) compressed: simulated noise on a flat
                # background shrinks 3-10x at gzip level 1; readers see no difference
                big = total * int(np.prod(shape)) * np.dtype(dtype).itemsize > _COMPRESS_ABOVE
                d = base.create_dataset(
                    key.replace(".", "/"),
                    shape=(total,) + shape,
                    dtype=dtype,
                    chunks=chunks,
                    **(_COMPRESSION if big and chunks else {}),
                )
                _set_units(d, s.units, key)
                dsets[key] = d
            tid = base.create_dataset(f"{group}/trainId", shape=(total,), dtype="u8")
            pos = 0
            cur = np.asarray(s.counts[group], dtype=np.int64)
            for c0 in range(0, len(tix), s.chunk_trains):
                sub = tix[c0 : c0 + s.chunk_trains]
                sub = sub[cur[sub] > 0]  # fill is only asked for trains with data
                n = int(cur[sub].sum())
                if n == 0:
                    continue
                data = s.fill(group, sub)
                for key, d in dsets.items():
                    block = np.asarray(data[key])
                    if block.shape[0] != n:
                        raise ValueError(
                            f"{s.name} {key}: fill gave {block.shape[0]} entries for {n} expected"
                        )
                    d[pos : pos + n] = block
                tid[pos : pos + n] = np.repeat(self.train_ids[sub], cur[sub])
                pos += n
            ids.append(f"INSTRUMENT/{s.name}/{group}")
        return ids

    def _write_metadata(self, f, ids, seq):
        g = f.create_group("METADATA/dataSources")
        g.create_dataset("dataSourceId", data=[i.encode() for i in ids], dtype=_VLEN)
        g.create_dataset("root", data=[i.split("/", 1)[0].encode() for i in ids], dtype=_VLEN)
        g.create_dataset("deviceId", data=[i.split("/", 1)[1].encode() for i in ids], dtype=_VLEN)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        f["METADATA/dataFormatVersion"] = [FORMAT_VERSION.encode()]
        f["METADATA/creationDate"] = [now.strftime("%Y%m%dT%H%M%SZ").encode()]
        f["METADATA/updateDate"] = [
            (now + timedelta(minutes=5)).strftime("%Y%m%dT%H%M%SZ").encode()
        ]
        f["METADATA/daqLibrary"] = [b"scs_nb.sim"]
        f["METADATA/karaboFramework"] = [b"2.16.0"]
        f.create_dataset("METADATA/proposalNumber", data=[self.proposal], dtype=np.uint32)
        f.create_dataset("METADATA/runNumber", data=[self.run], dtype=np.uint32)
        f.create_dataset("METADATA/sequenceNumber", data=[seq], dtype=np.uint32)
        f["METADATA/runType"] = [b"Simulated SCS run"]
        f["METADATA/sample"] = [b"simulated"]
