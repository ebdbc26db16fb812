"""The runs a template reads, checked to exist before a kernel starts.

Parameters named ``run``, ``runs``, ``*_run`` (an int) or ``*_runs`` (a list of
ints), and the ToolBox's ``darkrun`` (the BOZ notebooks), are run numbers of the
template's ``proposal``. A run number 0 or None
means "no such run" (``dark_run=0``: no dark subtraction) and is not checked.
"""

from __future__ import annotations

from ..errors import ToolBoxPathError
from ..facility import find_proposal, run_ranges
from ..reader.discovery import available_runs

__all__ = ["is_run_parameter", "run_parameters", "check_runs_exist"]

#: run parameters named as in the ToolBox notebooks, without the ``_run`` suffix
LEGACY_RUN_PARAMETERS = ("darkrun",)


def is_run_parameter(name: str) -> bool:
    """Whether a parameter name holds run numbers (``run``, ``runs``, ``*_run``, ``*_runs``,
    ``darkrun``).

    Parameters
    ----------
    name : str
        A template parameter name.

    Returns
    -------
    bool
    """
    return name in ("run", "runs", *LEGACY_RUN_PARAMETERS) or name.endswith(("_run", "_runs"))


def _numbers(value) -> list:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value] if value else []
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool) and v]
    return []


def run_parameters(values: dict) -> dict:
    """The run numbers given to a template, by parameter.

    Parameters
    ----------
    values : dict
        Validated parameters.

    Returns
    -------
    dict
        ``{name: [run, ...]}`` for each run parameter with at least one run (0 and
        None left out); ``run`` first.
    """
    out = {}
    for name in sorted(values, key=lambda n: (n != "run", n)):
        if is_run_parameter(name):
            runs = _numbers(values[name])
            if runs:
                out[name] = runs
    return out


def check_runs_exist(values: dict, template: str = "template"):
    """Refuse a template whose run parameters name runs that do not exist.

    Parameters
    ----------
    values : dict
        Validated parameters; ``proposal`` says where the runs are (without it
        nothing is checked).
    template : str
        The template's name, for the message.

    Raises
    ------
    ToolBoxPathError
        The proposal is not found, or a run is missing: the message names what
        was asked, the runs that exist and what to pass.
    """
    proposal = values.get("proposal")
    wanted = run_parameters(values)
    if not wanted or not isinstance(proposal, int) or isinstance(proposal, bool):
        return
    try:
        folder = find_proposal(proposal)
    except ToolBoxPathError as exc:
        raise ToolBoxPathError(
            f"{template}: {exc} (asked for "
            + ", ".join(f"{k}={v if len(v) > 1 else v[0]}" for k, v in wanted.items())
            + ")"
        ) from None
    existing = set(available_runs(proposal))
    missing = [(k, r) for k, runs in wanted.items() for r in runs if r not in existing]
    if missing:
        have = run_ranges(sorted(existing)) if existing else "none"
        raise ToolBoxPathError(
            f"{template}: "
            + ", ".join(f"{k}={r}" for k, r in missing)
            + f" not found in proposal {proposal} ({folder}/raw); runs that exist: {have}. "
            "Pass existing run numbers (-p NAME=RUN; 0 = none where a companion run is "
            "optional), or `scs-nb run TEMPLATE --simulate` to simulate missing runs of a "
            "simulated proposal."
        )
