"""The record of SLURM submissions (``<folder>/submissions.json``) and the status of
their tasks.

The record is a JSON list, one entry per submitted job array. Every change is a
read-modify-write under an ``fcntl`` lock (``atomic.locked``), written atomically, so
submissions made at the same time from several processes keep each other's entries. A
record that is not a list, or entries of the wrong shape, are never silently dropped:
the file is kept aside (``submissions.json.damaged-<time>``), a warning names it, and
the readable entries go on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..atomic import locked, write_atomic
from ..errors import ToolBoxError, ToolBoxValueError
from .runner import failed_paths

__all__ = [
    "RECORD",
    "record_submission",
    "load_records",
    "find_records",
    "submission_status",
    "status_table",
    "failed_values",
]

RECORD = "submissions.json"
ACTIVE = {
    "PENDING": "pending",
    "CONFIGURING": "running",
    "RUNNING": "running",
    "COMPLETING": "running",
    "SUSPENDED": "running",
    "REQUEUED": "pending",
    "RESIZING": "running",
    "STOPPED": "running",
    "SIGNALING": "running",
    "STAGE_OUT": "running",
    "REQUEUE_HOLD": "pending",
    "REQUEUE_FED": "pending",
}


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def record_submission(folder, script, job_id, echo=None):
    """Append one submitted job array to ``<folder>/submissions.json``.

    Parameters
    ----------
    folder : str or Path
        The folder of the job scripts.
    script : SbatchScript
        The submitted script (its ``path``, ``job_name``, ``template``, ``param``,
        ``logs``, ``base``, ``tasks`` and ``notebooks``).
    job_id : str
        SLURM's job id.
    echo : callable, optional
        Where a warning about a damaged record goes (default: stderr).

    Notes
    -----
    The read-modify-write holds the record's lock: two processes recording at once
    keep both entries.
    """
    path = Path(folder) / RECORD
    entry = {
        "job_id": str(job_id),
        "script": str(script.path),
        "job_name": script.job_name,
        "template": script.template,
        "param": script.param,
        "logs": str(script.logs),
        "base": str(script.base),
        "submitted": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "tasks": [
            {
                "index": i,
                "value": _jsonable(value),
                "out": str(odir),
                "notebook": str(nb) if nb else None,
            }
            for i, ((value, odir), nb) in enumerate(
                zip(script.tasks, script.notebooks or [None] * len(script.tasks))
            )
        ],
    }
    with locked(path):
        records = _load_unlocked(path, echo)
        records.append(entry)
        write_atomic(path, json.dumps(records, indent=1))


def _bad_entry(rec) -> str | None:
    """Why a record entry cannot be used (None when it can)."""
    if not isinstance(rec, dict):
        return f"an entry is a {type(rec).__name__}, not a mapping"
    for key in ("job_id", "logs", "job_name"):
        if not isinstance(rec.get(key), (str, int)) or isinstance(rec.get(key), bool):
            return f"an entry has no text {key!r}"
    tasks = rec.get("tasks")
    if not isinstance(tasks, list):
        return f"job {rec['job_id']}: 'tasks' is not a list"
    for task in tasks:
        if (
            not isinstance(task, dict)
            or not isinstance(task.get("index"), int)
            or isinstance(task.get("index"), bool)
            or "value" not in task
            or not isinstance(task.get("out"), str)
            or not isinstance(task.get("notebook"), (str, type(None)))
        ):
            return f"job {rec['job_id']}: a task is not {{index, value, out, notebook}}"
    return None


def _load_unlocked(path, echo=None) -> list:
    """The usable entries of a record. A damaged record (not JSON, not a list, entries
    of the wrong shape) is kept aside as ``<name>.damaged-<time>`` and said on stderr;
    the usable entries are written back. Call it holding ``locked(path)``."""
    path = Path(path)
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        return []
    except OSError as exc:  # unreadable (permissions, I/O): not damaged, not to be moved
        raise ToolBoxError(
            f"cannot read the submission record {path}: {exc}; make it readable, or move "
            "it away to start a new record"
        ) from None
    except ValueError as exc:
        data, problems = [], [f"it is not JSON ({exc})"]
    else:
        if not isinstance(data, list):
            problems = [f"it holds a {type(data).__name__}, not a list of submissions"]
            data = []
        else:
            problems = [p for p in map(_bad_entry, data) if p]
            data = [rec for rec in data if _bad_entry(rec) is None]
    if not problems:
        return data
    stem = path.name + time.strftime(".damaged-%Y%m%d-%H%M%S")
    aside, n = path.with_name(stem), 1
    while aside.exists():  # two damaged records within a second: keep both
        n += 1
        aside = path.with_name(f"{stem}-{n}")
    try:
        os.replace(path, aside)
        write_atomic(path, json.dumps(data, indent=1))
    except OSError as exc:
        raise ToolBoxError(
            f"the submission record {path} is damaged ({problems[0]}) and could not be "
            f"kept aside ({exc}): move it away, then rerun"
        ) from None
    msg = (
        f"scs-nb: warning: the submission record {path} was damaged ({problems[0]}"
        + (f"; {len(problems) - 1} more problem(s)" if len(problems) > 1 else "")
        + f"); it was kept aside as {aside}, and {len(data)} readable submission(s) "
        "were kept in the record"
    )
    (echo or (lambda m: print(m, file=sys.stderr)))(msg)
    return data


def load_records(path, echo=None) -> list:
    """The usable entries of a submission record (a damaged one is kept aside and said).

    Parameters
    ----------
    path : str or Path
        A ``submissions.json``.
    echo : callable, optional
        Where a warning about a damaged record goes (default: stderr).

    Returns
    -------
    list of dict
        One entry per submitted job array; ``[]`` when there is no record.
    """
    path = Path(path)
    if not path.exists():
        return []
    with locked(path):
        return _load_unlocked(path, echo)


def find_records(out) -> list:
    """The submission records of an output folder: ``OUT/slurm/submissions.json``, or
    one or two folder levels below (``scs-nb submit dssc-binning`` puts its notebooks,
    and their record, in ``OUT/notebooks``)."""
    out = Path(out).absolute()
    found = []
    for pattern in (f"slurm/{RECORD}", f"*/slurm/{RECORD}", f"*/*/slurm/{RECORD}"):
        found = sorted(out.glob(pattern))
        if found:
            break
    return found


def _squeue(job_ids, squeue="squeue") -> dict | None:
    """``{'JOBID_INDEX': state}`` of the array tasks still known to squeue; None when
    squeue cannot be asked (no SLURM here)."""
    exe = shutil.which(squeue)
    if exe is None or not job_ids:
        return None if exe is None else {}
    proc = subprocess.run(
        [exe, "-h", "-r", "-j", ",".join(job_ids), "-o", "%i %T"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if proc.returncode != 0:
        # a job id that squeue forgot makes it fail: ask one by one
        if len(job_ids) > 1:
            states = {}
            for j in job_ids:
                one = _squeue([j], squeue)
                if one is None:
                    return None
                states.update(one)
            return states
        if "Invalid job id" in proc.stderr:
            return {}
        return None
    states = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states


def submission_status(out, squeue="squeue") -> list:
    """One row per task of the submissions recorded under ``out``: the latest
    submission of each task value wins (a retry replaces the failed attempt).

    Each row: ``value``, ``param``, ``job`` (``JOBID_INDEX``), ``state`` (pending /
    running / done / failed / unknown), ``report`` (HTML report, or the failed one),
    ``log`` and ``detail``. State: squeue first (pending / running while SLURM has the
    task), then the outputs: the notebook = done, ``.failed.ipynb`` = failed (its
    cell failed), neither = failed (the task died: see its log).
    """
    paths = find_records(out)
    if not paths:
        raise ToolBoxValueError(
            f"no SLURM submission recorded under {out} (looked for slurm/{RECORD} there "
            "and in its subfolders); pass the --out folder given to `scs-nb submit`"
        )
    records = [r for p in paths for r in load_records(p)]
    latest = {}
    for rec in records:
        for task in rec["tasks"]:
            key = (rec.get("template"), rec.get("param"), repr(task["value"]), task["out"])
            latest[key] = (rec, task)
    states = _squeue(sorted({rec["job_id"] for rec, _ in latest.values()}), squeue)
    rows = []
    for rec, task in latest.values():
        job = f"{rec['job_id']}_{task['index']}"
        log = Path(rec["logs"]) / f"{rec['job_id']}_{task['index']}-{rec['job_name']}.out"
        nb = Path(task["notebook"]) if task.get("notebook") else None
        row = {
            "value": task["value"],
            "param": rec.get("param"),
            "job": job,
            "template": rec.get("template"),
            "out": task["out"],
            "log": str(log),
            "report": None,
            "detail": "",
        }
        queued = None if states is None else states.get(job)
        if queued is None and states is not None:
            # a pending array not yet split shows as JOBID_[0-2%32]
            queued = next(
                (st for k, st in states.items() if k.startswith(f"{rec['job_id']}_[")), None
            )
        if queued in ACTIVE:
            row["state"] = ACTIVE[queued]
            row["detail"] = queued.lower()
        elif nb is not None and nb.is_file():
            row["state"] = "done"
            html = nb.with_suffix(".html")
            row["report"] = str(html if html.is_file() else nb)
        elif nb is not None and failed_paths(nb)[0].is_file():
            fnb, fhtml = failed_paths(nb)
            row["state"] = "failed"
            row["report"] = str(fhtml if fhtml.is_file() else fnb)
            row["detail"] = "a cell failed"
        elif states is None:
            row["state"] = "unknown"
            row["detail"] = "no output yet, and squeue is not available here"
        else:
            row["state"] = "failed"
            row["detail"] = (
                f"ended ({queued.lower()}) without output"
                if queued
                else "no output and no longer queued: the task died (see its log)"
            )
        rows.append(row)
    rows.sort(key=lambda r: (str(r["param"]), _sort_key(r["value"])))
    return rows


def _sort_key(value):
    return (
        (0, value, "")
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else (1, 0, str(value))
    )


def status_table(rows) -> str:
    """A text table of ``submission_status`` rows and a summary line."""
    head = ("TASK", "JOB", "STATE", "REPORT / LOG")
    table = [head]
    for r in rows:
        task = f"{r['param']}={r['value']}" if r["param"] else (r["template"] or "-")
        where = r["report"] or r["log"]
        if r["detail"] and r["state"] != "done":
            where = f"{where}  ({r['detail']})"
        table.append((task, r["job"], r["state"], where))
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    lines = ["  ".join(row[i].ljust(widths[i]) for i in range(3)) + "  " + row[3] for row in table]
    counts = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    lines.append(
        f"{len(rows)} task(s): "
        + ", ".join(
            f"{counts.get(s, 0)} {s}"
            for s in ("done", "running", "pending", "failed")
            if counts.get(s) or s in ("done", "failed")
        )
        + (f", {counts['unknown']} unknown" if counts.get("unknown") else "")
    )
    failed = [r for r in rows if r["state"] == "failed"]
    if failed:
        lines.append("failed:")
        for r in failed:
            task = f"{r['param']}={r['value']}" if r["param"] else r["job"]
            lines.append(f"  {task}: {r['report'] or 'no report'}  (log {r['log']})")
    return "\n".join(lines)


def failed_values(out, param=None, squeue="squeue") -> list:
    """The values of ``param`` (the varied parameter) of the failed tasks under ``out``."""
    rows = submission_status(out, squeue)
    params = {r["param"] for r in rows}
    if param is None and len(params) == 1:
        param = params.pop()
    return [r["value"] for r in rows if r["state"] == "failed" and r["param"] == param]
