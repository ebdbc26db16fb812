"""The ``scs-nb`` command line.

Each area of the package contributes its sub-commands through a module with a
``register(subparsers)`` function that adds parsers and sets ``func`` on them;
``func(args)`` returns the process exit code.
"""

import argparse
import importlib
import sys

from .batch.params import parse_assignments
from .batch.profiles import PROFILES as SUBMIT_PROFILES
from .errors import ToolBoxError
from .sim.inputs import simulate_inputs

# modules that add sub-commands; each owns its own commands
COMMAND_MODULES = (
    "scs_nb.sim.cli",  # simulate, demo
    "scs_nb.load_cli",  # find-proposal
    "scs_nb.batch.cli",  # templates, run, batch, submit
    "scs_nb.live.cli",  # live-replay
)

# ``scs-nb submit NAME ...`` with named options of its own (the seed's job scripts)
# are the profiles of scs_nb.batch.profiles; each module has ``build_parser(prog)``.
# Other names go to the generic ``scs-nb submit TEMPLATE -p NAME=VALUE``.


def build_parser():
    """The ``scs-nb`` parser with the sub-commands of every module of ``COMMAND_MODULES``.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="scs-nb",
        description="SCS notebook toolkit: simulate runs, run templates headless, batch "
        "and SLURM.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an area not installed in this checkout
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv=None):
    """Run ``scs-nb``; ``scs-nb submit NAME`` of a profile (``scs_nb.batch.profiles``)
    takes that profile's own options.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0, 1 from the command, 2 for a ToolBoxError (printed), 130
        when interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "submit" and argv[1] in SUBMIT_PROFILES:
        module = importlib.import_module(SUBMIT_PROFILES[argv[1]])
        parser = module.build_parser(prog=f"scs-nb submit {argv[1]}")
        argv = argv[2:]
    else:
        parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        if getattr(args, "simulate", False) and getattr(args, "template", None):
            # simulation only when asked, before the run checks of the command
            simulate_inputs(
                args.template,
                parse_assignments(args.param),
                args.param_file,
                progress=lambda line: print(f"scs-nb: {line}", file=sys.stderr),
            )
        return int(args.func(args) or 0)
    except ToolBoxError as exc:
        print(f"scs-nb: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scs-nb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
