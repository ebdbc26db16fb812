"""``scs-nb damnit-context``, ``scs-nb watch`` and ``scs-nb table``: the commands of a beamtime."""

from __future__ import annotations

import sys

from ..batch.params import parse_assignments
from ..damnit.context import write_context
from ..errors import ToolBoxValueError
from ..parallel.slurm_options import add_slurm_arguments, slurm_values
from .table import run_table, write_table
from .watch import Watcher

__all__ = ["register"]


def register(sub):
    """Add ``damnit-context``, ``watch`` and ``table`` to ``scs-nb``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The sub-command parsers of ``scs-nb``.
    """
    p = sub.add_parser(
        "damnit-context",
        help="write DAMNIT's SCS context file (standard SCS variables computed by scs_nb)",
        description="Write a DAMNIT context file whose variables call scs_nb: trains, "
        "duration, scan, XGM, photon energy, delay, MCP, transmission, DSSC, hRIXS, Viking.",
    )
    p.add_argument("--proposal", type=int, required=True, help="proposal number")
    p.add_argument(
        "-o", "--out", help="file to write (default <proposal>/usr/Shared/amore/context.py)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_damnit_context)

    p = sub.add_parser(
        "watch",
        help="process every new complete run of a proposal with templates",
        description="Poll the proposal's raw/ folder; each run whose files are unchanged "
        "for --settle seconds is processed once by each --template (locally, or as SLURM "
        "jobs with --slurm); state in <proposal>/usr/processed_runs/watch.json.",
    )
    p.add_argument("--proposal", type=int, required=True, help="proposal number")
    p.add_argument(
        "--template", "-t", action="append", required=True, help="template (repeatable)"
    )
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="parameter for the templates (TEMPLATE:NAME=VALUE for one template)",
    )
    p.add_argument("--jobs", "-j", type=int, default=1, help="templates run at once (local)")
    p.add_argument("--slurm", action="store_true", help="submit SLURM jobs instead")
    p.add_argument("--damnit", action="store_true", help="push results into DAMNIT's table")
    p.add_argument("--once", action="store_true", help="process what is new and exit (cron)")
    p.add_argument(
        "--settle", type=float, default=10.0, help="seconds a run's files must be unchanged"
    )
    p.add_argument("--interval", type=float, default=5.0, help="seconds between polls")
    p.add_argument("--from-run", type=int, default=1, help="runs below it are left alone")
    p.add_argument("--retry-failed", action="store_true", help="run failed templates again first")
    p.add_argument("--kernel", help="Jupyter kernel (default: the proposal's, else python3)")
    add_slurm_arguments(p.add_argument_group("SLURM options (with --slurm)"))
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser(
        "table",
        help="the run table of a proposal: template results, status, reports, DAMNIT",
        description="Write the run table (one row per run) as HTML and/or CSV; printed "
        "without --html/--csv.",
    )
    p.add_argument("proposal", type=int, help="proposal number")
    p.add_argument("--html", help="HTML file (with report links)")
    p.add_argument("--csv", help="CSV file")
    p.add_argument("--no-damnit", action="store_true", help="leave DAMNIT's variables out")
    p.set_defaults(func=cmd_table)


def cmd_damnit_context(args) -> int:
    path = write_context(args.proposal, args.out, overwrite=args.overwrite)
    print(path)
    return 0


def _split_params(items, templates) -> dict:
    common, per = {}, {}
    for item in items:
        head, _, rest = item.partition("=")
        if ":" in head:
            t, _, name = head.partition(":")
            if t not in templates:
                raise ToolBoxValueError(
                    f"-p {item}: {t!r} is not one of the --template names {templates}"
                )
            per.setdefault(t, []).append(f"{name}={rest}")
        else:
            common.setdefault("", []).append(item)
    base = parse_assignments(common.get("", []))
    return {t: {**base, **parse_assignments(per.get(t, []))} for t in templates}


def cmd_watch(args) -> int:
    params = _split_params(args.param, args.template)
    w = Watcher(
        args.proposal,
        args.template,
        parameters=params,
        jobs=args.jobs,
        slurm=slurm_values(args) if args.slurm else None,
        damnit=args.damnit,
        settle=args.settle,
        interval=args.interval,
        first_run=args.from_run,
        kernel=args.kernel,
    )
    if args.retry_failed:
        print(f"scs-nb watch: {w.retry_failed()} failed execution(s) to retry", file=sys.stderr)
    w.run(once=args.once)
    failed = [
        (r, t)
        for r, per in w.state["runs"].items()
        for t, e in per.items()
        if e.get("status") == "failed"
    ]
    return 1 if (args.once and failed) else 0


def cmd_table(args) -> int:
    if args.html or args.csv:
        df = write_table(args.proposal, args.html, args.csv, with_damnit=not args.no_damnit)
        print(f"{len(df)} run(s): " + " ".join(p for p in (args.html, args.csv) if p))
    else:
        df = run_table(args.proposal, with_damnit=not args.no_damnit)
        print(df.to_string() if len(df) else f"proposal {args.proposal}: no runs")
    return 0
