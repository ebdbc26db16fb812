"""SLURM: sbatch scripts that run a template once per array task.

Every value is validated before a script is written (template parameters by their
annotation, SLURM options by pattern), and every word of the ``scs-nb run`` command
line in the script is quoted with ``shlex.quote``; the per-task arguments sit in a
``case`` statement, so the script builds no command from strings at run time.
``sbatch`` is called with an argument list, never through a shell.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..atomic import check_name, file_mode, write_atomic
from ..errors import ToolBoxError, ToolBoxValueError
from ..parallel.slurm_options import (
    option_defaults,
    option_names,
    sbatch_directives,
    validate_reservation,
)
from .batch import parse_runs
from .inputs import check_runs_exist
from .params import ParameterError, format_value, validate_parameters
from .runner import _run_number, default_output_dir, failed_paths, output_paths, resolve_kernel
from .templates import safe_name, template_inputs

__all__ = [
    "SlurmOptions",
    "SbatchScript",
    "build_scripts",
    "submit_scripts",
    "validate_reservation",
    "MAX_ARRAY",
    "submission_status",
    "status_table",
    "failed_values",
    "find_records",
]

MAX_ARRAY = 1000  # tasks per job array (SLURM's usual MaxArraySize is 1001)
# paths that appear in #SBATCH lines, which SLURM does not shell-parse
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./+@:=,~-]+")
# characters a parameter value may not carry into a job script, even quoted
_SHELL_META = re.compile(r"[;&|`$<>\\\n\r\x00]")


def _check_shell_safe(name, value):
    """Reject text values with shell metacharacters (defence in depth: values are
    also quoted)."""
    items = (
        value
        if isinstance(value, (list, tuple))
        else (list(value.keys()) + list(value.values()) if isinstance(value, dict) else [value])
    )
    for item in items:
        if isinstance(item, (list, tuple, dict)):
            _check_shell_safe(name, item)
        elif isinstance(item, str) and _SHELL_META.search(item):
            bad = _SHELL_META.search(item).group()
            raise ParameterError(
                f"parameter {name!r} value {item!r} contains {bad!r}; job scripts take no "
                "shell metacharacters (; & | ` $ < > \\ newline): pass a plain value, or "
                "put it in a -f parameter file run with `scs-nb run` directly"
            )


def _check_path(path: Path, what) -> Path:
    if not _SAFE_PATH.fullmatch(str(path)):
        raise ToolBoxValueError(
            f"{what} {str(path)!r} contains characters that SLURM directives cannot carry "
            "(spaces, quotes, '%', '$', ...); choose a folder with a plain name"
        )
    return path


class SlurmOptions:
    """The SLURM options of one submission: the job options of the shared table
    (``scs_nb.parallel.slurm_options.SLURM_OPTIONS``) and how the array is cut.

    Parameters
    ----------
    max_concurrent : int or None
        Array tasks running at once (``%N`` of ``--array``); None: no limit.
    logs : str or None
        Folder of the per-task logs (default ``<out>/logs``).
    array_size : int
        Tasks per job-array script (at most ``MAX_ARRAY``).
    **job
        Job options by their table name (``partition``, ``time``, ``mem``, ...); the
        others take the table's defaults.
    """

    def __init__(self, max_concurrent=32, logs=None, array_size=MAX_ARRAY, **job):
        unknown = sorted(set(job) - set(option_names()))
        if unknown:
            raise TypeError(
                f"unknown SLURM option(s) {', '.join(unknown)}; known: {', '.join(option_names())}"
            )
        self.job = {**option_defaults(), **job}
        self.max_concurrent = max_concurrent
        self.logs = logs
        self.array_size = array_size

    def __getattr__(self, name):
        # the job options read as attributes too (opts.partition, opts.time)
        job = self.__dict__.get("job", {})
        if name in job:
            return job[name]
        raise AttributeError(name)


@dataclass
class SbatchScript:
    """One job-array script and what its tasks write.

    Attributes
    ----------
    text : str
        The script.
    tasks : list
        ``[(value, out_dir)]`` in array-index order (value of the varied parameter).
    logs, base : Path or None
        The log folder and the submission's output folder.
    job_name : str
        The SLURM job name.
    path : Path or None
        Where the script was written (set by :func:`submit_scripts`).
    template : str
        The template's name.
    param : str or None
        The parameter that varies between tasks.
    notebooks : list or None
        The notebook path of each task (its report beside it).
    """

    text: str
    tasks: list  # [(value, out_dir)] in array-index order
    logs: Path | None = None
    base: Path | None = None
    job_name: str = ""
    path: Path | None = None
    template: str = ""
    param: str | None = None  # the parameter that varies between tasks
    notebooks: list | None = None  # [notebook path] of each task (its .html beside it)


def _over_values(spec_param, text):
    """Values of the varied parameter from ``'10-20,25'`` (ints) or ``'a,b'``."""
    if spec_param.type == "int":
        return parse_runs(text)
    items = [t for t in str(text).split(",") if t != ""]
    if not items:
        raise ParameterError(f"--over {spec_param.name}= gives no value")
    return [spec_param.check(v) for v in items]


def build_scripts(
    template,
    parameters=None,
    param_file=None,
    over=None,
    kernel=None,
    out=None,
    options: SlurmOptions | None = None,
    python=None,
) -> list:
    """sbatch scripts (job arrays of at most ``options.array_size`` tasks).

    Parameters
    ----------
    template : str, Path or Template
        The template to run.
    parameters : dict, optional
        Parameters common to every task.
    param_file : str, optional
        YAML file of parameters, overridden by ``parameters``.
    over : tuple, optional
        ``(name, values_text)``: the parameter that varies between array tasks
        (``('run', '10-20,25')``); None for a single task.
    kernel : str, optional
        Jupyter kernel.
    out : str or Path, optional
        Output folder (one subfolder per task).
    options : SlurmOptions, optional
        SLURM options (default: the table's defaults).
    python : str, optional
        The Python the tasks run (default: this one).

    Returns
    -------
    list of SbatchScript
        Nothing is written; every value is validated and quoted.
    """
    opt = options or SlurmOptions()
    tpl, nb, spec, given = template_inputs(template, parameters, param_file)

    if over:
        name, text = over
        if name not in spec:
            raise ParameterError(
                f"template {tpl.name} has no parameter {name!r} to vary; "
                f"its parameters are {', '.join(spec)}"
            )
        if name in given:
            raise ParameterError(
                f"parameter {name!r} is varied by --runs/--over; do not also pass it with -p"
            )
        values_over = _over_values(spec[name], text)
        tasks = [
            validate_parameters(spec, {**given, name: v}, template=tpl.name) for v in values_over
        ]
    else:
        name = None
        tasks = [validate_parameters(spec, given, template=tpl.name)]

    for values in tasks:
        for pname, value in values.items():
            _check_shell_safe(pname, value)
        check_runs_exist(values, tpl.name)
    kname = resolve_kernel(check_name(kernel, "kernel") if kernel else kernel, nb, tasks[0])
    base = Path(out).absolute() if out else default_output_dir(tpl.name, {})

    def task_out(values):
        if not name:
            return Path(out).absolute() if out else default_output_dir(tpl.name, values)
        v = values[name]
        if name == "run" and isinstance(v, int):
            return base / f"r{v:04d}"
        sub = base
        run = _run_number(values)
        if run is not None:
            sub = sub / f"r{run:04d}"
        return sub / safe_name(f"{name}_{format_value(spec[name], v)}")

    # SLURM options: validated by their table (slurm_options); the caller's object
    # is not changed
    job = dict(opt.job)
    if job.get("time") is not None:
        job["time"] = str(job["time"])  # 90 (minutes) may come as a number
    if job.get("reservation"):
        job["reservation"] = validate_reservation(job["reservation"], tasks[0].get("proposal"))
    if not job.get("partition") and not job.get("reservation"):
        job["partition"] = "exfel"
    job["job_name"] = job.get("job_name") or _default_job_name(tpl.name, tasks)
    directives = sbatch_directives(job)
    job_name = job["job_name"]
    if opt.max_concurrent is not None and (
        not isinstance(opt.max_concurrent, int) or opt.max_concurrent < 1
    ):
        raise ToolBoxValueError(
            f"--max-concurrent must be a positive integer, got {opt.max_concurrent!r}"
        )
    if not 1 <= int(opt.array_size) <= MAX_ARRAY:
        raise ToolBoxValueError(f"--array-size must be between 1 and {MAX_ARRAY}")
    logs = Path(opt.logs).absolute() if opt.logs else base / "logs"
    _check_path(logs, "log folder")
    python = python or sys.executable

    # the command common to every task: only the parameters the user gave
    common = [python, "-m", "scs_nb.cli", "run", str(tpl.path), "--kernel", kname, "--no-progress"]
    for pname in spec:
        if pname in given and pname != name:
            common += ["-p", f"{pname}={format_value(spec[pname], tasks[0][pname])}"]

    scripts = []
    chunk = int(opt.array_size)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for start in range(0, len(tasks), chunk):
        part = tasks[start : start + chunk]
        outs = [task_out(v) for v in part]
        lines = [
            "#!/bin/bash",
            f"# generated by scs-nb submit on {stamp}",
            f"# template {safe_name(tpl.name)}: {len(part)} task(s)"
            + (
                f", {name} = {format_value(spec[name], part[0][name])} .. "
                f"{format_value(spec[name], part[-1][name])}"
                if name
                else ""
            ),
            *directives,
        ]
        lines.append(f"#SBATCH --output={logs}/%A_%a-%x.out")
        limit = f"%{opt.max_concurrent}" if opt.max_concurrent else ""
        lines.append(f"#SBATCH --array=0-{len(part) - 1}{limit}")
        lines += [
            "",
            "set -euo pipefail",
            'case "${SLURM_ARRAY_TASK_ID:?submit this script with sbatch}" in',
        ]
        for i, (values, odir) in enumerate(zip(part, outs)):
            _check_path(odir, "output folder")
            args = ["--out", str(odir)]
            if name:
                args = ["-p", f"{name}={format_value(spec[name], values[name])}"] + args
            lines.append(f"  {i}) TASK=({' '.join(shlex.quote(a) for a in args)}) ;;")
        lines += [
            '  *) echo "no array task ${SLURM_ARRAY_TASK_ID} in this script" >&2; exit 1 ;;',
            "esac",
            'echo "scs-nb: array task ${SLURM_ARRAY_TASK_ID} on $(hostname)"',
            "exec " + " ".join(shlex.quote(a) for a in common) + ' "${TASK[@]}"',
            "",
        ]
        scripts.append(
            SbatchScript(
                "\n".join(lines),
                list(zip([v[name] if name else None for v in part], outs)),
                logs,
                base,
                job_name,
                template=tpl.name,
                param=name,
                notebooks=[output_paths(o, tpl.name, v)[0] for v, o in zip(part, outs)],
            )
        )
    return scripts


def _default_job_name(template_name, tasks) -> str:
    """The job name starts with the run: ``r0179-dssc_binning`` for one run,
    ``r0010-0012-explore_run`` for an array over runs 10..12."""
    runs = sorted({r for r in (_run_number(v) for v in tasks) if r is not None})
    tail = safe_name(template_name)
    if not runs:
        return tail[:64]
    head = f"r{runs[0]:04d}" + (f"-{runs[-1]:04d}" if len(runs) > 1 else "")
    return f"{head}-{tail}"[:64]


def submit_scripts(scripts, folder=None, sbatch="sbatch", echo=print) -> list:
    """Write each script (atomically) and submit it with ``sbatch``.

    Parameters
    ----------
    scripts : list of SbatchScript
        From :func:`build_scripts`.
    folder : str or Path, optional
        Where the scripts and ``submissions.json`` go (default ``<out>/slurm``).
    sbatch : str
        The sbatch executable.
    echo : callable
        Prints one line per submitted job.

    Returns
    -------
    list of str
        The job ids.
    """
    ids = []
    folder = Path(folder) if folder else scripts[0].base / "slurm"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i, s in enumerate(scripts):
        s.logs.mkdir(parents=True, exist_ok=True)
        s.path = folder / f"{s.job_name}-{stamp}-{i:03d}.sh"
        write_atomic(s.path, s.text)
        s.path.chmod(file_mode(executable=True))  # 0777 less the umask
    exe = shutil.which(sbatch)
    if exe is None:
        paths = " ".join(str(s.path) for s in scripts)
        raise ToolBoxError(
            f"sbatch is not available on this machine; the job scripts were "
            f"written to {paths}: submit them on a SLURM login node with "
            "`sbatch SCRIPT`, or look at them with --dry-run"
        )
    for s in scripts:
        proc = subprocess.run(
            [exe, str(s.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ToolBoxError(
                f"sbatch {s.path} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        m = re.search(r"(\d+)", proc.stdout)
        ids.append(m.group(1) if m else proc.stdout.strip())
        _record_submission(folder, s, ids[-1])
        echo(f"submitted {s.path} as job {ids[-1]} ({len(s.tasks)} task(s)); logs in {s.logs}")
    return ids


# -- what was submitted, and how it went ---------------------------------------------
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


def _record_submission(folder, script: SbatchScript, job_id):
    """Append one submitted job array to ``<folder>/submissions.json`` (atomically)."""
    path = Path(folder) / RECORD
    records = _load_records(path)
    records.append(
        {
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
    )
    write_atomic(path, json.dumps(records, indent=1))


def _load_records(path) -> list:
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise ToolBoxError(
            f"cannot read the submission record {path}: {exc}; move it away to start a new record"
        ) from None
    return data if isinstance(data, list) else []


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
    records = [r for p in paths for r in _load_records(p)]
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
