"""Run one template over many runs: one output per run, a status file, retries.

Runs are executed ``jobs`` at a time (threads, each driving its own kernel process).
A JSON status file per batch, ``<out>/<template>_batch.json``, records every run's
state (done / failed), message and parameters. Each update is a read-modify-write
under an ``fcntl`` lock, written atomically, so batches running at the same time on
one folder keep each other's runs, and an interrupted batch can be resumed. Every
output folder also holds ``<stem>.state.json`` (runner.state_path): a damaged status
file is moved aside and the state rebuilt from those; a complete output made with
other parameters (or by another template file of the same name) is an error naming
the differences unless ``overwrite``. On Ctrl-C the kernels of the runs in flight are
killed and those runs recorded ``interrupted`` (a rerun redoes them).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from ..atomic import check_writable_dir, json_default, locked, write_atomic
from ..errors import ToolBoxFileError, ToolBoxValueError
from .inputs import check_runs_exist
from .kernel import KernelRegistry
from .params import ParameterError, validate_parameters
from .runner import (
    Prepared,
    default_output_dir,
    execute,
    failed_paths,
    output_changes,
    output_paths,
    read_state,
    record_state,
    resolve_kernel,
)
from .templates import Template, find_template, safe_name, template_inputs

__all__ = [
    "parse_runs",
    "BatchPlan",
    "plan_batch",
    "run_batch",
    "status_table",
    "status_path",
    "load_status",
    "rebuild_status",
    "recover_status",
    "failed_runs",
    "StatusFileError",
]

MAX_RUNS = 10_000
#: statuses of runs that a rerun redoes with --retry-failed
RETRY_STATUSES = ("failed", "interrupted")
#: seconds an interrupted batch waits for its threads after killing their kernels
STOP_WAIT = 10.0


def parse_runs(text) -> list:
    """``'10-20,25'`` -> ``[10, 11, ..., 20, 25]`` (sorted, unique)."""
    if isinstance(text, (list, tuple, set)):
        items = [str(t) for t in text]
    else:
        items = str(text).replace(" ", "").split(",")
    runs = set()
    for item in items:
        if not item:
            continue
        m = re.fullmatch(r"(\d+)(?:-(\d+))?(?::(\d+))?", item)
        if not m:
            raise ToolBoxValueError(
                f"--runs expects numbers and ranges such as "
                f"'10-20,25' (or '10-20:2' for every 2nd), got {item!r}"
            )
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        step = int(m.group(3) or 1)
        if b < a or step < 1:
            raise ToolBoxValueError(
                f"range {item!r} is empty; write FIRST-LAST with FIRST <= LAST"
            )
        if (b - a) // step + 1 + len(runs) > MAX_RUNS:
            raise ToolBoxValueError(f"--runs {text!r} gives more than {MAX_RUNS} runs")
        runs.update(range(a, b + 1, step))
    if not runs:
        raise ToolBoxValueError(f"--runs {text!r} selects no run")
    return sorted(runs)


@dataclass
class BatchPlan:
    """A template with validated parameters for each run of a batch (see :func:`plan_batch`)."""

    template: Template
    run_param: str
    runs: list
    values: dict  # run -> validated parameter dict
    base: Path  # batch output folder
    kernel: str
    given: dict  # parameters common to every run (as given)
    spec: dict  # the template's parameters

    def out_dir(self, run) -> Path:
        """The output folder of one run, ``<base>/r<run:04d>``."""
        return self.base / f"r{run:04d}"

    def paths(self, run):
        """The executed notebook and the report of one run of the batch.

        Parameters
        ----------
        run : int
            A run of ``runs``.

        Returns
        -------
        tuple of Path
            ``(notebook .ipynb, report .html)`` in ``out_dir(run)``.
        """
        return output_paths(self.out_dir(run), self.template.name, self.values[run])


def status_path(base, template_name) -> Path:
    """The status file of a batch.

    Parameters
    ----------
    base : str or Path
        The batch output folder.
    template_name : str
        The template's name.

    Returns
    -------
    Path
        ``<base>/<template>_batch.json``.
    """
    return Path(base) / f"{safe_name(template_name)}_batch.json"


class StatusFileError(ToolBoxFileError):
    """A batch status file exists but cannot be read."""


def _bad_run_entry(entry) -> str | None:
    """Why a run's entry of a status file cannot be used (None when it can)."""
    if not isinstance(entry, dict):
        return f"is a {type(entry).__name__}, not a mapping"
    if not isinstance(entry.get("status"), str):
        return "has no text 'status'"
    for key, kinds in (("message", str), ("notebook", str), ("parameters", dict)):
        if entry.get(key) is not None and not isinstance(entry[key], kinds):
            return f"has a {key!r} of the wrong kind ({type(entry[key]).__name__})"
    return None


def load_status(path) -> dict:
    """The status of a batch; ``{'runs': {}}`` when there is none yet. A file that
    exists but cannot be read, or holds run entries of the wrong shape, raises
    StatusFileError (it is never silently reset)."""
    path = Path(path)
    if not path.exists():
        return {"runs": {}}
    try:
        with open(path) as f:
            data = json.load(f)
        if not isinstance(data, dict) or not isinstance(data.setdefault("runs", {}), dict):
            raise ValueError("not a mapping with a 'runs' mapping")
        for run, entry in data["runs"].items():
            if why := _bad_run_entry(entry):
                raise ValueError(f"the entry of run {run} {why}")
    except (OSError, ValueError) as exc:
        raise StatusFileError(f"batch status file {path} cannot be read ({exc})") from None
    return data


def rebuild_status(base, template_name) -> dict:
    """The status of a batch rebuilt from its outputs: the per-run state files (and the
    notebooks) in ``<base>/rNNNN``."""
    runs = {}
    base = Path(base)
    stem = safe_name(template_name)
    for folder in sorted(base.glob("r[0-9][0-9][0-9][0-9]*")):
        m = re.fullmatch(r"r(\d+)", folder.name)
        if not m or not folder.is_dir():
            continue
        run = int(m.group(1))
        nb = folder / f"{stem}_r{run:04d}.ipynb"
        state = _read_run_state(nb)
        if state is None:
            failed = failed_paths(nb)[0]
            if failed.is_file():
                state = {
                    "status": "failed",
                    "notebook": str(failed),
                    "message": "failed (rebuilt from the outputs)",
                }
            else:
                continue
        if state.get("status") == "done" and not nb.is_file():
            continue
        keys = ("status", "message", "notebook", "parameters")
        entry = {k: state[k] for k in keys if k in state}
        if _bad_run_entry(entry) is None:  # a state file of the wrong shape counts as none
            runs[str(run)] = entry
    return {"runs": runs}


def _read_run_state(notebook) -> dict | None:
    """``read_state`` of one output, None when its recorded parameters are not a
    mapping (a damaged state file says nothing about the output)."""
    state = read_state(notebook)
    if state is None or not isinstance(state.get("parameters", {}), dict):
        return None
    return state


def recover_status(path, template_name, echo=None) -> dict:
    """``load_status``; a damaged file is moved aside (``<name>.damaged-<time>``, said
    on stderr) and the state rebuilt from the outputs (and written back); a missing
    one is rebuilt from the outputs. Call it holding ``locked(path)``."""
    path = Path(path)
    if not path.exists():  # a new batch, or a status file deleted: the outputs say
        return rebuild_status(path.parent, template_name)
    try:
        return load_status(path)
    except StatusFileError as exc:
        aside = path.with_name(path.name + time.strftime(".damaged-%Y%m%d-%H%M%S"))
        try:
            os.replace(path, aside)
            where = f"moved aside to {aside}"
        except OSError as err:
            raise StatusFileError(
                f"{exc}; it could not be moved aside ({err}): move or delete it, then rerun"
            ) from None
        state = rebuild_status(path.parent, template_name)
        write_atomic(path, json.dumps(state, indent=1, sort_keys=True, default=json_default))
        msg = (
            f"scs-nb: warning: {exc}; {where}; the state of "
            f"{len(state['runs'])} run(s) was rebuilt from the outputs"
        )
        (echo or (lambda m: print(m, file=sys.stderr)))(msg)
        return state


def batch_state(path, template_name, echo=None) -> dict:
    """``recover_status`` completed by the runs whose outputs it does not list (a status
    file of an older or interrupted batch). Call it holding ``locked(path)``."""
    state = recover_status(path, template_name, echo=echo)
    for run, entry in rebuild_status(Path(path).parent, template_name)["runs"].items():
        state["runs"].setdefault(run, entry)
    return state


def plan_batch(
    template, runs, parameters=None, param_file=None, kernel=None, out=None, run_param="run"
) -> BatchPlan:
    """Validate everything for every run before anything executes."""
    tpl, nb, spec, given = template_inputs(template, parameters, param_file)
    if run_param not in spec:
        raise ParameterError(
            f"template {tpl.name} has no parameter {run_param!r} to vary over runs; its "
            f"parameters are {', '.join(spec)} (choose one with --run-param)"
        )
    if run_param in given:
        raise ParameterError(
            f"parameter {run_param!r} is set by --runs; do not pass it "
            "with -p or in the parameter file"
        )
    run_list = parse_runs(runs)
    values = {
        r: validate_parameters(spec, {**given, run_param: r}, template=tpl.name) for r in run_list
    }
    for v in values.values():
        check_runs_exist(v, tpl.name)
    first = values[run_list[0]]
    kname = resolve_kernel(kernel, nb, first)
    base = Path(out).absolute() if out else default_output_dir(tpl.name, {})
    check_writable_dir(base, "batch folder", "--out")
    return BatchPlan(tpl, run_param, run_list, values, base, kname, given, spec)


def _complete(plan, run) -> bool:
    return plan.paths(run)[0].is_file()


def _merge_write(spath, plan, run=None, entry=None):
    """Read-modify-write of the status file under its lock: another batch on the same
    folder keeps its runs."""
    with locked(spath):
        state = recover_status(spath, plan.template.name)
        state.update(
            {
                "template": str(plan.template.path),
                "kernel": plan.kernel,
                "run_param": plan.run_param,
            }
        )
        if run is not None:
            state["runs"][str(run)] = entry
        write_atomic(spath, json.dumps(state, indent=1, sort_keys=True, default=json_default))
        return state


def run_batch(
    plan: BatchPlan, jobs=1, overwrite=False, retry_failed=False, progress=None, echo=None
) -> dict:
    """Execute the plan; returns ``{run: {'status': done|failed|skipped, ...}}``.

    A complete output made with other parameters is an error naming the differences
    (before anything runs) unless ``overwrite``.
    """
    spath = status_path(plan.base, plan.template.name)
    plan.base.mkdir(parents=True, exist_ok=True)
    with locked(spath):
        state = batch_state(spath, plan.template.name, echo=echo)
    lock = Lock()
    results = {}
    todo = []
    changed = []
    for run in plan.runs:
        old = state["runs"].get(str(run), {})
        if retry_failed and old.get("status") not in RETRY_STATUSES:
            results[run] = {
                "status": "skipped",
                "message": f"not a failed run (was {old.get('status', 'never run')})",
            }
        elif _complete(plan, run) and not overwrite:
            notebook = str(plan.paths(run)[0])
            rec = _read_run_state(notebook)
            diff = (
                output_changes(rec, plan.template, plan.values[run])
                if rec
                else ["(no parameters recorded with the output)"]
            )
            if diff:
                changed.append(f"run {run}: {'; '.join(diff)}")
                continue
            results[run] = {
                "status": "skipped",
                "message": "complete output with the same parameters exists (--overwrite to redo)",
                "notebook": notebook,
            }
        else:
            todo.append(run)
    if changed:
        raise ParameterError(
            f"{len(changed)} run(s) of {plan.base} have complete outputs made with other "
            "parameters or another template:\n  "
            + "\n  ".join(changed[:20])
            + ("\n  ..." if len(changed) > 20 else "")
            + "\npass --overwrite to redo them, or choose another --out folder"
        )
    bar = None
    if progress is None:
        progress = sys.stderr.isatty()
    if progress and todo:
        from tqdm.auto import tqdm  # optional: only for an interactive progress bar

        bar = tqdm(total=len(todo), desc=f"{plan.template.name}", unit="run")

    kernels = KernelRegistry()
    in_flight = {}  # run -> (Prepared, start time)

    def interrupted(run, prep, t0):
        msg = "interrupted (Ctrl-C): its kernel was stopped; rerun to redo it"
        record_state(prep, "interrupted", msg)
        return {
            "status": "interrupted",
            "message": msg,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t0)),
            "seconds": round(time.time() - t0, 1),
            "parameters": plan.values[run],
        }

    def one(run):
        t0 = time.time()
        nb_path, html_path = plan.paths(run)
        prep = Prepared(
            plan.template,
            None,
            plan.spec,
            plan.values[run],
            plan.kernel,
            plan.out_dir(run),
            nb_path,
            html_path,
            overwrite=overwrite,
        )
        with lock:
            if kernels.stopped.is_set():
                return None
            in_flight[run] = (prep, t0)
        try:
            res = execute(prep, html=True, progress=False, kernels=kernels)
            ok, message = res.ok, res.message
        except Exception as exc:  # an output that cannot be written, ...
            ok, message = False, f"{type(exc).__name__}: {exc}"
        if kernels.stopped.is_set():
            with lock:
                if in_flight.pop(run, None) is None:  # recorded by the interrupt
                    return results.get(run)
                entry = results[run] = interrupted(run, prep, t0)
                _merge_write(spath, plan, run, entry)
            return entry
        if ok:
            entry = {"status": "done", "notebook": str(nb_path)}
        else:
            entry = {
                "status": "failed",
                "message": message,
                "notebook": str(failed_paths(nb_path)[0]),
            }
        entry.update(
            started=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t0)),
            seconds=round(time.time() - t0, 1),
        )
        entry["parameters"] = plan.values[run]
        with lock:
            in_flight.pop(run, None)
            results[run] = entry
            _merge_write(spath, plan, run, entry)
            if bar:
                bar.update(1)
            if echo:
                echo(f"run {run}: {entry['status']}")
        return entry

    jobs = max(1, int(jobs or 1))
    if todo:
        pool = ThreadPoolExecutor(max_workers=min(jobs, len(todo)))
        futures = []
        try:
            futures = [pool.submit(one, run) for run in todo]
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            _interrupt(pool, futures, kernels, lock, in_flight, interrupted, results, spath, plan)
            raise
        pool.shutdown()
    if bar:
        bar.close()
    _merge_write(spath, plan)
    return dict(sorted(results.items()))


def _interrupt(pool, futures, kernels, lock, in_flight, interrupted, results, spath, plan):
    """Ctrl-C: drop the runs not started, kill the kernels of those in flight, record
    them ``interrupted`` and say so; returns within about :data:`STOP_WAIT` seconds."""
    pool.shutdown(wait=False, cancel_futures=True)
    with lock:
        kernels.stop()
    # the threads notice their dead kernel and record the run; those that do not in time
    # are recorded here (a late thread finds its run recorded and writes nothing)
    wait_futures(futures, timeout=STOP_WAIT)
    with lock:
        for run, (prep, t0) in sorted(in_flight.items()):
            results[run] = interrupted(run, prep, t0)
            try:
                _merge_write(spath, plan, run, results[run])
            except (OSError, ToolBoxFileError):
                pass
        in_flight.clear()
        stopped = sorted(r for r, e in results.items() if e and e["status"] == "interrupted")
    if stopped:
        print(
            f"scs-nb: interrupted: run(s) {', '.join(map(str, stopped))} stopped and recorded "
            f"as interrupted in {spath}; rerun the same command to redo them",
            file=sys.stderr,
        )


def status_table(results: dict, run_param="run") -> str:
    """A text table: run, status, detail; and a summary line."""
    rows = [(run_param.upper(), "STATUS", "DETAIL")]
    for run, entry in results.items():
        detail = entry.get("message") or entry.get("notebook", "")
        detail = detail.splitlines()[0] if detail else ""
        rows.append((str(run), entry["status"], detail))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{r[0].rjust(w0)}  {r[1].ljust(w1)}  {r[2]}" for r in rows]
    counts = {
        s: sum(1 for e in results.values() if e["status"] == s)
        for s in ("done", "failed", "skipped", "interrupted")
    }
    lines.append(
        f"{counts['done']} done, {counts['failed']} failed, {counts['skipped']} skipped"
        + (f", {counts['interrupted']} interrupted" if counts["interrupted"] else "")
    )
    return "\n".join(lines)


def failed_runs(template, out=None) -> list:
    """Runs recorded as failed in a batch's status file."""
    tpl = template if isinstance(template, Template) else find_template(template)
    base = Path(out).absolute() if out else default_output_dir(tpl.name, {})
    spath = status_path(base, tpl.name)
    if not base.is_dir():
        return []
    with locked(spath):
        state = batch_state(spath, tpl.name)
    return sorted(int(r) for r, e in state["runs"].items() if e.get("status") in RETRY_STATUSES)
