"""Receiving trains over the karabo bridge: ``Stream``.

A background thread asks the bridge endpoint for one train after another
(``karabo_bridge.Client``), keeps the fields asked for, copied out of the
message buffers, and holds the last ``max_trains`` complete trains (every field
present). ``dataset()`` turns them into what ``tb.load(run, fields)`` returns
for the same trains: the same variables, dimensions, coordinates and pulse
alignment, because the same table resolves the mnemonics and the same
``load.extract_pulses`` aligns them.

A silent sender is waited for; after ``timeout`` seconds without a train the
socket is closed and opened again, so a sender that restarted (a new replay, a
restarted bridge device) is picked up. Train ids that go back (a replay from
the start) begin a new buffer.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import OrderedDict, deque

import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError
from ..load import extract_pulses
from ..mnemonics import alternatives, kind_of, mnemonics
from ..pulses.source import InMemory
from ..reader import field_list

__all__ = ["Stream", "DEFAULT_TIMEOUT"]

#: seconds without a train before the connection is opened again
DEFAULT_TIMEOUT = 5.0
#: messages after which fields whose source never came are reported
_REPORT_AFTER = 5
_POLL_S = 0.2  # socket receive timeout: how fast stop() is obeyed
_ALL_BOARDS = {"ADQ412": True, "FastADC": True, "FastADC2": True}
_PULSE_KINDS = ("xgm", "bam", "digitizer_raw", "digitizer_peaks")


def _candidates(name, spec):
    if spec is not None:
        return [dict(spec)]
    if name not in mnemonics:
        raise ToolBoxValueError(
            f"unknown mnemonic {name!r}; pass a mnemonic of scs_nb.mnemonics or a dict "
            "{'name': {'source': ..., 'key': ..., 'dim': [...]}}"
        )
    return [dict(a) for a in alternatives(name)]


def _key_in(src_data, key):
    """The key under which ``key`` is in a source's message (control keys carry
    ``.value``), or None."""
    if key in src_data:
        return key
    if key + ".value" in src_data:
        return key + ".value"
    return None


class Stream:
    """The last trains of a karabo-bridge endpoint, as ``load`` gives a run.

    Parameters
    ----------
    endpoint : str
        ZeroMQ address of the bridge, e.g. ``'tcp://127.0.0.1:45000'`` (a replay:
        ``scs-nb live-replay``) or a facility bridge ``'tcp://<host>:<port>'``.
    fields : str or list
        Mnemonics (or ``{'name': {'source', 'key', 'dim'}}`` dicts), as in
        ``tb.load``. The bunch pattern table is received too when a
        pulse-resolved field needs it (it is in ``dataset()`` only if asked for).
    max_trains : int
        Complete trains kept (older ones are forgotten).
    timeout : float
        Seconds without a train before the connection is opened again.
    sock : str
        ZeroMQ pattern of the endpoint: 'REQ' (karabo bridge default, and
        ``live-replay``), 'SUB' or 'PULL'.
    frames : dict, optional
        ``{name: (source, key)}`` of per-train arrays kept as they come
        (detector frames for ``LiveBinner``), read with ``trains()``.
    bunchPattern : str or dict
        Pattern of the digitizer peaks, as in ``tb.load``.
    optional : list, optional
        Fields kept when the endpoint sends them, not needed for a train to
        count as complete (in ``dataset()`` when every train held has them).
    start : bool
        Start receiving now (else call ``start()``).

    Attributes
    ----------
    received : int
        Messages received.
    dropped : int
        Trains missing between received train ids (dropped on the way or by the
        sender).
    incomplete : int
        Trains received without one of the fields (not kept).
    problem : str or None
        Why no complete train arrives (e.g. the endpoint sends other sources).

    Examples
    --------
    >>> s = Stream('tcp://127.0.0.1:45000', ['SCS_SA3', 'MCP2raw'], max_trains=200)
    >>> s.wait(50)
    >>> tb.get_xgm(s)         # as tb.get_xgm(run) on those trains
    >>> s.stop()
    """

    def __init__(
        self,
        endpoint,
        fields,
        max_trains=200,
        timeout=DEFAULT_TIMEOUT,
        sock="REQ",
        frames=None,
        bunchPattern="sase3",
        optional=(),
        start=True,
    ):
        if not isinstance(endpoint, str) or "://" not in endpoint:
            raise ToolBoxValueError(
                f"endpoint must be a ZeroMQ address such as 'tcp://127.0.0.1:45000', got "
                f"{endpoint!r}"
            )
        if int(max_trains) < 1:
            raise ToolBoxValueError(f"max_trains must be >= 1, got {max_trains!r}")
        if not float(timeout) > 0:
            raise ToolBoxValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        if sock not in ("REQ", "SUB", "PULL"):
            raise ToolBoxValueError(f"sock must be 'REQ', 'SUB' or 'PULL', got {sock!r}")
        self.endpoint = endpoint
        self.max_trains = int(max_trains)
        self.timeout = float(timeout)
        self.sock = sock
        self.bunchPattern = bunchPattern
        self.fields = field_list(fields)
        opt = field_list(optional)
        if not self.fields and not frames and not opt:
            raise ToolBoxValueError("fields is empty; pass mnemonics such as ['SCS_SA3']")
        self._cands = {n: _candidates(n, s) for n, s in self.fields + opt}
        self._asked = [n for n, _ in self.fields + opt]
        self._optional = {n for n, _ in opt if n not in dict(self.fields)}
        needs_bpt = any(kind_of(c[0]) in _PULSE_KINDS for c in self._cands.values())
        if needs_bpt and "bunchPatternTable" not in self._cands:
            self._cands["bunchPatternTable"] = _candidates("bunchPatternTable", None)
            self._optional.add("bunchPatternTable")
        self._frames = {n: tuple(sk) for n, sk in (frames or {}).items()}
        self.alts = {}  # field -> the alternative found in the stream
        self._lock = threading.Lock()
        self._trains = OrderedDict()  # train id -> {name: array}
        self._times = deque(maxlen=50)
        self._stop = threading.Event()
        self._thread = None
        self.cache = {}  # for the pulse functions (windows, integrated peaks)
        self.received = self.dropped = self.incomplete = self.restarts = 0
        self.last_train = None
        self.sources_seen = set()
        self.problem = None
        self.error = None
        self._warned = False
        if start:
            self.start()

    # -- receiving -------------------------------------------------------------
    def start(self):
        """Start (or resume) receiving in a background thread.

        Returns
        -------
        Stream
            self.
        """
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="scs_nb-live", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait=True):
        """Stop receiving (the trains received are kept).

        Parameters
        ----------
        wait : bool
            Wait for the thread to end (at most a few tenths of a second).
        """
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        """Whether the receiving thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __del__(self):
        stop = getattr(self, "_stop", None)  # absent when __init__ refused its arguments
        if stop is not None:
            stop.set()

    def _client(self):
        # imported here: pyzmq/msgpack are the optional `live` extra
        from karabo_bridge import Client

        return Client(self.endpoint, sock=self.sock, timeout=_POLL_S)

    def _run(self):
        client, last = None, time.monotonic()
        try:
            while not self._stop.is_set():
                if client is None:
                    client = self._client()
                try:
                    data, meta = client.next()
                except TimeoutError:
                    if time.monotonic() - last > self.timeout:
                        # a restarted sender does not answer a request sent to the
                        # old one: reconnect
                        client._context.destroy(linger=0)
                        client, last = None, time.monotonic()
                    continue
                last = time.monotonic()
                self._ingest(data, meta)
        except Exception as exc:  # reported by wait()/dataset(), the thread ends
            self.error = exc
        finally:
            if client is not None:
                client._context.destroy(linger=0)

    def _train_id(self, data, meta):
        for src in list(meta or {}) + list(data):
            m = (meta or {}).get(src) or data[src].get("metadata", {})
            tid = m.get("timestamp.tid")
            if tid is not None:
                return int(tid)
        return None

    def _resolve(self, data):
        for name, cands in self._cands.items():
            if name in self.alts:
                continue
            for alt in cands:
                src = data.get(alt["source"])
                if src is not None and _key_in(src, alt["key"]) is not None:
                    self.alts[name] = alt
                    break

    def _ingest(self, data, meta):
        tid = self._train_id(data, meta)
        self.received += 1
        self.sources_seen.update(data)
        self._resolve(data)
        if tid is None:
            return
        row = {}
        for name in self._cands:
            alt = self.alts.get(name)
            src = data.get(alt["source"]) if alt else None
            key = _key_in(src, alt["key"]) if src is not None else None
            if key is None:
                if name in self._optional:
                    continue
                row = None
                break
            row[name] = np.array(src[key])  # a copy: the message buffer is reused
        for name, (source, key) in self._frames.items():
            if row is None:
                break
            src = data.get(source)
            if src is None or _key_in(src, key) is None:
                row = None
                break
            row[name] = np.array(src[_key_in(src, key)])
        with self._lock:
            if self.last_train is not None and tid <= self.last_train:
                # train ids went back: a new run or a restarted replay
                self._trains.clear()
                self.cache.clear()
                self.restarts += 1
            elif self.last_train is not None:
                self.dropped += tid - self.last_train - 1
            self.last_train = tid
            self._times.append(time.monotonic())
            if row is None:
                self.incomplete += 1
                self._report()
                return
            self.problem = None
            self._trains[tid] = row
            while len(self._trains) > self.max_trains:
                self._trains.popitem(last=False)

    def _report(self):
        if self.received < _REPORT_AFTER or self._trains:
            return
        missing = [n for n in self._cands if n not in self.alts and n not in self._optional]
        missing += [n for n, (s, _) in self._frames.items() if s not in self.sources_seen]
        if not missing:
            text = (
                f"{self.incomplete} trains from {self.endpoint} lacked one of the fields; "
                "waiting for a train with all of them"
            )
        else:
            want = "; ".join(
                f"{n}: "
                + (
                    ", ".join(f"{a['source']} ({a['key']})" for a in self._cands[n])
                    if n in self._cands
                    else self._frames[n][0]
                )
                for n in missing
            )
            text = (
                f"the endpoint {self.endpoint} sends {len(self.sources_seen)} source(s) "
                f"({', '.join(sorted(self.sources_seen)[:12])}"
                f"{', ...' if len(self.sources_seen) > 12 else ''}) but not those of "
                f"{want}. Ask for fields that this endpoint sends, or connect to the bridge "
                "that sends these devices."
            )
        self.problem = text
        if not self._warned and missing:
            self._warned = True
            warnings.warn(text, UserWarning, stacklevel=2)

    # -- what was received ----------------------------------------------------
    @property
    def train_ids(self) -> np.ndarray:
        """(ntrains,) uint64 ids of the complete trains held, oldest first."""
        with self._lock:
            return np.fromiter(self._trains, np.uint64, len(self._trains))

    @property
    def rate(self) -> float:
        """Trains received per second over the last (up to) 50 messages; 0 when
        nothing arrived for ``timeout`` seconds."""
        with self._lock:
            t = list(self._times)
        if len(t) < 2 or time.monotonic() - t[-1] > self.timeout:
            return 0.0
        return (len(t) - 1) / max(t[-1] - t[0], 1e-9)

    def reset(self):
        """Forget the trains held and the counters (the connection stays)."""
        with self._lock:
            self._trains.clear()
            self.cache.clear()
            self.dropped = self.incomplete = self.received = 0
            self._times.clear()

    def wait(self, ntrains=1, timeout=30.0):
        """Block until ``ntrains`` complete trains are held.

        Parameters
        ----------
        ntrains : int
            Trains to wait for (at most ``max_trains``).
        timeout : float
            Seconds.

        Returns
        -------
        Stream
            self.

        Raises
        ------
        ToolBoxValueError
            Not enough trains in time: the message says what arrived (sources
            other than those asked for, no message at all...).
        """
        ntrains = min(int(ntrains), self.max_trains)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self._trains) >= ntrains:
                return self
            if self.error is not None:
                break
            time.sleep(0.02)
        why = self.problem or (
            f"the receiving thread failed: {self.error!r}"
            if self.error
            else (
                f"no message from {self.endpoint} (is the sender running? "
                "scs-nb live-replay serves a run)"
                if not self.received
                else f"{self.received} messages, {self.incomplete} without every field"
            )
        )
        raise ToolBoxValueError(
            f"{len(self._trains)} of {ntrains} complete trains after {timeout:g} s: {why}"
        )

    def trains(self, since=None):
        """The trains held, as ``[(train id, {name: array})]``, oldest first.

        Parameters
        ----------
        since : int, optional
            Only trains with a larger id.

        Returns
        -------
        list
            Per-train raw arrays (fields and ``frames``), copies owned by the stream.
        """
        with self._lock:
            items = list(self._trains.items())
        if since is not None:
            items = [(t, r) for t, r in items if t > since]
        return items

    def _arrays(self, last=None):
        items = self.trains()
        if last is not None:
            items = items[-int(last) :]
        tids = np.array([t for t, _ in items], np.uint64)
        out = {}
        for name in self._cands:
            if name not in self.alts:
                continue
            rows = [r[name] for _, r in items if name in r]
            if len(rows) != len(items):  # an optional field missing in some trains
                continue
            vals = np.stack(rows) if rows else np.zeros((0,))
            dims = self.alts[name].get("dim")
            extra = vals.shape[1:]
            if not dims or len(dims) != len(extra):
                dims = [f"dim_{i}" for i in range(len(extra))]
            out[name] = xr.DataArray(
                vals,
                dims=("trainId", *dims),
                coords={"trainId": tids},
                name=name,
                attrs={"source": self.alts[name]["source"], "key": self.alts[name]["key"]},
            )
        return tids, out

    def live_data(self, last=None):
        """The raw trains held, for the pulse functions (``get_xgm(stream)``...).

        Parameters
        ----------
        last : int, optional
            Only the last ``last`` trains.

        Returns
        -------
        scs_nb.pulses.source.InMemory
            The fields as ``load`` reads them (before pulse alignment), the
            alternative of each, and the stream's cache.
        """
        tids, arrays = self._arrays(last)
        ds = xr.Dataset(arrays, coords={"trainId": tids})
        return InMemory(ds, dict(self.alts), self.cache)

    def dataset(self, last=None):
        """What ``tb.load(run, fields)`` returns for the trains held.

        Parameters
        ----------
        last : int, optional
            Only the last ``last`` trains.

        Returns
        -------
        xarray.Dataset
            Variables, dimensions, coordinates and pulse alignment as ``load``
            (digitizer peaks integrated with windows found once and kept; trains
            integrated before are not integrated again). Attributes
            ``endpoint``, ``dropped``, ``rate``.

        Raises
        ------
        ToolBoxValueError
            No complete train yet (the message says why).
        """
        if self.error is not None and not self._trains:
            raise ToolBoxValueError(f"the stream from {self.endpoint} failed: {self.error!r}")
        if not self._trains and self.problem:
            raise ToolBoxValueError(self.problem)
        mem = self.live_data(last)
        resolved = {n: a for n, a in self.alts.items() if n in mem.data}
        ds = mem.data.copy()
        ds = extract_pulses(mem, ds, resolved, _ALL_BOARDS, True, True, self.bunchPattern)
        hidden = [n for n in self._optional if n not in self._asked and n in ds]
        ds = ds.drop_vars(hidden)
        ds.attrs.update(endpoint=self.endpoint, dropped=int(self.dropped), rate=self.rate)
        return ds

    def __repr__(self):
        return (
            f"<Stream {self.endpoint} {'running' if self.running else 'stopped'}: "
            f"{len(self._trains)}/{self.max_trains} trains, {self.rate:.1f} Hz, "
            f"{self.dropped} dropped{', ' + self.problem if self.problem else ''}>"
        )
