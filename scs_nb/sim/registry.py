"""The one registry of simulator scenarios.

A scenario is a function ``f(run: SimRun, **options)`` that adds device models
to a simulated run and records what it injected in ``run.truth``. A module of
``scs_nb.sim`` registers its scenarios with the ``@scenario`` decorator; the
registry finds them by importing every module of the package (``pkgutil``), so
adding a device simulator means adding one module file and nothing else.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ToolBoxValueError

_SCENARIOS: dict = {}

# Modules that use the scenarios instead of defining them: importing them for
# discovery would pull the whole analysis library into ``scs-nb simulate --list``.
_CONSUMERS = frozenset({"checks", "cli", "demo"})

_discovered = False


@dataclass
class Scenario:
    """A registered scenario and the metadata ``--list`` / ``--describe`` show.

    Attributes
    ----------
    name : str
        The scenario name (``scs-nb simulate NAME``).
    func : callable
        ``func(run, **options)``, the function that builds the run.
    help : str
        One paragraph saying what the scenario injects.
    trains : int
        Default number of trains (``size='small'``: tests, the demo).
    large_trains : int
        Number of trains with ``size='large'`` (benchmarks).
    """

    name: str
    func: Callable
    help: str
    trains: int
    large_trains: int


def scenario(name, help, trains=100, large_trains=2000):
    """Register the decorated function as the scenario ``name``.

    Parameters
    ----------
    name : str
        The scenario name; a second registration under the same name replaces
        the first.
    help : str
        What the scenario injects (shown by ``--list`` / ``--describe``).
    trains : int
        Default number of trains of a small run.
    large_trains : int
        Default number of trains with ``size='large'``.

    Returns
    -------
    callable
        The decorator; it returns the function, with ``help`` as its docstring
        when it has none (the help text is the one description of a scenario).
    """
    def deco(func):
        _SCENARIOS[name] = Scenario(name, func, help.strip(), trains, large_trains)
        if not func.__doc__:
            func.__doc__ = help.strip()
        return func
    return deco


def discover():
    """Import every module of ``scs_nb.sim`` once, so that all scenarios register.

    Modules in ``_CONSUMERS`` (the checks, the command line, the demo) define no
    scenario and are skipped.
    """
    global _discovered
    if _discovered:
        return
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name not in _CONSUMERS and not info.name.startswith("_"):
            importlib.import_module(f"{__package__}.{info.name}")
    _discovered = True


def list_scenarios():
    """Names of the registered scenarios.

    Returns
    -------
    list of str
        The names, sorted.
    """
    discover()
    return sorted(_SCENARIOS)


def get_scenario(name) -> Scenario:
    """The registered scenario ``name``.

    Parameters
    ----------
    name : str
        A scenario name (see ``list_scenarios()``).

    Returns
    -------
    Scenario

    Raises
    ------
    ToolBoxValueError
        If no scenario has this name; the message lists the available ones.
    """
    discover()
    try:
        return _SCENARIOS[name]
    except KeyError:
        raise ToolBoxValueError(
            f"unknown scenario {name!r}; available: {', '.join(sorted(_SCENARIOS))}. "
            "Pass one of these (see `scs-nb simulate --list`).") from None
