"""``scs-nb find-proposal N``: print a proposal's folder (the ToolBox's
``findxfel``), found under extra_data's data root ($EXTRA_DATA_DATA_ROOT)."""

from __future__ import annotations

from .reader import find_proposal


def _find_proposal(args) -> int:
    """Print the proposal's folder; exit status 0."""
    print(find_proposal(args.proposal))
    return 0


def register(subparsers):
    """Add ``find-proposal`` to the ``scs-nb`` sub-commands."""
    p = subparsers.add_parser(
        "find-proposal",
        help="print the folder of a proposal (as findxfel)",
        description="Print the folder of a proposal, <data root>/<instrument>/<cycle>/"
        "p<proposal>, searched under $EXTRA_DATA_DATA_ROOT (default: "
        "/gpfs/exfel/exp where it exists, else ~/.cache/scs_nb/exp).",
    )
    p.add_argument("proposal", help="proposal number, e.g. 2252 or p002252")
    p.set_defaults(func=_find_proposal)
