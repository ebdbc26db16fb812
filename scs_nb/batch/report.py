"""What a report says about itself: its title, a header block and the simulated-data banner.

Every executed template gets, before its first section, a header cell: the
template, proposal, the runs it read (the main run and its companion runs),
every parameter (defaults marked), the scs_nb version, kernel, date and data
root; and a banner when any run it read was written by scs_nb's simulator.
The HTML title is ``<template> — p<proposal> r<run>``. After the last cell, a
table of the results the template recorded (``tb.record``): what the run table
and the demo read, shown to the reader too.
"""

from __future__ import annotations

import html
import json
import time

from .._version import __version__
from ..facility import data_root, is_simulated_run
from .inputs import run_parameters

__all__ = [
    "report_title",
    "header_html",
    "simulated_runs",
    "results_html",
    "add_header",
    "collapse_streams",
]

#: tag of the header cell (so that it is never added twice)
HEADER_TAG = "scs-nb-header"
#: tag of the recorded-results cell
RESULTS_TAG = "scs-nb-results"
#: values of a list shown in the results table before it is cut
_LIST_SHOWN = 8


def report_title(template: str, values: dict) -> str:
    """``<template> — p<proposal> r<run>`` (the parts that exist).

    Parameters
    ----------
    template : str
        The template's name.
    values : dict
        Its parameters.

    Returns
    -------
    str
    """
    parts = [template]
    prop, runs = values.get("proposal"), run_parameters(values)
    where = []
    if isinstance(prop, int) and not isinstance(prop, bool):
        where.append(f"p{prop}")
    main = runs.get("run") or runs.get("runs")
    if main:
        where.append("r" + ",".join(str(r) for r in main[:6]) + ("…" if len(main) > 6 else ""))
    return " — ".join([*parts, " ".join(where)]) if where else template


def simulated_runs(values: dict) -> list:
    """The run numbers among the parameters that scs_nb's simulator wrote.

    Parameters
    ----------
    values : dict
        A template's parameters (``proposal`` and the run parameters).

    Returns
    -------
    list of tuple
        ``(parameter, run)`` for each simulated input run.
    """
    prop = values.get("proposal")
    if not isinstance(prop, int) or isinstance(prop, bool):
        return []
    return [
        (name, r)
        for name, runs in run_parameters(values).items()
        for r in runs
        if is_simulated_run(prop, r)
    ]


def _fmt(value) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return html.escape(text if len(text) <= 120 else text[:117] + "...")


def header_html(template, values, spec=None, kernel="", when=None) -> str:
    """The header block (and banner) of a report as HTML.

    Parameters
    ----------
    template : str
        The template's name.
    values : dict
        Its parameters.
    spec : dict, optional
        The template's parameter specs (``name -> Parameter``): a value equal to
        the template's default is marked ``(default)``.
    kernel : str
        The Jupyter kernel that executed it.
    when : str, optional
        Date and time of the execution (default now).

    Returns
    -------
    str
    """
    spec = spec or {}
    when = when or time.strftime("%Y-%m-%d %H:%M:%S %Z")
    runs = run_parameters(values)
    sim = simulated_runs(values)
    out = []
    if sim:
        listed = ", ".join(f"{name}={r}" for name, r in sim)
        out.append(
            '<div style="background:#fff3cd;border:2px solid #d39e00;padding:8px 12px;'
            'margin:4px 0 10px 0;font-weight:bold;color:#5c4400">'
            f"SIMULATED DATA: {html.escape(listed)} of proposal {values.get('proposal')} "
            "were written by scs_nb's simulator (ground truth in "
            "usr/simulation/rNNNN/ground_truth.json), not measured at the instrument.</div>"
        )
    run_text = "; ".join(
        f"{html.escape(k)} = {', '.join(str(r) for r in v)}" for k, v in runs.items()
    )
    rows = [
        ("template", html.escape(template)),
        ("proposal", html.escape(str(values.get("proposal", "-")))),
        ("runs", run_text or "-"),
        ("scs_nb", html.escape(__version__)),
        ("kernel", html.escape(kernel or "-")),
        ("date", html.escape(when)),
        ("data root", html.escape(str(data_root()))),
    ]
    params = []
    for name, value in values.items():
        p = spec.get(name)
        default = p is not None and not getattr(p, "required", False) and p.default == value
        params.append(
            f"<tr><td><code>{html.escape(name)}</code></td><td><code>{_fmt(value)}</code>"
            f"{' <i>(default)</i>' if default else ''}</td></tr>"
        )
    cell = 'style="text-align:left;padding:1px 10px 1px 0;vertical-align:top"'
    out.append(
        '<table style="font-size:90%;border-collapse:collapse;margin:0">'
        + "".join(f"<tr><th {cell}>{k}</th><td {cell}>{v}</td></tr>" for k, v in rows)
        + f"<tr><th {cell}>parameters</th><td {cell}>"
        '<table style="border-collapse:collapse;margin:0">'
        + "".join(params)
        + "</table></td></tr></table>"
    )
    return "\n".join(out)


def _num(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        shown = ", ".join(_num(v) for v in value[:_LIST_SHOWN])
        more = f", … ({len(value)} values)" if len(value) > _LIST_SHOWN else ""
        return f"[{shown}{more}]"
    return str(value)


def results_html(records) -> str:
    """The recorded results of a report as an HTML table.

    Parameters
    ----------
    records : list of dict
        Records as written by :func:`scs_nb.results.record` (``name``, ``value``,
        ``error``, ``unit``, ``run`` and optional ``label``).

    Returns
    -------
    str
        A heading and a table (name, value, error, unit, run, description);
        lists longer than 8 values are cut and their length is given. Empty
        when there are no records.
    """
    if not records:
        return ""
    cell = 'style="text-align:left;padding:2px 12px 2px 0;vertical-align:top"'
    head = ("result", "value", "error", "unit", "run", "description")
    rows = []
    for r in records:
        err = r.get("error")
        cols = (
            f"<code>{html.escape(str(r.get('name', '')))}</code>",
            html.escape(_num(r.get("value"))),
            "" if err is None else "± " + html.escape(_num(err)),
            html.escape(str(r.get("unit") or "")),
            html.escape(str(r.get("run") if r.get("run") is not None else "")),
            html.escape(str(r.get("label") or "")),
        )
        rows.append("<tr>" + "".join(f"<td {cell}>{c}</td>" for c in cols) + "</tr>")
    return (
        "<h2>Recorded results</h2>\n<p>What this report recorded (<code>tb.record</code>) "
        "into its <code>.results.json</code>, read by the run table.</p>\n"
        '<table style="border-collapse:collapse;margin:0">'
        + "<tr>"
        + "".join(f"<th {cell}>{h}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table>"
    )


def _collapse_cr(text: str) -> str:
    # what a terminal (and Jupyter's front end) shows: each line's text after its last \r
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def collapse_streams(nb):
    """Merge the consecutive stream outputs of each cell and collapse carriage returns,
    as Jupyter shows them: a progress bar keeps only its final state ("100%"), not
    every update on its own line.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        An executed notebook (changed in place).
    """
    for cell in nb.cells:
        outs = cell.get("outputs")
        if not outs:
            continue
        for out in outs:
            if out.get("output_type") == "stream" and isinstance(out.get("text"), list):
                out["text"] = "".join(out["text"])
        merged = []
        for out in outs:
            prev = merged[-1] if merged else None
            if (
                out.get("output_type") == "stream"
                and prev is not None
                and prev.get("output_type") == "stream"
                and prev.get("name") == out.get("name")
            ):
                prev["text"] = prev["text"] + out["text"]
            else:
                merged.append(out)
        for out in merged:
            if out.get("output_type") == "stream" and "\r" in out["text"]:
                out["text"] = _collapse_cr(out["text"])
        cell["outputs"] = merged


def add_header(nb, template, values, spec=None, kernel="", records=None):
    """Put the header cell into an executed notebook (after its title cell), the
    recorded results after its last cell, and set its title; existing header and
    results cells are replaced.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook (changed in place).
    template, values, spec, kernel
        See :func:`header_html`.
    records : list of dict, optional
        The template's recorded results (see :func:`results_html`); none = no
        results cell.
    """
    import nbformat  # heavy: only when a notebook is written

    tags = (HEADER_TAG, RESULTS_TAG)
    nb.cells = [c for c in nb.cells if not set(tags) & set(c.get("metadata", {}).get("tags", []))]
    if records:
        nb.cells.append(
            nbformat.v4.new_markdown_cell(results_html(records), metadata={"tags": [RESULTS_TAG]})
        )
    cell = nbformat.v4.new_markdown_cell(
        header_html(template, values, spec, kernel), metadata={"tags": [HEADER_TAG]}
    )
    first = nb.cells[0] if nb.cells else None
    at = 1 if first is not None and first.cell_type == "markdown" else 0
    nb.cells.insert(at, cell)
    nb.metadata["title"] = report_title(template, values)
