"""Serving a stored or simulated run over the karabo bridge, for practice and tests.

``Replay`` sends the trains of a run with karabo_bridge's ``Sender`` (the server
that extra_data's ``karabo-bridge-serve-run`` uses), at a given rate, on the
loopback interface unless another address is asked for explicitly.
"""

from __future__ import annotations

import fnmatch
import threading
import time

import numpy as np

from ..errors import ToolBoxValueError
from ..reader import open_run, run_by_path

__all__ = ["Replay", "DEFAULT_ADDRESS"]

#: where a replay listens unless told otherwise: this machine only
DEFAULT_ADDRESS = "127.0.0.1"


def _drop_objects(data):
    """Arrays of Python objects (strings) cannot be serialised: left out, as
    extra_data's streamer does."""
    for d in data.values():
        for k in [
            k for k, v in d.items() if isinstance(v, np.ndarray) and v.dtype == np.dtype(object)
        ]:
            del d[k]


class Replay:
    """Serve a run train by train over the karabo bridge protocol.

    Parameters
    ----------
    run : extra_data.DataCollection, str or tuple
        An open run, a run folder, or ``(proposal, run)``.
    port : int
        TCP port; 0 picks a free one (read ``endpoint`` after ``start()``).
    address : str
        Interface to listen on; the default is the loopback (this machine only).
        ``'*'`` listens on all interfaces: only when asked for.
    rate : float
        Trains per second (0: as fast as the client asks).
    sources : str or list of str
        Glob pattern(s) of the sources sent (default all).
    loop : bool
        Start again at the first train after the last one.
    sock : str
        'REP' (clients with ``sock='REQ'``, the default), 'PUB' or 'PUSH'.
    exclude : str or list of str
        Glob pattern(s) of sources not sent (e.g. detector modules not needed).

    Attributes
    ----------
    endpoint : str
        The address clients connect to, e.g. ``'tcp://127.0.0.1:45123'``.
    sent : int
        Trains sent.

    Examples
    --------
    >>> with Replay((2212, 208), rate=10) as r:
    ...     s = Stream(r.endpoint, ['SCS_SA3'])
    """

    def __init__(
        self,
        run,
        port=0,
        address=DEFAULT_ADDRESS,
        rate=10.0,
        sources="*",
        loop=False,
        sock="REP",
        exclude=(),
    ):
        if isinstance(run, tuple):
            run = open_run(*run)
        elif isinstance(run, str):
            run = run_by_path(run)
        if not hasattr(run, "all_sources"):
            raise ToolBoxValueError(
                f"run must be an open run, a run folder or (proposal, run), got {run!r}"
            )
        rate = float(rate)
        if not (rate >= 0 and np.isfinite(rate)):
            raise ToolBoxValueError(f"rate must be >= 0 trains/s (0: no limit), got {rate!r}")
        port = int(port)
        if not 0 <= port < 65536:
            raise ToolBoxValueError(f"port must be 0 (any free port) or 1..65535, got {port}")
        pats = [sources] if isinstance(sources, str) else list(sources)
        excl = [exclude] if isinstance(exclude, str) else list(exclude)
        keep = sorted(
            s
            for s in run.all_sources
            if any(fnmatch.fnmatch(s, p) for p in pats)
            and not any(fnmatch.fnmatch(s, p) for p in excl)
        )
        if not keep:
            raise ToolBoxValueError(
                f"no source of the run matches {pats}; sources: "
                + ", ".join(sorted(run.all_sources))
            )
        self.run = run.select(keep)
        self.bind = f"tcp://{address}:{port if port else '*'}"
        self.rate = rate
        self.loop = bool(loop)
        self.sock = sock
        self.sent = 0
        self.endpoint = None
        self.error = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._sender = None

    def start(self):
        """Bind and start sending in a background thread.

        Returns
        -------
        Replay
            self, with ``endpoint`` set.
        """
        # imported here: pyzmq/msgpack are the optional `live` extra
        import zmq
        from karabo_bridge.server import Sender

        self._sender = Sender(self.bind, sock=self.sock)
        self.endpoint = self._sender.server_socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._thread = threading.Thread(target=self._run, name="scs_nb-replay", daemon=True)
        self._thread.start()
        return self

    def _run(self):
        period = 1.0 / self.rate if self.rate else 0.0
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                for _, data in self.run.trains():
                    if not data:
                        continue
                    _drop_objects(data)
                    # trains on a fixed schedule (reading a train takes part of the period);
                    # a sender that fell behind does not burst to catch up
                    due = max(due + period, time.monotonic() - period)
                    if self._stop.wait(max(0.0, due - time.monotonic())):
                        return
                    if self._sender.send(data):  # stop() woke it up
                        return
                    self.sent += 1
                if not self.loop:
                    break
        except Exception as exc:  # pragma: no cover - reported by the caller
            self.error = exc
        finally:
            self._ready.set()

    @property
    def done(self) -> bool:
        """Whether every train was sent (or the replay stopped)."""
        return self._thread is not None and not self._thread.is_alive()

    def wait(self, timeout=None):
        """Wait until every train was sent.

        Parameters
        ----------
        timeout : float, optional
            Seconds.
        """
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self):
        """Stop sending and close the socket."""
        if self._sender is None:
            return
        self._stop.set()
        try:
            self._sender.stopper_w.send(b"")
        except Exception:  # pragma: no cover - already closed
            pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sender.zmq_context.destroy(linger=0)
        self._sender = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
