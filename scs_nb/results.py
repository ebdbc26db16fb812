"""Recorded results: what a template found, as data the run table and the demo read.

A template records its key results with one call, ``tb.record('t0', value,
error=err, unit='ps')``. Under ``scs-nb run``/``batch`` the runner tells the kernel
where to write (environment variables :data:`RESULTS_ENV` and :data:`CONTEXT_ENV`),
and each record is appended atomically to ``<template>_rNNNN.results.json`` beside
the executed notebook; the runner also copies the records into the notebook's
metadata. Interactively, records are kept in memory (:func:`results`).

A record is a dict: ``name, value, error, unit, run, proposal, template,
parameters, version`` plus any extra keywords given to :func:`record`.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from ._version import __version__
from .atomic import json_default, write_atomic
from .errors import ToolBoxPathError, ToolBoxValueError

__all__ = [
    "RESULTS_ENV",
    "CONTEXT_ENV",
    "RESULTS_SUFFIX",
    "record",
    "results",
    "clear_results",
    "read_results",
]

#: path of the results file the runner gives the kernel
RESULTS_ENV = "SCS_NB_RESULTS_FILE"
#: JSON of ``{template, parameters, proposal, run}`` the runner gives the kernel
CONTEXT_ENV = "SCS_NB_RESULTS_CONTEXT"
RESULTS_SUFFIX = ".results.json"

_MEMORY: list = []
_LOCK = threading.Lock()


def _context() -> dict:
    try:
        ctx = json.loads(os.environ.get(CONTEXT_ENV, "") or "{}")
    except ValueError:
        ctx = {}
    return ctx if isinstance(ctx, dict) else {}


def _plain(value):
    """A JSON-ready copy of ``value`` (numpy scalars and arrays, xarray values)."""
    if hasattr(value, "values") and not isinstance(value, dict):  # xarray / pandas
        value = value.values
    return json.loads(json.dumps(value, default=json_default))


def record(name, value, error=None, unit=None, **extra):
    """Record one result of the analysis.

    Parameters
    ----------
    name : str
        What it is (``'t0'``, ``'w0'``, ...): the column of the run table.
    value : float, int, str or array-like
        The result (arrays are stored as lists).
    error : float or array-like, optional
        Its standard error, same unit.
    unit : str, optional
        The unit of ``value`` and ``error`` (``'ps'``, ``'um'``, ``'eV'``).
    **extra
        More JSON-ready fields (``label='beam radius (1/e^2)'``, ``run=...`` for a
        result of a companion run).

    Returns
    -------
    None
        The record is appended to the results file (under the runner) or kept in
        memory (see :func:`results`).

    Raises
    ------
    ToolBoxValueError
        ``name`` is not a non-empty string.
    """
    if not isinstance(name, str) or not name.strip():
        raise ToolBoxValueError(
            f"record name must be a non-empty string, got {name!r}; pass e.g. "
            "tb.record('t0', value, error=err, unit='ps')"
        )
    ctx = _context()
    rec = {
        "name": name,
        "value": _plain(value),
        "error": _plain(error),
        "unit": unit,
        "run": ctx.get("run"),
        "proposal": ctx.get("proposal"),
        "template": ctx.get("template"),
        "parameters": ctx.get("parameters", {}),
        "version": __version__,
    }
    rec.update({k: _plain(v) for k, v in extra.items()})
    path = os.environ.get(RESULTS_ENV)
    with _LOCK:
        _MEMORY.append(rec)
        if path:
            existing = _read_file(Path(path)) if os.path.exists(path) else []
            write_atomic(path, json.dumps(existing + [rec], indent=1, default=json_default))


def results() -> list:
    """The records made in this process (a copy), oldest first.

    Returns
    -------
    list of dict
    """
    with _LOCK:
        return [dict(r) for r in _MEMORY]


def clear_results():
    """Forget the records kept in memory (the results file is not touched)."""
    with _LOCK:
        _MEMORY.clear()


def _read_file(path: Path) -> list:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except ValueError as exc:
        raise ToolBoxValueError(f"{path} is not a results file (invalid JSON: {exc})") from exc
    if not isinstance(data, list):
        raise ToolBoxValueError(f"{path} is not a results file (a JSON list of records)")
    return data


def read_results(path_or_folder) -> list:
    """The records of a results file, or of every ``*.results.json`` under a folder.

    Parameters
    ----------
    path_or_folder : str or pathlib.Path
        A ``<template>_rNNNN.results.json`` file or a folder searched recursively.

    Returns
    -------
    list of dict
        The records, file by file in sorted path order; each has ``file`` added.

    Raises
    ------
    ToolBoxPathError
        The path does not exist.
    ToolBoxValueError
        A file is not a results file.
    """
    p = Path(path_or_folder)
    if not p.exists():
        raise ToolBoxPathError(
            f"{p} does not exist; pass a {RESULTS_SUFFIX} file or a folder of reports"
        )
    files = [p] if p.is_file() else sorted(p.rglob(f"*{RESULTS_SUFFIX}"))
    out = []
    for f in files:
        out.extend(dict(r, file=str(f)) for r in _read_file(f))
    return out
