"""Template results into a DAMNIT run table (``damnit.submit``, provenance ``scs_nb:<template>``).

Each record of a template (``tb.record``) becomes a column ``<template>.<name>``
(with its unit), its error a column ``<template>.<name>_error``, and the HTML report a
column ``<template>.report`` (its path). Without the facility's Kafka broker
(``AMORE_BROKER=none``) no combiner is told of the new file: :func:`submit_records`
then merges it into the database itself (``combine=True``), as ``damnit combiner now``
does.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ToolBoxError, ToolBoxValueError
from .context import damnit_dir

__all__ = ["have_damnit", "column_name", "damnit_variables", "submit_records", "combine_now"]


def have_damnit() -> bool:
    """Whether the ``damnit`` package (PyPI ``damnit``, 0.4.x) is importable."""
    try:
        import damnit  # noqa: F401  - optional: the run table works without it
    except ImportError:
        return False
    return True


def column_name(template, name) -> str:
    """The DAMNIT column of a template's record: ``<template>.<name>`` with characters
    outside ``[A-Za-z0-9_.]`` replaced by ``_``."""
    text = f"{template}.{name}"
    return "".join(c if c.isalnum() or c in "_." else "_" for c in text)


def damnit_variables(template, records, report=None) -> dict:
    """``{column: (value, unit)}`` of a template's records (errors and report included).

    Parameters
    ----------
    template : str
        The template's name.
    records : list of dict
        Its records (``name, value, error, unit``); records of companion runs (another
        ``run``) are left out by the caller.
    report : str or Path, optional
        The HTML report.

    Returns
    -------
    dict
    """
    out = {}
    for r in records:
        value = r.get("value")
        if value is None or isinstance(value, dict):
            continue
        out[column_name(template, r["name"])] = (value, r.get("unit"))
        if r.get("error") is not None and not isinstance(r["error"], dict):
            out[column_name(template, r["name"] + "_error")] = (r["error"], r.get("unit"))
    if report:
        out[column_name(template, "report")] = (str(report), None)
    return out


def combine_now(folder):
    """Merge submitted fragments into DAMNIT's database now (``damnit combiner now``).

    Parameters
    ----------
    folder : str or Path
        The DAMNIT folder.
    """
    from damnit.backend.combine import gather_all_fragments  # optional dependency

    gather_all_fragments(Path(folder))


def submit_records(proposal, run, template, records, report=None, folder=None, combine=None):
    """Push a template's results of one run into the proposal's DAMNIT table.

    Parameters
    ----------
    proposal, run : int
        Where the results belong.
    template : str
        The template (provenance ``scs_nb:<template>``).
    records : list of dict
        Its records.
    report : str or Path, optional
        The HTML report (a column of its own).
    folder : str or Path, optional
        DAMNIT's folder (default ``<proposal>/usr/Shared/amore``).
    combine : bool, optional
        Merge into the database now; default when ``AMORE_BROKER=none`` (no Kafka
        combiner is told).

    Returns
    -------
    list of str
        The columns written.

    Raises
    ------
    ToolBoxError
        DAMNIT is not installed, or its folder has no database.
    """
    try:
        import damnit  # optional dependency: pip install 'scs-nb[damnit]'
        from damnit.context import Cell
    except ImportError as exc:
        raise ToolBoxError(
            f"DAMNIT is not installed ({exc}); pip install 'scs-nb[damnit]', or use the "
            "built-in table (scs-nb table)"
        ) from None
    folder = Path(folder) if folder else damnit_dir(proposal)
    if not (folder / "runs.sqlite").is_file():
        raise ToolBoxValueError(
            f"no DAMNIT database in {folder}; create it with `damnit init {folder} "
            f"--proposal {proposal} --context CONTEXT` (scs-nb damnit-context writes one)"
        )
    variables = damnit_variables(template, records, report)
    if not variables:
        return []
    cells = {k: Cell(v, units=u) if u else Cell(v) for k, (v, u) in variables.items()}
    damnit.submit(
        int(proposal), int(run), cells, provenance=f"scs_nb:{template}", damnit_dir=folder
    )
    if combine is None:
        combine = os.environ.get("AMORE_BROKER", "").lower() == "none"
    if combine:
        combine_now(folder)
    return list(variables)
