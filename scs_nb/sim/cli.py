"""``scs-nb simulate`` and ``scs-nb demo``."""

from __future__ import annotations

import argparse
import inspect
import sys
import textwrap

import yaml

from ..errors import ToolBoxValueError
from . import core
from .demo import run_demo
from .registry import get_scenario, list_scenarios


def _option(text):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    name = name.strip()
    if not name.isidentifier():
        raise argparse.ArgumentTypeError(
            f"option name {name!r} is not a name; expected NAME=VALUE"
        )
    try:
        return name, yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"cannot read the value of {name!r}: {exc}") from None


def register(sub):
    """Add the ``simulate`` and ``demo`` sub-commands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The sub-command parsers of ``scs-nb``.
    """
    p = sub.add_parser(
        "simulate",
        help="write a simulated SCS run with its ground truth",
        description="Simulate an SCS run in the EuXFEL file format, "
        "with ground_truth.json beside it.",
    )
    p.add_argument("scenario", nargs="?", help="scenario name (see --list)")
    p.add_argument("--list", action="store_true", help="print the scenario names and exit")
    p.add_argument("--proposal", type=int, default=None, help="proposal number")
    p.add_argument("--run", type=int, default=None, help="run number")
    p.add_argument("--trains", type=int, default=None, help="number of trains")
    p.add_argument("--seed", type=int, default=0, help="random seed (reproducible runs)")
    p.add_argument(
        "--size",
        choices=("small", "large"),
        default="small",
        help="default number of trains: small (tests) or large (benchmarks)",
    )
    p.add_argument(
        "--data-root",
        default=None,
        help="data root (default: $EXTRA_DATA_DATA_ROOT or ~/.cache/scs_nb/exp)",
    )
    p.add_argument(
        "--missing-trains",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="fraction of trains dropped by the DAQ",
    )
    p.add_argument(
        "--absent",
        default=None,
        metavar="SOURCE",
        help="a source (or part of its name) without data in the middle third",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing run")
    p.add_argument(
        "-o",
        "--option",
        action="append",
        type=_option,
        default=[],
        metavar="NAME=VALUE",
        help="scenario option (see --describe)",
    )
    p.add_argument(
        "--describe", action="store_true", help="print what the scenario injects and its options"
    )
    p.set_defaults(func=_simulate)

    d = sub.add_parser(
        "demo",
        help="simulate a demo proposal, run the templates headless "
        "and print recovered vs injected values",
    )
    d.add_argument("--out", default="demo", help="output folder (data root and reports)")
    d.add_argument(
        "--no-templates",
        action="store_true",
        help="only simulate and check the library, do not run templates",
    )
    d.set_defaults(func=_demo)


def _simulate(args):
    if args.list:
        print("\n".join(list_scenarios()))
        return 0
    if not args.scenario:
        raise ToolBoxValueError("give a scenario name; `scs-nb simulate --list` lists them")
    sc = get_scenario(args.scenario)
    if args.describe:
        print(f"{sc.name}: {sc.help}")
        if sc.description:
            print(textwrap.indent(sc.description, "  "))
        params = list(inspect.signature(sc.func).parameters.values())[1:]
        helps = sc.options
        print(f"  default trains: {sc.trains} (--size large: {sc.large_trains})")
        for prm in params:
            what = f"  {helps[prm.name]}" if helps.get(prm.name) else ""
            if prm.kind == prm.VAR_KEYWORD:
                print(
                    f"  -o NAME=VALUE  further options passed on to the device models "
                    f"(**{prm.name})"
                )
            elif prm.kind == prm.VAR_POSITIONAL:
                continue
            elif prm.default is inspect.Parameter.empty:
                print(f"  -o {prm.name}=VALUE  (required){what}")
            else:
                print(f"  -o {prm.name}={prm.default!r}{what}")
        print(
            "  -o extra_mnemonics=NAME,NAME,...  (any scenario: also write these "
            "mnemonics' sources; 'all' for every one)"
        )
        return 0
    if args.proposal is None or args.run is None:
        raise ToolBoxValueError(
            "--proposal and --run are required, e.g. "
            f"`scs-nb simulate {args.scenario} --proposal 900001 --run 1`"
        )
    res = core.simulate(
        args.scenario,
        args.proposal,
        args.run,
        trains=args.trains,
        seed=args.seed,
        data_root=args.data_root,
        size=args.size,
        missing_trains=args.missing_trains,
        absent=args.absent,
        overwrite=args.overwrite,
        progress=sys.stderr.isatty(),
        **dict(args.option),
    )
    print(res.run_dir)
    print(res.truth_file)
    return 0


def _demo(args):
    return run_demo(args.out, templates=not args.no_templates)
