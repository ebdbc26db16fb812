"""The run table of a proposal: one row per run, from what is on disk.

A row holds the run's metadata (folder, files, size, time), the status of each
template the watcher ran (pending / running / submitted / done / failed) with the link
to its report, each recorded result (``<template>.<name>`` with ``_error`` and the
unit in :func:`units`), and, where the proposal has a DAMNIT database and DAMNIT is
installed, its variables. Without DAMNIT the records alone make the table.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

from ..atomic import write_atomic
from ..damnit.context import damnit_dir
from ..damnit.submit import column_name, have_damnit
from ..errors import ToolBoxPathError
from ..facility import find_proposal, processed_dir, validate_proposal
from ..results import RESULTS_SUFFIX, read_results
from .watch import read_watch_state

__all__ = ["run_rows", "run_table", "units", "write_table", "damnit_table"]


def _run_meta(run_dir: Path) -> dict:
    files = [e for e in os.scandir(run_dir) if e.is_file()] if run_dir.is_dir() else []
    stats = [f.stat() for f in files]
    return {
        "run": int(run_dir.name[1:]),
        "files": len(files),
        "size_MB": round(sum(s.st_size for s in stats) / 1e6, 3),
        "written": time.strftime(
            "%Y-%m-%d %H:%M:%S", time.localtime(max(s.st_mtime for s in stats))
        )
        if stats
        else "",
    }


def damnit_table(proposal):
    """DAMNIT's table of the proposal (``damnit.Damnit(folder).table()``), or None when
    DAMNIT is not installed or the proposal has no database.

    Parameters
    ----------
    proposal : int

    Returns
    -------
    pandas.DataFrame or None
    """
    if not have_damnit():
        return None
    folder = damnit_dir(proposal)
    if not (folder / "runs.sqlite").is_file():
        return None
    import damnit  # optional dependency, present (have_damnit)

    return damnit.Damnit(folder).table()


def _template_results(proposal) -> dict:
    """``{run: {template: [records]}}`` of every results file under processed_runs."""
    out: dict = {}
    base = processed_dir(proposal)
    if not base.is_dir():
        return out
    for f in sorted(base.rglob(f"*{RESULTS_SUFFIX}")):
        if ".failed" in f.name:
            continue
        try:
            recs = read_results(f)
        except Exception:  # a file being written or broken: the next refresh reads it
            continue
        for r in recs:
            if r.get("template") and isinstance(r.get("run"), int):
                out.setdefault(r["run"], {}).setdefault(r["template"], []).append(r)
    return out


_UNITS: dict = {}


def units(proposal=None) -> dict:
    """``{column: unit}`` of the result columns of the last table built."""
    return dict(_UNITS)


def run_rows(proposal, with_damnit=True) -> list:
    """The rows of the run table, oldest run first.

    Parameters
    ----------
    proposal : int
        The proposal.
    with_damnit : bool
        Add DAMNIT's variables where a database exists.

    Returns
    -------
    list of dict
        One dict per run: ``run, files, size_MB, written``, ``<template>.status``,
        ``<template>.report``, ``<template>.<name>`` and ``<template>.<name>_error``,
        DAMNIT's columns.

    Raises
    ------
    ToolBoxPathError
        The proposal is not under the data root.
    """
    proposal = validate_proposal(proposal)
    folder = Path(find_proposal(proposal))
    raw = folder / "raw"
    runs = {}
    if raw.is_dir():
        for d in sorted(raw.iterdir()):
            if d.is_dir() and len(d.name) == 5 and d.name[0] == "r" and d.name[1:].isdigit():
                runs[int(d.name[1:])] = _run_meta(d)
    state = read_watch_state(proposal)["runs"]
    results = _template_results(proposal)
    _UNITS.clear()
    for run in sorted(set(runs) | {int(r) for r in state} | set(results)):
        row = runs.setdefault(run, {"run": run, "files": 0, "size_MB": 0.0, "written": ""})
        for template, entry in state.get(str(run), {}).items():
            row[f"{template}.status"] = entry.get("status", "")
            if entry.get("html"):
                row[f"{template}.report"] = entry["html"]
            if entry.get("status") == "failed":
                row[f"{template}.message"] = entry.get("message", "")
        for template, recs in results.get(run, {}).items():
            row.setdefault(f"{template}.status", "done")
            if f"{template}.report" not in row and recs:
                rep = Path(recs[0]["file"]).with_name(
                    Path(recs[0]["file"]).name.replace(RESULTS_SUFFIX, ".html")
                )
                if rep.is_file():
                    row[f"{template}.report"] = str(rep)
            for r in recs:
                col = column_name(template, r["name"])
                value = r.get("value")
                row[col] = value if not isinstance(value, (dict, list)) else str(value)
                if r.get("error") is not None:
                    row[col + "_error"] = r["error"]
                if r.get("unit"):
                    _UNITS[col] = _UNITS[col + "_error"] = r["unit"]
    if with_damnit:
        df = damnit_table(proposal)
        if df is not None:
            for rec in df.to_dict("records"):
                row = runs.get(int(rec["run"]))
                if row is None:
                    continue
                for k, v in rec.items():
                    if k in ("proposal", "run") or k in row:
                        continue
                    row[k] = None if v is None or (isinstance(v, float) and v != v) else v
    return [runs[r] for r in sorted(runs)]


def run_table(proposal, with_damnit=True):
    """The run table as a pandas DataFrame (index: run).

    Parameters
    ----------
    proposal : int
    with_damnit : bool
        Add DAMNIT's variables where a database exists.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd  # xarray's dependency; only the table needs it

    rows = run_rows(proposal, with_damnit)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=["files", "size_MB", "written"]).rename_axis("run")
    return df.set_index("run")


def _cell(col, value, unit) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    if col.endswith(".report"):
        return f'<a href="file://{html.escape(text)}">report</a>'
    if col.endswith(".status"):
        return f'<span class="status-{html.escape(text)}">{html.escape(text)}</span>'
    return html.escape(text)


def write_table(proposal, html_path=None, csv_path=None, with_damnit=True):
    """Write the run table as HTML (report links) and/or CSV.

    Parameters
    ----------
    proposal : int
    html_path, csv_path : str or Path, optional
        Files to write (atomically).
    with_damnit : bool
        Add DAMNIT's variables where a database exists.

    Returns
    -------
    pandas.DataFrame
        The table written.

    Raises
    ------
    ToolBoxPathError
        The proposal is not under the data root.
    """
    df = run_table(proposal, with_damnit)
    u = units()
    if csv_path:
        write_atomic(csv_path, df.to_csv())
    if html_path:
        head = "".join(
            f"<th>{html.escape(c)}" + (f" ({html.escape(u[c])})" if c in u else "") + "</th>"
            for c in ["run", *df.columns]
        )
        body = "".join(
            "<tr>"
            + f"<td>{run}</td>"
            + "".join(f"<td>{_cell(c, row[c], u.get(c))}</td>" for c in df.columns)
            + "</tr>"
            for run, row in df.iterrows()
        )
        doc = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>run table p{proposal}"
            "</title><style>td,th{padding:2px 6px;border-bottom:1px solid #ddd}"
            ".status-failed{color:#b00}.status-done{color:#070}</style></head><body>"
            f"<h1>Run table, proposal {proposal}</h1><table><tr>{head}</tr>{body}</table>"
            "</body></html>"
        )
        write_atomic(html_path, doc)
    if not html_path and not csv_path:
        raise ToolBoxPathError("pass --html FILE and/or --csv FILE (or use run_table())")
    return df
