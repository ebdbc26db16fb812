"""The SCS context file of DAMNIT: the standard variables (:mod:`.variables`) as
``@Variable`` functions, each a one-line call into scs_nb.

DAMNIT runs a context file with its ``context_python`` (set it to the proposal's
``scs-create-toolbox-env`` environment, which has scs_nb); a variable whose device
is absent raises DAMNIT's ``Skip`` with the reason. Scientists edit the written file
like any context file: the building blocks stay in scs_nb.
"""

from __future__ import annotations

from pathlib import Path

from .._version import __version__
from ..atomic import write_atomic
from ..errors import ToolBoxPathError
from ..facility import find_proposal, validate_proposal
from .variables import VARIABLES, DeviceAbsent

__all__ = ["context_text", "write_context", "damnit_dir", "call", "CONTEXT_NAME"]

CONTEXT_NAME = "context.py"


def call(func, run, skip):
    """``func(run)``, raising ``skip(reason)`` (DAMNIT's ``Skip``) when its device is absent.

    Parameters
    ----------
    func : callable
        A standard variable of :mod:`scs_nb.damnit.variables`.
    run : extra_data.DataCollection
    skip : type
        The exception class to raise instead of :class:`DeviceAbsent`.

    Returns
    -------
    object
        What ``func`` returns.
    """
    try:
        return func(run)
    except DeviceAbsent as exc:
        raise skip(str(exc)) from None


def context_text(proposal=None) -> str:
    """The text of the SCS context file.

    Parameters
    ----------
    proposal : int, optional
        Named in the file's header.

    Returns
    -------
    str
        Python source for DAMNIT's ``context.py``.
    """
    head = [
        f'"""SCS run table variables, written by scs-nb damnit-context (scs_nb {__version__})'
        + (f" for proposal {proposal}." if proposal else "."),
        "",
        "Each variable calls scs_nb.damnit.variables; DAMNIT's context_python must be an",
        "environment with scs_nb (scs-create-toolbox-env --damnit sets it).",
        '"""',
        "",
        "from damnit_ctx import Skip, Variable",
        "",
        "from scs_nb.damnit import variables as scs",
        "from scs_nb.damnit.context import call",
        "",
    ]
    body = []
    for v in VARIABLES:
        args = [f"title={v.title!r}"]
        if v.unit:
            args.append(f"units={v.unit!r}")
        if v.summary:
            args.append(f"summary={v.summary!r}")
        doc = (v.func.__doc__ or "").strip().splitlines()[0]
        args.append(f"description={doc!r}")
        body += [
            "",
            f"@Variable({', '.join(args)})",
            f"def {v.name}(run):",
            f"    return call(scs.{v.func.__name__}, run, Skip)",
            "",
        ]
    return "\n".join(head + body)


def damnit_dir(proposal) -> Path:
    """DAMNIT's folder of a proposal: ``<proposal>/usr/Shared/amore``.

    Parameters
    ----------
    proposal : int

    Returns
    -------
    Path
        (not created)

    Raises
    ------
    ToolBoxPathError
        The proposal is not under the data root.
    """
    return Path(find_proposal(validate_proposal(proposal))) / "usr" / "Shared" / "amore"


def write_context(proposal, out=None, overwrite=False) -> Path:
    """Write the SCS context file.

    Parameters
    ----------
    proposal : int
        The proposal.
    out : str or Path, optional
        The file (default ``context.py`` in the proposal's DAMNIT folder).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ToolBoxPathError
        The file exists and ``overwrite`` is False.
    """
    path = Path(out) if out else damnit_dir(proposal) / CONTEXT_NAME
    if path.exists() and not overwrite:
        raise ToolBoxPathError(
            f"{path} already exists (DAMNIT's context file, perhaps edited by hand); pass "
            "--overwrite to replace it, or -o FILE to write elsewhere"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, context_text(proposal))
    return path
