"""``scs-nb watch``: every new complete run of a proposal processed by templates, once.

A run is complete when its folder ``raw/rNNNN`` holds files (no temporary ``.part``
ones) whose sizes and modification times have not changed for ``settle`` seconds,
seen on two polls at least ``settle`` apart: no inotify, which GPFS does not deliver
between nodes. One poll lists ``raw/`` once and stats the files of the runs not yet
taken, so its cost does not grow with the runs already processed.

The state of every (run, template) is kept in ``<proposal>/usr/processed_runs/
watch.json`` (written atomically after each change; one watcher per proposal holds
its lock): ``pending`` -> ``running`` (local) or ``submitted`` (SLURM) -> ``done`` or
``failed``. A restart finds executions it started still marked running: it reads
their outputs (the runner's state file) and reruns only those that left none, so no
run is processed twice and none is skipped. Failed ones stay failed until
``retry_failed``.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..atomic import json_default, write_atomic
from ..batch.runner import execute, output_paths, prepare, read_state, results_path
from ..batch.slurm import SlurmOptions, build_scripts, submit_scripts
from ..damnit.submit import submit_records
from ..errors import ToolBoxError, ToolBoxPathError, ToolBoxValueError
from ..facility import find_proposal, processed_dir, validate_proposal
from ..results import read_results

__all__ = ["Watcher", "STATE_NAME", "state_file", "read_watch_state", "run_folder_complete"]

STATE_NAME = "watch.json"
STATUSES = ("pending", "running", "submitted", "done", "failed")


def state_file(proposal) -> Path:
    """``<proposal>/usr/processed_runs/watch.json``.

    Parameters
    ----------
    proposal : int

    Returns
    -------
    Path
    """
    return processed_dir(proposal) / STATE_NAME


def read_watch_state(proposal) -> dict:
    """The watcher's state of a proposal: ``{"runs": {"<run>": {template: entry}}}``.

    Parameters
    ----------
    proposal : int

    Returns
    -------
    dict
        Empty ``runs`` when nothing was watched.
    """
    try:
        path = state_file(proposal)
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError, ToolBoxPathError):
        return {"runs": {}}
    if not isinstance(data, dict) or not isinstance(data.get("runs"), dict):
        return {"runs": {}}
    return data


def _snapshot(run_dir: Path):
    """``{name: (size, mtime_ns)}`` of a run folder's files, or None while a temporary
    (``.part``) file or no file is there."""
    try:
        entries = list(os.scandir(run_dir))
    except OSError:
        return None
    snap = {}
    for e in entries:
        if e.name.endswith(".part") or e.name.startswith("."):
            return None
        if e.is_file():
            st = e.stat()
            snap[e.name] = (st.st_size, st.st_mtime_ns)
    return snap or None


def run_folder_complete(run_dir, previous, settle, now=None):
    """Whether a run folder is complete, given its snapshot of the previous poll.

    Parameters
    ----------
    run_dir : str or Path
        ``raw/rNNNN``.
    previous : dict or None
        The snapshot of the last poll (``None`` the first time).
    settle : float
        Seconds the files must be unchanged.
    now : float, optional
        Time of this poll (``time.time()``).

    Returns
    -------
    tuple
        ``(complete, snapshot)``: the snapshot is kept for the next poll.
    """
    now = time.time() if now is None else now
    snap = _snapshot(Path(run_dir))
    if snap is None:
        return False, None
    newest = max(m for _, m in snap.values()) / 1e9
    complete = snap == previous and now - newest >= settle
    return complete, snap


class Watcher:
    """Process every new complete run of a proposal with templates.

    Parameters
    ----------
    proposal : int
        The proposal.
    templates : list of str
        Template names run on each run (with ``proposal`` and ``run`` set).
    parameters : dict, optional
        ``{template: {name: value}}``, or one dict for every template (values for
        parameters a template does not have are not passed to it).
    jobs : int
        Templates executed at once (local).
    slurm : dict or None
        SLURM job options (``SlurmOptions`` keywords): templates run as jobs.
    damnit : bool
        Push results into the proposal's DAMNIT table.
    settle : float
        Seconds a run's files must be unchanged.
    interval : float
        Seconds between polls.
    first_run : int
        Runs below it are not processed.
    kernel : str, optional
        Jupyter kernel of the templates.
    echo : callable
        One line per event.
    """

    def __init__(
        self,
        proposal,
        templates,
        parameters=None,
        jobs=1,
        slurm=None,
        damnit=False,
        settle=10.0,
        interval=5.0,
        first_run=1,
        kernel=None,
        echo=None,
    ):
        self.proposal = validate_proposal(proposal)
        self.folder = Path(find_proposal(self.proposal))
        if not templates:
            raise ToolBoxValueError("pass at least one --template to run on each new run")
        self.templates = list(dict.fromkeys(templates))
        self.parameters = parameters or {}
        if int(jobs) < 1:
            raise ToolBoxValueError(f"--jobs must be at least 1, got {jobs}")
        self.jobs = int(jobs)
        self.slurm = slurm
        self.damnit = damnit
        self.settle, self.interval = float(settle), float(interval)
        self.first_run = int(first_run)
        self.kernel = kernel
        self.echo = echo or (lambda line: print(f"scs-nb watch: {line}", file=sys.stderr))
        self.path = state_file(self.proposal)
        self._snaps: dict = {}
        self._lock = threading.Lock()
        self._lock_fd = None
        self.state = read_watch_state(self.proposal)

    # -- state ---------------------------------------------------------------------
    def _save(self):
        self.state["proposal"] = self.proposal
        self.state["templates"] = self.templates
        write_atomic(self.path, json.dumps(self.state, indent=1, default=json_default))

    def _set(self, run, template, **entry):
        with self._lock:
            runs = self.state["runs"].setdefault(str(run), {})
            runs[template] = {**runs.get(template, {}), **entry, "updated": time.time()}
            self._save()

    def entry(self, run, template) -> dict:
        """The state of one (run, template), ``{}`` when never seen."""
        return self.state["runs"].get(str(run), {}).get(template, {})

    def _acquire(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name("." + self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ToolBoxPathError(
                f"another scs-nb watch is watching proposal {self.proposal} (it holds "
                f"{lock}); stop it first, or use --once from cron only when none runs"
            ) from None
        self._lock_fd = fd

    def _release(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- runs ----------------------------------------------------------------------
    def _values(self, template, run) -> dict:
        p = self.parameters
        given = p.get(template, {}) if any(isinstance(v, dict) for v in p.values()) else p
        return {**given, "proposal": self.proposal, "run": run}

    def out_dir(self, template, run) -> Path:
        """``<proposal>/usr/processed_runs/<template>/rNNNN``."""
        return processed_dir(self.proposal) / template / f"r{run:04d}"

    def new_complete_runs(self) -> list:
        """Runs whose folders are complete and that have a template not yet taken."""
        raw = self.folder / "raw"
        try:
            names = sorted(e.name for e in os.scandir(raw) if e.is_dir())
        except OSError:
            return []
        out = []
        now = time.time()
        for name in names:
            if len(name) != 5 or name[0] != "r" or not name[1:].isdigit():
                continue
            run = int(name[1:])
            if run < self.first_run:
                continue
            if all(self.entry(run, t).get("status") for t in self.templates):
                continue
            complete, snap = run_folder_complete(
                raw / name, self._snaps.get(run), self.settle, now
            )
            self._snaps[run] = snap
            if complete:
                out.append(run)
        return out

    def _recover(self):
        """Executions marked running/submitted: done or failed by their outputs, else
        pending again (a local one interrupted by the restart)."""
        for run, per in list(self.state["runs"].items()):
            for template, entry in per.items():
                if entry.get("status") not in ("running", "submitted"):
                    continue
                finished = self._finished(int(run), template)
                if finished:
                    self._record(int(run), template, finished)
                elif entry.get("status") == "running":
                    self._set(int(run), template, status="pending", message="interrupted")

    def _finished(self, run, template):
        """The runner's state of a finished execution (``done``/``failed``), or None."""
        nb, _ = output_paths(self.out_dir(template, run), template, {"run": run})
        st = read_state(nb)
        if (
            st
            and st.get("status") in ("done", "failed")
            and st.get("parameters", {}).get("run") == run
        ):
            return st
        return None

    def _record(self, run, template, st):
        nb, html = output_paths(self.out_dir(template, run), template, {"run": run})
        ok = st.get("status") == "done"
        records = []
        if ok and results_path(nb).is_file():
            records = [r for r in read_results(results_path(nb)) if r.get("run") in (run, None)]
        entry = {
            "status": "done" if ok else "failed",
            "message": st.get("message", ""),
            "notebook": str(nb) if ok else st.get("notebook"),
            "html": str(html) if ok else None,
            "results": str(results_path(nb)) if ok else None,
            "finished": time.time(),
        }
        if ok and self.damnit:
            try:
                submit_records(self.proposal, run, template, records, report=html)
                entry["damnit"] = "submitted"
            except ToolBoxError as exc:
                entry["damnit"] = f"not submitted: {exc}"
                self.echo(f"r{run:04d} {template}: DAMNIT: {exc}")
        self._set(run, template, **entry)
        self.echo(
            f"r{run:04d} {template}: {entry['status']}" + ("" if ok else f": {entry['message']}")
        )

    def _run_local(self, run, template):
        try:
            prep = prepare(
                template,
                self._values(template, run),
                kernel=self.kernel,
                out=self.out_dir(template, run),
                overwrite=True,
            )
        except ToolBoxError as exc:
            self._set(run, template, status="failed", message=str(exc), finished=time.time())
            self.echo(f"r{run:04d} {template}: failed before a kernel started: {exc}")
            return
        res = execute(prep, progress=False)
        self._record(
            run,
            template,
            {
                "status": "done" if res.ok else "failed",
                "message": res.message,
                "notebook": str(res.notebook) if res.notebook else None,
            },
        )

    def _submit(self, run, template):
        try:
            scripts = build_scripts(
                template,
                self._values(template, run),
                kernel=self.kernel,
                out=self.out_dir(template, run),
                options=SlurmOptions(**self.slurm),
            )
            ids = submit_scripts(scripts, echo=lambda line: None)
        except ToolBoxError as exc:
            self._set(run, template, status="failed", message=str(exc), finished=time.time())
            self.echo(f"r{run:04d} {template}: not submitted: {exc}")
            return
        self._set(run, template, status="submitted", job=ids[0], message=f"SLURM job {ids[0]}")
        self.echo(f"r{run:04d} {template}: SLURM job {ids[0]}")

    def _poll_submitted(self):
        for run, per in list(self.state["runs"].items()):
            for template, entry in per.items():
                if entry.get("status") == "submitted":
                    st = self._finished(int(run), template)
                    if st:
                        self._record(int(run), template, st)

    def retry_failed(self, runs=None) -> int:
        """Mark failed executions pending again (of ``runs``, or all); returns how many."""
        n = 0
        for run, per in self.state["runs"].items():
            if runs is not None and int(run) not in runs:
                continue
            for template, entry in per.items():
                if entry.get("status") == "failed" and template in self.templates:
                    entry["status"], n = "pending", n + 1
        if n:
            with self._lock:
                self._save()
        return n

    def _pending(self) -> list:
        return [
            (int(run), t)
            for run, per in sorted(self.state["runs"].items(), key=lambda kv: int(kv[0]))
            for t, e in per.items()
            if e.get("status") == "pending" and t in self.templates
        ]

    def poll(self, pool=None) -> list:
        """One poll: take new complete runs, start their pending templates.

        Returns
        -------
        list of (run, template)
            What was started (or submitted).
        """
        for run in self.new_complete_runs():
            for t in self.templates:
                if not self.entry(run, t).get("status"):
                    self._set(run, t, status="pending")
        started = []
        for run, t in self._pending():
            if self.slurm is not None:
                self._submit(run, t)
            else:
                self._set(run, t, status="running", started=time.time())
                self.echo(f"r{run:04d} {t}: running")
                if pool is None:
                    self._run_local(run, t)
                else:
                    pool.submit(self._run_local, run, t)
            started.append((run, t))
        if self.slurm is not None:
            self._poll_submitted()
        return started

    def run(self, once=False, stop=None, timeout=None):
        """Watch until interrupted (or ``stop`` is set, or ``timeout`` s have passed).

        Parameters
        ----------
        once : bool
            Process the complete runs of now and return (waits ``settle`` s to see the
            files unchanged, and for the executions it started; for cron).
        stop : threading.Event, optional
            Ends the watch when set.
        timeout : float, optional
            Ends the watch after this many seconds.
        """
        self._acquire()
        try:
            self._recover()
            t0 = time.monotonic()
            with ThreadPoolExecutor(self.jobs) as pool:
                if once:
                    self.poll(pool)  # first snapshots
                    time.sleep(self.settle + 0.05)
                    self.poll(pool)
                    return
                while not (stop is not None and stop.is_set()):
                    self.poll(pool)
                    if timeout is not None and time.monotonic() - t0 > timeout:
                        break
                    if stop is not None:
                        stop.wait(self.interval)
                    else:
                        time.sleep(self.interval)
        finally:
            self._release()
