"""``scs-nb live-replay``: serve a run over the karabo bridge for practice."""

from __future__ import annotations

import time

from ..errors import ToolBoxValueError
from .replay import DEFAULT_ADDRESS, Replay


def register(subparsers):
    """Add ``live-replay`` to the ``scs-nb`` sub-commands."""
    p = subparsers.add_parser(
        "live-replay",
        help="serve a stored or simulated run over the karabo bridge (practice the live view)",
        description="Serve the trains of a run over the karabo bridge protocol (ZeroMQ + "
        "msgpack), as a facility bridge does during a run. Connect a live view to the "
        f"endpoint printed. Listens on {DEFAULT_ADDRESS} (this machine only) unless "
        "--address is given.",
    )
    p.add_argument("proposal", help="proposal number, e.g. 2212")
    p.add_argument("run", type=int, help="run number")
    p.add_argument("--rate", type=float, default=10.0, help="trains per second (0: no limit)")
    p.add_argument("--port", type=int, default=45000, help="TCP port (0: any free port)")
    p.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        help=f"interface to listen on (default {DEFAULT_ADDRESS}; '*' = all interfaces, "
        "reachable from other machines)",
    )
    p.add_argument("--sources", default="*", help="glob of the sources sent (default all)")
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        help="glob of sources not sent (repeatable), e.g. DSSC modules not looked at",
    )
    p.add_argument("--loop", action="store_true", help="start again after the last train")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.set_defaults(func=_replay)


def _replay(args):
    if args.duration is not None and not args.duration > 0:
        raise ToolBoxValueError(f"--duration must be > 0 seconds, got {args.duration}")
    r = Replay(
        (args.proposal, args.run),
        port=args.port,
        address=args.address,
        rate=args.rate,
        sources=args.sources,
        loop=args.loop,
        exclude=args.exclude,
    ).start()
    print(f"serving run {args.run} of proposal {args.proposal} on {r.endpoint}", flush=True)
    print(f"connect with: scs_nb.widgets.LiveView({r.endpoint!r})", flush=True)
    end = time.monotonic() + args.duration if args.duration else None
    try:
        while not r.done and (end is None or time.monotonic() < end):
            time.sleep(0.2)
    finally:
        r.stop()
    print(f"sent {r.sent} trains", flush=True)
    return 0
