"""``scs-nb templates | run | batch | submit | status``."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

from ..errors import ToolBoxError
from ..parallel.slurm_options import add_slurm_arguments, slurm_values
from .batch import failed_runs, load_status, parse_runs, plan_batch, run_batch
from .batch import status_table as batch_table
from .params import parameters_table, parse_assignments
from .runner import default_output_dir, execute, prepare
from .slurm import (
    SlurmOptions,
    build_scripts,
    find_records,
    status_table,
    submission_status,
    submit_scripts,
)
from .templates import find_template, list_templates, templates_dir

EPILOG_PARAMS = (
    "Parameters: -p NAME=VALUE (repeatable) is parsed by the parameter's "
    "annotated type (int, float, str, bool, list as 1,2,3 or [1, 2, 3]); "
    "-f FILE reads a YAML mapping, overridden by -p."
)


def _seconds(text):
    """``--timeout``: a finite number of seconds > 0 (argparse refuses others, exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"expects a finite number of seconds > 0, got {text!r}; leave it out for no limit"
        )
    return value


def _add_common(p, out_help):
    p.add_argument(
        "template", nargs="?", help="template name (see `scs-nb templates`) or path to an .ipynb"
    )
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a template parameter (repeatable)",
    )
    p.add_argument("-f", "--param-file", metavar="FILE", help="YAML file of parameters")
    p.add_argument(
        "--kernel",
        metavar="NAME",
        help="Jupyter kernel (default: toolbox_p00NNNN if installed, else the template's kernel)",
    )
    p.add_argument("--out", metavar="DIR", help=out_help)
    p.add_argument(
        "-h",
        "--help",
        action="store_true",
        help="show this help, and the template's parameters when TEMPLATE is given",
    )


def register(sub):
    """Add ``templates``, ``run``, ``batch``, ``submit`` and ``status`` to ``scs-nb``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The sub-command parsers of ``scs-nb`` (see ``scs_nb.cli``).
    """
    p = sub.add_parser(
        "templates",
        help="list the notebook templates",
        description="List the shipped templates with a one-line description.",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="also check each template's parameters cell (exit 1 if one is broken)",
    )
    p.add_argument("--paths", action="store_true", help="show each template's file")
    p.set_defaults(func=cmd_templates)

    p = sub.add_parser(
        "run",
        add_help=False,
        epilog=EPILOG_PARAMS,
        help="run a template headless: executed notebook + HTML report",
        description="Validate parameters, execute the template with papermill, "
        "write the executed notebook and an HTML report (code hidden).",
    )
    _add_common(p, "output folder (default ./processed_runs/TEMPLATE/rNNNN)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--no-html", action="store_true", help="skip the HTML report")
    p.add_argument("--log-output", action="store_true", help="print cell outputs as they come")
    p.add_argument("--timeout", type=_seconds, metavar="S", help="time limit per cell in seconds")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--simulate",
        action="store_true",
        help="first simulate the missing input runs with the scenarios the template names "
        "(only into a proposal the simulator owns; never into real data)",
    )
    p.set_defaults(func=cmd_run, _parser=p)

    p = sub.add_parser(
        "batch",
        add_help=False,
        epilog=EPILOG_PARAMS,
        help="run a template over many runs, with a status table",
        description="Run a template once per run (--runs 10-20,25), JOBS at a "
        "time; complete outputs are skipped unless --overwrite.",
    )
    _add_common(p, "batch folder; one subfolder rNNNN per run (default ./processed_runs/TEMPLATE)")
    p.add_argument("--runs", metavar="SPEC", help="runs, e.g. 10-20,25 or 10-20:2")
    p.add_argument(
        "--run-param",
        default="run",
        metavar="NAME",
        help="the template parameter that takes the run number (default: run)",
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        metavar="N",
        help="runs executed at the same time (default 1)",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="rerun only the runs that failed in the previous batch",
    )
    p.add_argument("--overwrite", action="store_true", help="redo complete runs too")
    p.set_defaults(func=cmd_batch, _parser=p)

    p = sub.add_parser(
        "submit",
        add_help=False,
        epilog=EPILOG_PARAMS,
        help="run a template on SLURM (sbatch job arrays)",
        description="Write sbatch job-array scripts that run the template once "
        "per run (or per value of --over) and submit them; --dry-run prints them. "
        "The ToolBox's job scripts with their named options: "
        "`scs-nb submit dssc-binning --help`.",
    )
    _add_common(p, "output folder; one subfolder per task (default ./processed_runs/TEMPLATE)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--runs", metavar="SPEC", help="one array task per run, e.g. 10-20,25")
    g.add_argument(
        "--over",
        metavar="NAME=VALUES",
        help="one array task per value of another parameter, e.g. module_group=0-3",
    )
    p.add_argument(
        "--run-param",
        default="run",
        metavar="NAME",
        help="the parameter --runs sets (default: run)",
    )
    add_slurm_arguments(p)
    p.add_argument(
        "--max-concurrent",
        type=int,
        default=32,
        metavar="N",
        help="array tasks running at once (%%N; default 32)",
    )
    p.add_argument(
        "--array-size",
        type=int,
        default=1000,
        metavar="N",
        help="tasks per job array script (at most 1000)",
    )
    p.add_argument(
        "--logs",
        metavar="DIR",
        help="folder of the per-task logs (default OUT/logs; files %%A_%%a-%%x.out)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the script(s), submit nothing")
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="resubmit only the tasks that failed in the submissions recorded in "
        "OUT (see `scs-nb status OUT`); with --runs/--over, only those of them",
    )
    p.set_defaults(func=cmd_submit, _parser=p)

    p = sub.add_parser(
        "status",
        help="state of a SLURM submission's or a batch's tasks",
        description="A table of the tasks submitted with `scs-nb submit --out "
        "OUT` (pending / running from squeue, done / failed from their "
        "outputs) or run by `scs-nb batch --out OUT`, with the report of each "
        "failed task. Exit code 1 while any task failed.",
    )
    p.add_argument("out", metavar="OUT", help="the --out folder of the submission or batch")
    p.set_defaults(func=cmd_status)


def _help(args, extra=None) -> int:
    args._parser.print_help()
    if args.template:
        tpl = find_template(args.template)
        nb = tpl.notebook()
        print(f"\ntemplate {tpl.name}: {tpl.description(nb)}\n  {tpl.path}\n\nparameters:")
        print(parameters_table(tpl.parameters(nb)))
        print(
            "\nA parameter shown as (required) must be given; '| None' ones may be None.\n"
            "A constraint closing a help text, such as (> 0), (0..15) or (non-empty), is "
            "checked before a kernel starts; floats must be finite."
        )
    return 0


def _need_template(args):
    if not args.template:
        args._parser.print_usage(sys.stderr)
        raise ToolBoxError("a TEMPLATE is required (see `scs-nb templates`)")


def _given(args) -> dict:
    return parse_assignments(args.param)


def cmd_templates(args) -> int:
    """Run ``scs-nb templates``: list the templates (``--check``: and check their parameters).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by the parser :func:`register` added.

    Returns
    -------
    int
        The exit code (1 when ``--check`` finds a broken template).
    """
    items = list_templates()
    if not items:
        print(f"no templates in {templates_dir()}")
        return 0
    width = max(len(t.name) for t in items)
    broken = 0
    for t in items:
        try:
            nb = t.notebook()
            line = f"{t.name.ljust(width)}  {t.description(nb)}"
            if args.check:
                try:
                    spec = t.parameters(nb)
                    first = next(c for c in nb.cells if c.cell_type == "code")
                    if "parameters" not in first.metadata.get("tags", []):
                        raise ToolBoxError(
                            "the first code cell must be the one tagged 'parameters'"
                        )
                    line += f"  [ok: {len(spec)} parameters]"
                except ToolBoxError as exc:
                    broken += 1
                    line += f"\n{' ' * width}  BROKEN: {exc}"
        except ToolBoxError as exc:
            broken += 1
            line = f"{t.name.ljust(width)}  BROKEN: {exc}"
        if args.paths:
            line += f"\n{' ' * width}  {t.path}"
        print(line)
    return 1 if broken and args.check else 0


def cmd_run(args) -> int:
    """Run ``scs-nb run``: execute one template headless.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by the parser :func:`register` added.

    Returns
    -------
    int
        The exit code (1 when a cell failed).
    """
    if args.help:
        return _help(args)
    _need_template(args)
    prep = prepare(
        args.template,
        _given(args),
        args.param_file,
        args.kernel,
        args.out,
        overwrite=args.overwrite,
    )
    print(
        f"scs-nb: running {prep.template.name} with kernel {prep.kernel} -> {prep.out_dir}",
        file=sys.stderr,
    )
    if args.log_output:  # papermill logs cell outputs at INFO level
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log = logging.getLogger("papermill")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    res = execute(
        prep,
        html=not args.no_html,
        log_output=args.log_output,
        progress=False if args.no_progress else None,
        timeout=args.timeout,
    )
    if res.ok:
        print(f"notebook: {res.notebook}")
        if res.html:
            print(f"report:   {res.html}")
        return 0
    print(f"scs-nb: error: {res.message}", file=sys.stderr)
    return 1


def cmd_batch(args) -> int:
    """Run ``scs-nb batch``: run a template once per run.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by the parser :func:`register` added.

    Returns
    -------
    int
        The exit code (1 when a run failed).
    """
    if args.help:
        return _help(args)
    _need_template(args)
    runs = args.runs
    if runs is None:
        if not args.retry_failed:
            raise ToolBoxError(
                "--runs is required (e.g. --runs 10-20,25), or --retry-failed "
                "to rerun the failures of the previous batch"
            )
        runs = failed_runs(args.template, args.out)
        if not runs:
            print("no failed runs to retry")
            return 0
    plan = plan_batch(
        args.template,
        runs,
        _given(args),
        args.param_file,
        args.kernel,
        args.out,
        run_param=args.run_param,
    )
    print(
        f"scs-nb: {plan.template.name} over {len(plan.runs)} run(s), kernel {plan.kernel}, "
        f"{args.jobs} at a time -> {plan.base}",
        file=sys.stderr,
    )
    echo = None if sys.stderr.isatty() else (lambda msg: print(msg, file=sys.stderr))
    results = run_batch(
        plan, jobs=args.jobs, overwrite=args.overwrite, retry_failed=args.retry_failed, echo=echo
    )
    print(batch_table(results, plan.run_param))
    failed = [r for r, e in results.items() if e["status"] == "failed"]
    if failed:
        print(
            f"scs-nb: {len(failed)} run(s) failed; rerun them with --retry-failed", file=sys.stderr
        )
        return 1
    return 0


def cmd_submit(args) -> int:
    """Run ``scs-nb submit``: write (and unless ``--dry-run`` submit) the sbatch job arrays.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by the parser :func:`register` added.

    Returns
    -------
    int
        The exit code.
    """
    if args.help:
        return _help(args)
    _need_template(args)
    over = None
    if args.runs is not None:
        over = (args.run_param, args.runs)
    elif args.over is not None:
        name, sep, values = args.over.partition("=")
        if not sep or not name.isidentifier():
            raise ToolBoxError(
                f"--over expects NAME=VALUES such as module_group=0-3, got {args.over!r}"
            )
        over = (name, values)
    opts = SlurmOptions(
        max_concurrent=args.max_concurrent,
        logs=args.logs,
        array_size=args.array_size,
        **slurm_values(args),
    )
    if args.retry_failed:
        go, over = _retry_over(args, over)
        if not go:
            return 0
    scripts = build_scripts(
        args.template, _given(args), args.param_file, over, args.kernel, args.out, opts
    )
    if args.dry_run:
        for i, s in enumerate(scripts):
            if len(scripts) > 1:
                print(f"# ---- script {i + 1} of {len(scripts)} ----")
            print(s.text)
        return 0
    submit_scripts(scripts)
    return 0


def _retry_over(args, over):
    """--retry-failed: ``(go, over)`` with the failed task values of the submissions
    recorded under --out (restricted to --runs/--over when given); go False when
    nothing failed."""
    tpl = find_template(args.template)
    base = Path(args.out) if args.out else default_output_dir(tpl.name, {})
    if not find_records(base):
        raise ToolBoxError(
            f"--retry-failed: no submission recorded under {base}; pass the "
            "--out folder of the first submission"
        )
    rows = [
        r for r in submission_status(base) if r["state"] == "failed" and r["template"] == tpl.name
    ]
    if over is not None:
        try:
            wanted = {str(v) for v in parse_runs(over[1])}
        except ToolBoxError:
            wanted = {v for v in over[1].split(",") if v}
        rows = [r for r in rows if r["param"] == over[0] and str(r["value"]) in wanted]
    if not rows:
        print("scs-nb: no failed task to resubmit")
        return False, None
    names = {r["param"] for r in rows}
    if len(names) > 1:
        raise ToolBoxError(
            "the failed tasks vary different parameters "
            f"({', '.join(map(str, names))}); "
            "choose with --runs or --over NAME=VALUES"
        )
    name = names.pop()
    if name is None:
        return True, None
    values = ",".join(str(r["value"]) for r in rows)
    print(f"scs-nb: resubmitting {len(rows)} failed task(s): {name}={values}", file=sys.stderr)
    return True, (name, values)


def cmd_status(args) -> int:
    """Run ``scs-nb status``: the table of a submission's or a batch's tasks.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by the parser :func:`register` added.

    Returns
    -------
    int
        The exit code (1 while a task failed).
    """
    out = Path(args.out)
    if not out.is_dir():
        raise ToolBoxError(
            f"{out} is not a folder; pass the --out folder of a submission or batch"
        )
    if find_records(out):
        rows = submission_status(out)
        print(status_table(rows))
        return 1 if any(r["state"] == "failed" for r in rows) else 0
    batches = sorted(out.glob("*_batch.json"))
    if not batches:
        raise ToolBoxError(
            f"no SLURM submission (slurm/submissions.json) nor batch "
            f"(*_batch.json) recorded in {out}; pass the --out folder given "
            "to `scs-nb submit` or `scs-nb batch`"
        )
    failed = 0
    for path in batches:
        state = load_status(path)
        runs = {
            int(r) if r.isdigit() else r: e
            for r, e in sorted(state["runs"].items(), key=lambda kv: (len(kv[0]), kv[0]))
        }
        print(f"batch {path.name}:")
        print(batch_table(runs, state.get("run_param", "run")))
        for run, e in runs.items():
            if e.get("status") == "failed":
                failed += 1
                nb = Path(e.get("notebook", ""))
                html = nb.with_suffix(".html")
                print(f"  failed {run}: {html if html.is_file() else nb}")
    return 1 if failed else 0
