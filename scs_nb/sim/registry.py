"""The one registry of simulator scenarios.

A scenario is a function ``f(run: SimRun, **options)`` that adds device models
to a simulated run and records what it injected in ``run.truth``. A module of
``scs_nb.sim`` registers its scenarios with the ``@scenario`` decorator; the
registry finds them by importing every module of the package (``pkgutil``), so
adding a device simulator means adding one module file and nothing else.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolBoxValueError

_SCENARIOS: dict = {}

# Modules that use the scenarios instead of defining them: importing them for
# discovery would pull the whole analysis library into ``scs-nb simulate --list``.
_CONSUMERS = frozenset({"checks", "cli", "demo"})

_discovered = False


# numpydoc section headers: a scenario's extended description ends at the first of them
_SECTIONS = (
    "Parameters",
    "Returns",
    "Yields",
    "Raises",
    "Warns",
    "Other Parameters",
    "See Also",
    "Notes",
    "References",
    "Examples",
    "Attributes",
    "Methods",
)


def _paragraphs(doc):
    """Split a cleaned docstring into the summary and the extended description.

    Parameters
    ----------
    doc : str
        A docstring, dedented (``inspect.getdoc``).

    Returns
    -------
    summary : str
        The first paragraph joined into one line ('' for an empty docstring).
    description : str
        The text between the summary and the first numpydoc section (stripped).
    """
    lines = (doc or "").strip().splitlines()
    i = 0
    while i < len(lines) and lines[i].strip():
        i += 1
    summary = " ".join(ln.strip() for ln in lines[:i])
    rest = lines[i:]
    for j, ln in enumerate(rest[:-1]):
        if ln.strip() in _SECTIONS and set(rest[j + 1].strip()) == {"-"}:
            rest = rest[:j]
            break
    return summary, "\n".join(rest).strip()


def _parameter_help(doc):
    """The descriptions of the ``Parameters`` section of a numpydoc docstring.

    Parameters
    ----------
    doc : str
        A docstring, dedented (``inspect.getdoc``).

    Returns
    -------
    dict
        Parameter name -> its description joined into one line.
    """
    lines = (doc or "").splitlines()
    out, name, inside = {}, None, False
    for j, ln in enumerate(lines):
        nxt = lines[j + 1].strip() if j + 1 < len(lines) else ""
        if ln.strip() in _SECTIONS and nxt and set(nxt) == {"-"}:
            inside, name = ln.strip() == "Parameters", None
            continue
        if not inside or (ln.strip() and set(ln.strip()) == {"-"}):
            continue
        if ln and not ln[0].isspace():
            # 'start, stop : float' documents two parameters at once
            name = [n.strip().lstrip("*") for n in ln.split(":")[0].split(",")]
            out.update(dict.fromkeys(name, ""))
        elif name and ln.strip():
            for n in name:
                out[n] = f"{out[n]} {ln.strip()}".strip()
    return out


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
        One line saying what the scenario injects: the ``help=`` given to
        ``scenario``, else the first line of the function's docstring.
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

    @property
    def description(self) -> str:
        """The extended description of the scenario's docstring.

        Returns
        -------
        str
            The paragraphs after the summary line, up to the first numpydoc
            section ('' when there are none).
        """
        return _paragraphs(inspect.getdoc(self.func))[1]

    @property
    def options(self) -> dict:
        """What each ``-o`` option does, from the docstring's ``Parameters``.

        Returns
        -------
        dict
            Option name -> one-line description (options the docstring does
            not describe are absent).
        """
        return _parameter_help(inspect.getdoc(self.func))


def scenario(name, help=None, trains=100, large_trains=2000):
    """Register the decorated function as the scenario ``name``.

    The function's numpydoc docstring is the description of the scenario: its
    first line is the one-line help of ``scs-nb simulate --describe``, its
    extended description and ``Parameters`` (the ``-o`` options) are printed
    below it.

    Parameters
    ----------
    name : str
        The scenario name; a second registration under the same name replaces
        the first.
    help : str, optional
        One line saying what the scenario injects; default: the first line of
        the function's docstring.
    trains : int
        Default number of trains of a small run.
    large_trains : int
        Default number of trains with ``size='large'``.

    Returns
    -------
    callable
        The decorator; it returns the function, with ``help`` as its docstring
        when it has none.

    Raises
    ------
    TypeError
        If the function has no docstring and no ``help`` is given.
    """

    def deco(func):
        text = (help or _paragraphs(inspect.getdoc(func))[0]).strip()
        if not text:
            raise TypeError(
                f"scenario {name!r}: give {func.__qualname__} a docstring "
                "(its first line is the scenario's help) or pass help="
            )
        _SCENARIOS[name] = Scenario(name, func, text, trains, large_trains)
        if not func.__doc__:
            func.__doc__ = text
        return func

    return deco


def discover():
    """Import every module of ``scs_nb.sim`` once, so that all scenarios register.

    Modules in ``_CONSUMERS`` (the checks, the command line, the demo) define no
    scenario and are skipped. Later calls return at once.

    Returns
    -------
    None
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
            "Pass one of these (see `scs-nb simulate --list`)."
        ) from None
