"""SLURM: sbatch scripts that run a template once per array task.

Every value is validated before a script is written (template parameters by their
annotation, SLURM options by pattern), and every word of the ``scs-nb run`` command
line in the script is quoted with ``shlex.quote``; the per-task arguments sit in a
``case`` statement, so the script builds no command from strings at run time.
``sbatch`` is called with an argument list, never through a shell.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..atomic import check_name, file_mode
from ..errors import ToolBoxError, ToolBoxValueError
from .batch import parse_runs
from .params import ParameterError, format_value, validate_parameters
from .runner import _run_number, default_output_dir, resolve_kernel, write_atomic
from .templates import safe_name, template_inputs

__all__ = ["SlurmOptions", "SbatchScript", "build_scripts", "submit_scripts",
           "validate_reservation", "MAX_ARRAY"]

MAX_ARRAY = 1000           # tasks per job array (SLURM's usual MaxArraySize is 1001)
_PATTERNS = {
    "partition": (r"[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*", "a partition name such as exfel or upex"),
    "reservation": (r"upex_\d{6}", "upex_00NNNN, e.g. upex_003333 for proposal 3333"),
    "time": (r"(\d+-)?\d{1,3}(:\d{2}){0,2}|\d+-\d{1,2}", "a SLURM time such as 02:00:00, "
             "90 (minutes) or 1-12:00:00"),
    "mail_type": (r"(NONE|BEGIN|END|FAIL|REQUEUE|ALL|INVALID_DEPEND|STAGE_OUT|TIME_LIMIT"
                  r"|TIME_LIMIT_90|TIME_LIMIT_80|TIME_LIMIT_50|ARRAY_TASKS)"
                  r"(,(NONE|BEGIN|END|FAIL|REQUEUE|ALL|INVALID_DEPEND|STAGE_OUT|TIME_LIMIT"
                  r"|TIME_LIMIT_90|TIME_LIMIT_80|TIME_LIMIT_50|ARRAY_TASKS))*",
                  "a comma list of NONE, BEGIN, END, FAIL, ALL, ..."),
    "mail_user": (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "an e-mail address"),
    "constraint": (r"[A-Za-z0-9_]+([&|,][A-Za-z0-9_]+)*", "a node feature such as V100"),
    "mem": (r"\d+[KMGT]?", "a memory size such as 64G"),
    "job_name": (r"[A-Za-z0-9_.-]{1,64}", "letters, digits, '_', '.', '-'"),
}
# paths that appear in #SBATCH lines, which SLURM does not shell-parse
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./+@:=,~-]+")
# characters a parameter value may not carry into a job script, even quoted
_SHELL_META = re.compile(r"[;&|`$<>\\\n\r\x00]")


def _check_shell_safe(name, value):
    """Reject text values with shell metacharacters (defence in depth: values are
    also quoted)."""
    items = value if isinstance(value, (list, tuple)) else (
        list(value.keys()) + list(value.values()) if isinstance(value, dict) else [value])
    for item in items:
        if isinstance(item, (list, tuple, dict)):
            _check_shell_safe(name, item)
        elif isinstance(item, str) and _SHELL_META.search(item):
            bad = _SHELL_META.search(item).group()
            raise ParameterError(
                f"parameter {name!r} value {item!r} contains {bad!r}; job scripts take no "
                "shell metacharacters (; & | ` $ < > \\ newline): pass a plain value, or "
                "put it in a -f parameter file run with `scs-nb run` directly")


def _check(kind, value):
    pattern, expects = _PATTERNS[kind]
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise ToolBoxValueError(f"--{kind.replace('_', '-')} must be {expects}, got {value!r}")
    return value


def validate_reservation(value, proposal=None) -> str:
    """``upex_00NNNN``; ``'auto'`` derives it from ``proposal``."""
    if value == "auto":
        if not isinstance(proposal, int) or isinstance(proposal, bool):
            raise ToolBoxValueError("--reservation auto needs the template's `proposal` "
                                    "parameter; pass --reservation upex_00NNNN")
        value = f"upex_{proposal:06d}"
    return _check("reservation", value)


def _check_path(path: Path, what) -> Path:
    if not _SAFE_PATH.fullmatch(str(path)):
        raise ToolBoxValueError(
            f"{what} {str(path)!r} contains characters that SLURM directives cannot carry "
            "(spaces, quotes, '%', '$', ...); choose a folder with a plain name")
    return path


@dataclass
class SlurmOptions:
    partition: str | None = None
    reservation: str | None = None
    time: str = "02:00:00"
    mail_type: str | None = "END,FAIL"
    mail_user: str | None = None
    constraint: str | None = None
    nodes: int = 1
    mem: str | None = None
    max_concurrent: int | None = 32
    job_name: str | None = None
    logs: str | None = None
    array_size: int = MAX_ARRAY


@dataclass
class SbatchScript:
    text: str
    tasks: list          # [(value, out_dir)] in array-index order
    logs: Path | None = None
    base: Path | None = None
    job_name: str = ""
    path: Path | None = None


def _over_values(spec_param, text):
    """Values of the varied parameter from ``'10-20,25'`` (ints) or ``'a,b'``."""
    if spec_param.type == "int":
        return parse_runs(text)
    items = [t for t in str(text).split(",") if t != ""]
    if not items:
        raise ParameterError(f"--over {spec_param.name}= gives no value")
    return [spec_param.check(v) for v in items]


def build_scripts(template, parameters=None, param_file=None, over=None, kernel=None,
                  out=None, options: SlurmOptions | None = None, python=None) -> list:
    """sbatch scripts (job arrays of at most ``options.array_size`` tasks).

    over: ``(name, values_text)`` — the parameter that varies between array tasks
    (``('run', '10-20,25')``), or None for a single task.
    """
    opt = options or SlurmOptions()
    tpl, nb, spec, given = template_inputs(template, parameters, param_file)

    if over:
        name, text = over
        if name not in spec:
            raise ParameterError(f"template {tpl.name} has no parameter {name!r} to vary; "
                                 f"its parameters are {', '.join(spec)}")
        if name in given:
            raise ParameterError(f"parameter {name!r} is varied by --runs/--over; do not "
                                 "also pass it with -p")
        values_over = _over_values(spec[name], text)
        tasks = [validate_parameters(spec, {**given, name: v}, template=tpl.name)
                 for v in values_over]
    else:
        name = None
        tasks = [validate_parameters(spec, given, template=tpl.name)]

    for values in tasks:
        for pname, value in values.items():
            _check_shell_safe(pname, value)
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

    # SLURM options
    if opt.partition:
        _check("partition", opt.partition)
    if opt.reservation:
        opt.reservation = validate_reservation(opt.reservation, tasks[0].get("proposal"))
    if not opt.partition and not opt.reservation:
        opt.partition = "exfel"
    _check("time", str(opt.time))
    if opt.mail_type:
        _check("mail_type", opt.mail_type)
    if opt.mail_user:
        _check("mail_user", opt.mail_user)
    if opt.constraint:
        _check("constraint", opt.constraint)
    if opt.mem:
        _check("mem", opt.mem)
    job_name = _check("job_name", opt.job_name or safe_name(tpl.name)[:64])
    if not isinstance(opt.nodes, int) or opt.nodes < 1:
        raise ToolBoxValueError(f"--nodes must be a positive integer, got {opt.nodes!r}")
    if opt.max_concurrent is not None and (not isinstance(opt.max_concurrent, int)
                                           or opt.max_concurrent < 1):
        raise ToolBoxValueError("--max-concurrent must be a positive integer, "
                                f"got {opt.max_concurrent!r}")
    if not 1 <= int(opt.array_size) <= MAX_ARRAY:
        raise ToolBoxValueError(f"--array-size must be between 1 and {MAX_ARRAY}")
    logs = Path(opt.logs).absolute() if opt.logs else base / "logs"
    _check_path(logs, "log folder")
    python = python or sys.executable

    # the command common to every task: only the parameters the user gave
    common = [python, "-m", "scs_nb.cli", "run", str(tpl.path), "--kernel", kname,
              "--no-progress"]
    for pname in spec:
        if pname in given and pname != name:
            common += ["-p", f"{pname}={format_value(spec[pname], tasks[0][pname])}"]

    scripts = []
    chunk = int(opt.array_size)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for start in range(0, len(tasks), chunk):
        part = tasks[start:start + chunk]
        outs = [task_out(v) for v in part]
        lines = ["#!/bin/bash",
                 f"# generated by scs-nb submit on {stamp}",
                 f"# template {safe_name(tpl.name)}: {len(part)} task(s)"
                 + (f", {name} = {format_value(spec[name], part[0][name])} .. "
                    f"{format_value(spec[name], part[-1][name])}" if name else ""),
                 f"#SBATCH --job-name={job_name}",
                 f"#SBATCH --nodes={opt.nodes}"]
        if opt.partition:
            lines.append(f"#SBATCH --partition={opt.partition}")
        if opt.reservation:
            lines.append(f"#SBATCH --reservation={opt.reservation}")
        if opt.constraint:
            lines.append(f"#SBATCH --constraint={opt.constraint}")
        if opt.mem:
            lines.append(f"#SBATCH --mem={opt.mem}")
        lines.append(f"#SBATCH --time={opt.time}")
        if opt.mail_type:
            lines.append(f"#SBATCH --mail-type={opt.mail_type}")
        if opt.mail_user:
            lines.append(f"#SBATCH --mail-user={opt.mail_user}")
        lines.append(f"#SBATCH --output={logs}/%A_%a-%x.out")
        limit = f"%{opt.max_concurrent}" if opt.max_concurrent else ""
        lines.append(f"#SBATCH --array=0-{len(part) - 1}{limit}")
        lines += ["", "set -euo pipefail",
                  'case "${SLURM_ARRAY_TASK_ID:?submit this script with sbatch}" in']
        for i, (values, odir) in enumerate(zip(part, outs)):
            _check_path(odir, "output folder")
            args = ["--out", str(odir)]
            if name:
                args = ["-p", f"{name}={format_value(spec[name], values[name])}"] + args
            lines.append(f"  {i}) TASK=({' '.join(shlex.quote(a) for a in args)}) ;;")
        lines += ['  *) echo "no array task ${SLURM_ARRAY_TASK_ID} in this script" >&2; '
                  'exit 1 ;;',
                  "esac",
                  'echo "scs-nb: array task ${SLURM_ARRAY_TASK_ID} on $(hostname)"',
                  "exec " + " ".join(shlex.quote(a) for a in common) + ' "${TASK[@]}"', ""]
        scripts.append(SbatchScript("\n".join(lines), list(zip(
            [v[name] if name else None for v in part], outs)), logs, base, job_name))
    return scripts


def submit_scripts(scripts, folder=None, sbatch="sbatch", echo=print) -> list:
    """Write each script (atomically) and submit it with ``sbatch``; returns job ids."""
    import shutil
    ids = []
    folder = Path(folder) if folder else scripts[0].base / "slurm"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i, s in enumerate(scripts):
        s.logs.mkdir(parents=True, exist_ok=True)
        s.path = folder / f"{s.job_name}-{stamp}-{i:03d}.sh"
        write_atomic(s.path, s.text)
        s.path.chmod(file_mode(executable=True))      # 0777 less the umask
    exe = shutil.which(sbatch)
    if exe is None:
        paths = " ".join(str(s.path) for s in scripts)
        raise ToolBoxError(f"sbatch is not available on this machine; the job scripts were "
                           f"written to {paths}: submit them on a SLURM login node with "
                           "`sbatch SCRIPT`, or look at them with --dry-run")
    for s in scripts:
        proc = subprocess.run([exe, str(s.path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, check=False)
        if proc.returncode != 0:
            raise ToolBoxError(f"sbatch {s.path} failed ({proc.returncode}): "
                               f"{proc.stderr.strip()}")
        m = re.search(r"(\d+)", proc.stdout)
        ids.append(m.group(1) if m else proc.stdout.strip())
        echo(f"submitted {s.path} as job {ids[-1]} ({len(s.tasks)} task(s)); logs in {s.logs}")
    return ids
