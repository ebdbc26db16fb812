"""Run one template headless: validate, execute with papermill, write notebook + HTML.

Everything that can be checked is checked before a kernel starts: the template's
parameter cell, every given value, the kernel name and the output location.
Outputs are written to a temporary name and renamed, so an ``.ipynb`` or ``.html``
with the final name is always complete. A failing cell leaves
``<name>.failed.ipynb``/``.failed.html`` beside them and a message naming the cell.
While a template executes, its output is claimed (an ``fcntl`` lock on
``.<name>.lock``): a second execution into the same output fails at once instead of
replacing the first one's notebook. When the outputs cannot be written (a full disk),
the message names the path and the executed notebook is kept as ``<name>.failed.ipynb``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._version import __version__
from ..atomic import (
    check_name,
    check_writable_dir,
    clean_stale,
    json_default,
    part_name,
)
from ..errors import ToolBoxPathError, ToolBoxValueError
from ..progress import REPORT_ENV
from ..results import CONTEXT_ENV, RESULTS_ENV, RESULTS_SUFFIX, read_results
from .inputs import check_runs_exist
from .kernel import KernelRegistry, kernel_manager_class, relay_kernel_stderr
from .outputs import (
    check_seconds,
    claim_output,
    failed_paths,
    output_changes,
    parameter_changes,
    read_state,
    record_state,
    state_path,
    template_digest,
    write_failure,
    write_together,
)
from .params import validate_parameters
from .report import add_header, collapse_streams
from .templates import Template, safe_name, template_inputs

__all__ = [
    "Prepared",
    "RunResult",
    "prepare",
    "run_template",
    "resolve_kernel",
    "default_output_dir",
    "output_paths",
    "available_kernels",
    "state_path",
    "read_state",
    "parameter_changes",
    "output_changes",
    "record_state",
    "results_path",
]


class _KnownParameters(logging.Filter):
    """papermill's own parameter guess misreads annotations such as ``float | None``
    and warns about "unknown" parameters that scs_nb has already validated."""

    def filter(self, record):
        return not str(record.getMessage()).startswith(
            ("Passed unknown parameter", "Unable to parse line")
        )


for _name in ("papermill", "papermill.translators"):
    logging.getLogger(_name).addFilter(_KnownParameters())


@dataclass
class Prepared:
    """A template with validated parameters, ready to execute."""

    template: Template
    nb: object
    spec: dict
    values: dict
    kernel: str
    out_dir: Path
    notebook_path: Path
    html_path: Path
    overwrite: bool = False  # replace a complete output (else refuse it)


@dataclass
class RunResult:
    """The outcome of one template execution.

    Attributes
    ----------
    ok : bool
        Every cell ran.
    notebook, html : Path or None
        The executed notebook and report (``.failed.*`` ones when a cell failed).
    kernel : str
        The kernel used.
    message : str
        What was written, or which cell failed and why.
    failed_cell : int or None
        papermill's index of the failing cell.
    duration : float
        Execution time in seconds.
    parameters : dict
        The validated parameters.
    """

    ok: bool
    notebook: Path | None
    html: Path | None
    kernel: str
    message: str = ""
    failed_cell: int | None = None
    duration: float = 0.0
    parameters: dict = field(default_factory=dict)


def available_kernels() -> dict:
    """``{name: resource_dir}`` of the installed Jupyter kernels."""
    from jupyter_client.kernelspec import KernelSpecManager  # heavy: jupyter machinery

    return KernelSpecManager().find_kernel_specs()


def resolve_kernel(requested, nb=None, values=None) -> str:
    """The kernel to use; raises ToolBoxValueError if it is not installed.

    Without ``requested``: the proposal's toolbox kernel ``toolbox_p00NNNN`` when the
    template has a ``proposal`` parameter and that kernel is installed, else the
    template's own kernelspec, else ``python3``.
    """
    kernels = available_kernels()
    if requested:
        check_name(requested, "kernel")
        if requested not in kernels:
            raise ToolBoxValueError(
                f"kernel {requested!r} is not installed; installed kernels: "
                f"{', '.join(sorted(kernels)) or '(none)'}. Register a proposal kernel with "
                "`scs-activate-toolbox-kernel --proposal N` or pass --kernel NAME."
            )
        return requested
    candidates = []
    proposal = (values or {}).get("proposal")
    if isinstance(proposal, int) and not isinstance(proposal, bool):
        candidates.append(f"toolbox_p{proposal:06d}")
    if nb is not None:
        name = nb.metadata.get("kernelspec", {}).get("name")
        if name:
            candidates.append(name)
    candidates.append("python3")
    for name in candidates:
        if name in kernels:
            return name
    raise ToolBoxValueError(
        f"none of the kernels {', '.join(candidates)} is installed (installed: "
        f"{', '.join(sorted(kernels)) or 'none'}); pass --kernel NAME"
    )


def _run_number(values):
    """The integer ``run`` of a parameter dict, or None."""
    run = values.get("run")
    return run if isinstance(run, int) and not isinstance(run, bool) else None


def default_output_dir(template_name, values, base=None) -> Path:
    """``<base>/<template>/r<run:04d>`` (or ``<base>/<template>`` without a run);
    ``base`` defaults to ``./processed_runs``."""
    base = Path(base) if base else Path.cwd() / "processed_runs"
    out = base / safe_name(template_name)
    run = _run_number(values)
    if run is not None:
        out = out / f"r{run:04d}"
    return out.absolute()


def output_paths(out_dir, template_name, values):
    """The notebook and report of one execution.

    Parameters
    ----------
    out_dir : str or Path
        The output folder.
    template_name : str
        The template's name.
    values : dict
        The parameters (``run`` names the files ``<template>_r<run:04d>``).

    Returns
    -------
    tuple of Path
        ``(notebook .ipynb, report .html)``.
    """
    stem = safe_name(template_name)
    run = _run_number(values)
    if run is not None:
        stem += f"_r{run:04d}"
    out_dir = Path(out_dir)
    return out_dir / f"{stem}.ipynb", out_dir / f"{stem}.html"


def results_path(notebook_path) -> Path:
    """The recorded results ``<stem>.results.json`` beside an executed notebook
    (see ``scs_nb.results``).

    Parameters
    ----------
    notebook_path : str or Path
        The executed notebook.

    Returns
    -------
    Path
    """
    p = Path(notebook_path)
    return p.with_name(p.stem + RESULTS_SUFFIX)


def prepare(
    template, parameters=None, param_file=None, kernel=None, out=None, overwrite=False
) -> Prepared:
    """Find the template, validate parameters, kernel and output location.

    Parameters
    ----------
    template : str, Path or Template
        A template name (``scs-nb templates``) or an ``.ipynb`` path.
    parameters : dict, optional
        Values (strings from ``-p`` are parsed by the parameter's type).
    param_file : str, optional
        YAML file of values, overridden by ``parameters``.
    kernel : str, optional
        Jupyter kernel (default: see :func:`resolve_kernel`).
    out : str or Path, optional
        Output folder (default: :func:`default_output_dir`).
    overwrite : bool
        Replace existing outputs.

    Returns
    -------
    Prepared

    Raises
    ------
    ToolBoxError
        A subclass for anything wrong (a missing run included); no kernel is
        started and nothing is written.
    """
    tpl, nb, spec, given = template_inputs(template, parameters, param_file)
    values = validate_parameters(spec, given, template=tpl.name)
    check_runs_exist(values, tpl.name)
    kname = resolve_kernel(kernel, nb, values)
    out_dir = Path(out).absolute() if out else default_output_dir(tpl.name, values)
    check_writable_dir(out_dir, "output folder", "--out (out=)")
    nb_path, html_path = output_paths(out_dir, tpl.name, values)
    if not overwrite:
        existing = [p for p in (nb_path, html_path) if p.exists()]
        if existing:
            old = read_state(nb_path)
            diff = output_changes(old, tpl, values) if old else []
            raise ToolBoxPathError(
                f"{existing[0]} already exists"
                + (f" (made with other parameters: {'; '.join(diff)})" if diff else "")
                + "; pass --overwrite to replace it, or choose another --out folder"
            )
    return Prepared(tpl, nb, spec, values, kname, out_dir, nb_path, html_path, overwrite)


def _set_kernelspec(nb, kernel):
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel  # heavy: jupyter

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel)
        display, language = spec.display_name, spec.language
    except NoSuchKernel:  # pragma: no cover - checked before execution
        display, language = kernel, "python"
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": display, "language": language}


def _html(nb) -> str:
    from nbconvert import HTMLExporter  # heavy: only for HTML reports

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nb)
    return body


def _finish(nb, prep: Prepared, nb_path, html_path, html):
    import nbformat  # heavy: only when a notebook is written

    _set_kernelspec(nb, prep.kernel)
    rpath = results_path(prep.notebook_path)
    records = read_results(rpath) if rpath.is_file() else []
    nb.metadata["scs_nb"] = {
        "template": prep.template.name,
        "template_path": str(prep.template.path),
        "template_sha256": template_digest(prep),
        "parameters": prep.values,
        "kernel": prep.kernel,
        "version": __version__,
        "results": [{k: v for k, v in r.items() if k != "file"} for r in records],
    }
    add_header(nb, prep.template.name, prep.values, prep.spec, prep.kernel, records)
    collapse_streams(nb)
    # the HTML first: the .ipynb is the marker of a complete output
    items = [(Path(html_path), _html(nb))] if html else []
    write_together(items + [(Path(nb_path), nbformat.writes(nb))])


def _failed_cell_message(exc, nb, template_name):
    """Text naming the failing cell of a PapermillExecutionError."""
    index = getattr(exc, "cell_index", None)
    count = getattr(exc, "exec_count", None)
    source = (getattr(exc, "source", "") or "").strip().splitlines()
    first = source[0] if source else ""
    # papermill's index counts the injected-parameters cell; report the template's cell
    tpl_index = index
    if index is not None:
        injected = [
            i
            for i, c in enumerate(nb.cells)
            if "injected-parameters" in c.get("metadata", {}).get("tags", [])
            or "papermill-error-cell-tag" in c.get("metadata", {}).get("tags", [])
        ]
        tpl_index = index - sum(1 for i in injected if i < index)
    where = f"cell {tpl_index + 1} of {template_name}" if tpl_index is not None else "a cell"
    if count is not None:
        where += f" (In [{count}])"
    return f"{where} failed: {exc.ename}: {exc.evalue}" + (
        f"\n    first line: {first}" if first else ""
    )


def execute(
    prep: Prepared,
    html=True,
    log_output=False,
    progress=None,
    timeout=None,
    start_timeout=120,
    kernels: KernelRegistry | None = None,
) -> RunResult:
    """Execute a prepared template; never raises for a failing cell.

    Parameters
    ----------
    prep : Prepared
        From :func:`prepare`.
    html : bool
        Also write the HTML report (code hidden).
    log_output : bool
        Log cell outputs as they come (papermill, INFO level).
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).
    timeout : float, optional
        Time limit per cell in seconds.
    start_timeout : float
        Seconds the kernel may take to start.
    kernels : KernelRegistry, optional
        Where the kernel is registered, so that an interrupt can stop it.

    Returns
    -------
    RunResult
        ``ok`` False with ``message`` naming the cell when a cell failed, or the path
        that could not be written.

    Raises
    ------
    ToolBoxError
        A bad ``timeout``, or the output is being written by another execution
        (:func:`claim_output`); no kernel is started.
    """
    check_seconds(timeout, "the time limit per cell (--timeout)")
    check_seconds(start_timeout, "the kernel start time limit")
    prep.out_dir.mkdir(parents=True, exist_ok=True)
    with claim_output(prep):
        return _execute(prep, html, log_output, progress, timeout, start_timeout, kernels)


def _execute(prep, html, log_output, progress, timeout, start_timeout, kernels):
    # heavy: papermill starts kernels; only needed when a template is executed
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    stem = prep.notebook_path.stem
    # leftovers of killed runs (hidden .part.ipynb of processes that no longer exist);
    # only files carrying scs_nb's owner tag: other programs share output folders
    clean_stale(prep.out_dir, f".{stem}.", ".part.ipynb", owned_only=True)
    clean_stale(prep.out_dir, ".", ".part", owned_only=True)
    fd, tmp = tempfile.mkstemp(
        dir=prep.out_dir, prefix=part_name(f".{stem}"), suffix=".part.ipynb"
    )
    os.close(fd)
    if progress is None:
        progress = sys.stderr.isatty()
    # the kernel records results into <stem>.results.json (scs_nb.results.record)
    rpath = results_path(prep.notebook_path)
    rpath.unlink(missing_ok=True)
    env = {
        # library progress bars as text the saved report keeps (scs_nb.progress)
        REPORT_ENV: "1",
        RESULTS_ENV: str(rpath),
        CONTEXT_ENV: json.dumps(
            {
                "template": prep.template.name,
                "parameters": prep.values,
                "proposal": prep.values.get("proposal"),
                "run": _run_number(prep.values),
            },
            default=json_default,
        ),
    }
    kernel_log = tempfile.TemporaryFile(mode="w+b")
    key = object()  # this execution's kernels in the registry
    t0 = time.monotonic()
    error, failed_cell = None, None
    try:
        # the kernel starts in the output folder; papermill's cwd= would chdir this
        # whole process, which threads of a batch must not do
        pm.execute_notebook(
            str(prep.template.path),
            tmp,
            parameters=prep.values,
            kernel_name=prep.kernel,
            log_output=log_output,
            progress_bar=progress,
            execution_timeout=timeout,
            start_timeout=start_timeout,
            resources={"metadata": {"path": str(prep.out_dir)}},
            kernel_manager_class=kernel_manager_class(env, kernel_log, kernels, key),
        )
    except PapermillExecutionError as exc:
        error = exc
        failed_cell = exc.cell_index
    except Exception as exc:  # dead kernel, timeout, ...
        error = exc
    finally:
        if kernels is not None:
            kernels.release(key)
    duration = time.monotonic() - t0
    relay_kernel_stderr(kernel_log, prep.template.name)
    try:
        try:
            nb = nbformat.read(tmp, as_version=4) if os.path.getsize(tmp) else None
        except Exception:  # a notebook papermill could not finish writing (full disk)
            nb = None
        if error is None:
            try:
                _finish(nb, prep, prep.notebook_path, prep.html_path, html)
            except OSError as exc:
                msg, kept = write_failure(prep, exc, tmp)
                record_state(prep, "failed", msg, kept)
                return RunResult(False, kept, None, prep.kernel, msg, None, duration, prep.values)
            for stale in failed_paths(prep.notebook_path):
                if stale.exists():
                    stale.unlink()
            record_state(prep, "done", f"wrote {prep.notebook_path}", prep.notebook_path)
            return RunResult(
                True,
                prep.notebook_path,
                prep.html_path if html else None,
                prep.kernel,
                f"wrote {prep.notebook_path}",
                None,
                duration,
                prep.values,
            )
        fnb, fhtml = failed_paths(prep.notebook_path)
        if isinstance(error, PapermillExecutionError):
            msg = _failed_cell_message(error, nb, prep.template.name)
        else:
            msg = f"execution failed: {type(error).__name__}: {error}"
        if nb is not None:
            try:
                _finish(nb, prep, fnb, fhtml, html)
                msg += f"\n    executed notebook with the error: {fnb}"
            except OSError as exc:
                more, kept = write_failure(prep, exc, tmp)
                msg += "\n    " + more
                nb = None if kept is None else nb
                html = False
        if rpath.exists():  # partial records of a failed execution are not results
            os.replace(rpath, Path(fnb).with_name(Path(fnb).stem + RESULTS_SUFFIX))
        record_state(prep, "failed", msg, fnb if nb is not None else None)
        return RunResult(
            False,
            fnb if nb is not None else None,
            fhtml if (nb is not None and html) else None,
            prep.kernel,
            msg,
            failed_cell,
            duration,
            prep.values,
        )
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def run_template(
    template,
    parameters=None,
    param_file=None,
    kernel=None,
    out=None,
    overwrite=False,
    html=True,
    log_output=False,
    progress=None,
    timeout=None,
) -> RunResult:
    """Validate and run one template; returns a RunResult (``ok`` False for a failing cell).

    Parameters
    ----------
    template, parameters, param_file, kernel, out, overwrite
        See :func:`prepare`.
    html, log_output, progress, timeout
        See :func:`execute`.

    Returns
    -------
    RunResult

    Raises
    ------
    ToolBoxError
        Invalid parameters, an unknown kernel or an existing output, before any
        kernel is started.
    """
    prep = prepare(template, parameters, param_file, kernel, out, overwrite)
    return execute(prep, html=html, log_output=log_output, progress=progress, timeout=timeout)
