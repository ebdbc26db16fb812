"""SLURM: sbatch scripts that run a template once per array task.

Every value is validated before a script is written (template parameters by their
annotation, SLURM options by pattern), and every word of the ``scs-nb run`` command
line in the script is quoted with ``shlex.quote``; the per-task arguments sit in a
``case`` statement, so the script builds no command from strings at run time.
``sbatch`` is called with an argument list, never through a shell.
"""

from __future__ import annotations

import os
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
from .runner import _run_number, default_output_dir, output_paths, resolve_kernel
from .submissions import failed_values as failed_values
from .submissions import (
    find_records,
    record_submission,
    status_table,
    submission_status,
)
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

    _check_distinct_outputs(name, [v[name] for v in tasks] if name else [None], tasks, task_out)

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


def _check_distinct_outputs(name, values, tasks, task_out):
    """Refuse ``--over`` values that map to one output folder (``nrj.`` and ``nrj``,
    ``X/`` and ``X``): their tasks would write over each other's notebooks."""
    seen = {}
    for value, values_of_task in zip(values, tasks):
        odir = task_out(values_of_task)
        if odir in seen and seen[odir] != value:
            raise ParameterError(
                f"--over {name}: the values {seen[odir]!r} and {value!r} give one output "
                f"folder, {odir}, so their tasks would overwrite each other; pass each "
                "value once, spelled so that the folder names differ (a name keeps letters, "
                "digits, '_', '-' and inner '.')"
            )
        if odir in seen:
            raise ParameterError(f"--over {name}: the value {value!r} is given twice")
        seen[odir] = value


def _default_job_name(template_name, tasks) -> str:
    """The job name starts with the run: ``r0179-dssc_binning`` for one run,
    ``r0010-0012-explore_run`` for an array over runs 10..12."""
    runs = sorted({r for r in (_run_number(v) for v in tasks) if r is not None})
    tail = safe_name(template_name)
    if not runs:
        return tail[:64]
    head = f"r{runs[0]:04d}" + (f"-{runs[-1]:04d}" if len(runs) > 1 else "")
    return f"{head}-{tail}"[:64]


def _claim_script_path(folder, stem) -> Path:
    """A new script name in ``folder``, created empty (``O_EXCL``) so that parallel
    submissions of one job name in one second never write over each other's script:
    ``STEM.sh``, else ``STEM-2.sh``, ``STEM-3.sh``, ..."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = folder / (f"{stem}.sh" if n == 1 else f"{stem}-{n}.sh")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return path
        except FileExistsError:
            n += 1


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
        s.path = _claim_script_path(folder, f"{s.job_name}-{stamp}-{i:03d}")
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
        record_submission(folder, s, ids[-1])
        echo(f"submitted {s.path} as job {ids[-1]} ({len(s.tasks)} task(s)); logs in {s.logs}")
    return ids
