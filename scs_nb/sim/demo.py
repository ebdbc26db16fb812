"""``scs-nb demo``: simulate a demo proposal, analyse it, show what was recovered.

1. every registered scenario is simulated as one run of the demo proposal
   (small runs) under ``<out>/exp``;
2. the checks of ``scs_nb.sim.checks`` analyse those runs with the library and
   compare with the ground truth;
3. every template runs headless on the runs of the scenarios its metadata names
   (the main run and its companion runs, passed as parameters), leaving an
   executed notebook, an HTML report and its recorded results under ``<out>/reports``;
4. the recorded results are compared with the ground truth (``checks.check_records``).
The table holds both: rows from the records (``source`` template name) and rows
of the library checks (``source`` library).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..batch import runner
from ..batch.templates import list_templates
from ..detectors.dssc import load_dssc_info
from ..results import read_results
from . import core
from .checks import check_records, run_checks
from .folders import proposal_dir, truth_path
from .inputs import resolve_option, simulation_plan
from .registry import list_scenarios

DEMO_PROPOSAL = core.DEFAULT_PROPOSAL


#: demo sizes where a scenario's default is large: the DSSC runs hold the modules the
#: templates use (group 0 and one module per quadrant), the energy scan only module 0
_DSSC_DEMO_MODULES = "0,1,2,3,7,8,15"
DEMO_OPTIONS = {
    "boz_dark": dict(trains=10),
    "hrixs_delay": dict(trains=12),
    "dssc_dark": dict(modules=_DSSC_DEMO_MODULES, trains=6),
    "dssc_delay_scan": dict(modules=_DSSC_DEMO_MODULES, trains=20),
    "dssc_energy_scan": dict(modules="0", trains=22),
}


def demo_plan():
    """Run number of each scenario in the demo proposal.

    Returns
    -------
    dict
        Scenario name -> run number, 1, 2, ... in the order of the sorted
        names (stable while no scenario is added).
    """
    return {name: i for i, name in enumerate(list_scenarios(), start=1)}


def demo_series(plan):
    """Runs of list parameters simulated one per setting (``per_run`` options of a
    template's simulation map, e.g. the fine-delay series), numbered after the plan.

    Parameters
    ----------
    plan : dict
        Scenario name -> run number.

    Returns
    -------
    dict
        ``(template, parameter)`` -> list of ``(run, scenario, options)``.
    """
    series, nxt = {}, max(plan.values()) + 1
    for t in list_templates():
        for pname, spec in simulation_plan(t.notebook()).items():
            per_run = spec.get("per_run")
            if not per_run:
                continue
            n = max(len(v) for v in per_run.values())
            runs = []
            for i in range(n):
                opts = dict(DEMO_OPTIONS.get(spec["scenario"], {}))
                opts.update({k: v[i] for k, v in per_run.items() if i < len(v)})
                runs.append((nxt, spec["scenario"], opts))
                nxt += 1
            series[t.name, pname] = runs
    return series


def simulate_demo(data_root: Path, progress=print):
    """Simulate every scenario as one run of the demo proposal.

    Runs already simulated (with their ground truth) are kept.

    Parameters
    ----------
    data_root : pathlib.Path
        Where to write the runs.
    progress : callable
        Called with one line of text per run.

    Returns
    -------
    dict
        The plan: scenario name -> run number (see ``demo_plan``).
    """
    plan = demo_plan()
    for name, run in plan.items():
        run_dir = proposal_dir(DEMO_PROPOSAL, data_root) / "raw" / f"r{run:04d}"
        if run_dir.exists() and truth_path(DEMO_PROPOSAL, run, data_root).exists():
            progress(f"  r{run:04d} {name}: already simulated")
            continue
        t0 = time.perf_counter()
        core.simulate(
            name,
            DEMO_PROPOSAL,
            run,
            data_root=data_root,
            overwrite=True,
            **DEMO_OPTIONS.get(name, {}),
        )
        progress(f"  r{run:04d} {name}: simulated in {time.perf_counter() - t0:.1f} s")
    for (tname, pname), runs in demo_series(plan).items():
        for run, name, opts in runs:
            if truth_path(DEMO_PROPOSAL, run, data_root).exists():
                continue
            core.simulate(name, DEMO_PROPOSAL, run, data_root=data_root, overwrite=True, **opts)
            progress(f"  r{run:04d} {name} {opts} ({tname} {pname})")
    return plan


def demo_variants(plan, data_root, progress=print):
    """Companion runs that must match their template's main run, simulated once each.

    A DSSC dark is taken with the frames per train of the run it corrects
    (``"$frames_per_train"`` in a template's simulation map); where the demo's dark
    of that scenario has another count (the geometry and fine-delay runs), a dark
    with the template's options is simulated, shared by the templates that need
    the same one.

    Parameters
    ----------
    plan : dict
        Scenario name -> run number (simulated).
    data_root : pathlib.Path
        Where the runs are.
    progress : callable
        Called with one line per simulated run.

    Returns
    -------
    dict
        ``(template, parameter)`` -> run number.
    """
    series = demo_series(plan)
    nxt = max([r for runs in series.values() for r, _, _ in runs] + list(plan.values())) + 1
    made, out = {}, {}
    for t in list_templates():
        spec_map = simulation_plan(t.notebook())
        values = {k: p.default for k, p in t.parameters().items()}
        values.update(template_values(t, plan, series))
        for pname, spec in spec_map.items():
            opts = {k: v for k, v in spec.items() if k not in ("scenario", "per_run")}
            if "$frames_per_train" not in opts.values() or spec["scenario"] not in plan:
                continue
            kw = {k: resolve_option(v, values, DEMO_PROPOSAL) for k, v in opts.items()}
            have = load_dssc_info(DEMO_PROPOSAL, plan[spec["scenario"]])["frames_per_train"]
            need = next(kw[k] for k, v in opts.items() if v == "$frames_per_train")
            if int(have) == int(need):
                continue
            key = (spec["scenario"], repr(sorted(kw.items())))
            if key not in made:
                made[key] = nxt
                nxt += 1
                if not truth_path(DEMO_PROPOSAL, made[key], data_root).exists():
                    core.simulate(
                        spec["scenario"],
                        DEMO_PROPOSAL,
                        made[key],
                        data_root=data_root,
                        overwrite=True,
                        **kw,
                    )
                    progress(f"  r{made[key]:04d} {spec['scenario']} {kw} ({t.name} {pname})")
            out[t.name, pname] = made[key]
    return out


def format_table(rows):
    """Rows of ``checks.run_checks`` as an aligned text table with a header.

    Parameters
    ----------
    rows : list of tuple
        ``(scenario, run, quantity, injected, recovered, tolerance, ok)``.

    Returns
    -------
    str
    """
    head = ("source", "run", "quantity", "injected", "recovered", "tolerance", "ok")
    cells = [head] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_demo(out="demo", templates=True, progress=print):
    """``scs-nb demo``: simulate, check, run the templates, print the table.

    Parameters
    ----------
    out : str or pathlib.Path
        Output folder: the data root is ``<out>/exp``, reports ``<out>/reports``.
    templates : bool
        Also run every template headless on the run of its scenario.
    progress : callable
        Called with each line of output.

    Returns
    -------
    int
        The exit code: 0 when every quantity is recovered within tolerance
        and every template ran, else 1.
    """
    out = Path(out).resolve()
    data_root = out / "exp"
    data_root.mkdir(parents=True, exist_ok=True)
    os.environ["EXTRA_DATA_DATA_ROOT"] = str(data_root)
    progress(f"Simulating demo proposal {DEMO_PROPOSAL} under {data_root}")
    plan = simulate_demo(data_root, progress)
    variants = demo_variants(plan, data_root, progress)

    progress("\nAnalysing the simulated runs with the library checks:")
    rows = [("library",) + tuple(r[1:]) for r in run_checks(DEMO_PROPOSAL, plan, data_root)]
    failed_templates = 0
    if templates:
        reports = out / "reports"
        failed_templates = _run_templates(out, plan, progress, variants=variants)
        records = read_results(reports) if reports.exists() else []
        rows = check_records(records, data_root) + rows
        progress(f"\n{len(records)} results recorded by the templates (*.results.json)")
    progress("\nRecovered vs injected values (templates' records first, then library checks):")
    progress(format_table(rows))
    bad = [r for r in rows if r[-1] != "yes"]
    progress(
        f"\n{len(rows) - len(bad)} of {len(rows)} quantities recovered within tolerance"
        + (f"; {failed_templates} template(s) failed" if failed_templates else "")
    )
    progress(
        f"\nThe demo's data: export EXTRA_DATA_DATA_ROOT={data_root} (proposal {DEMO_PROPOSAL})"
    )
    return 1 if bad or failed_templates else 0


#: templates that read what another template wrote (BOZ I.a's correction file)
_SECOND_WAVE = ("boz_Ib", "boz_II1", "boz_II2")


def template_values(t, plan, series=None, variants=None):
    """The demo's parameters of a template: the demo proposal and, for each run
    parameter of its simulation map, the run of that scenario (or its series).

    Parameters
    ----------
    t : Template
        A template.
    plan : dict
        Scenario name -> run number.
    series : dict, optional
        From :func:`demo_series`.
    variants : dict, optional
        From :func:`demo_variants`.

    Returns
    -------
    dict
    """
    params = t.parameters()
    values = {"proposal": DEMO_PROPOSAL} if "proposal" in params else {}
    for pname, spec in simulation_plan(t.notebook()).items():
        if (t.name, pname) in (variants or {}):
            values[pname] = variants[t.name, pname]
        elif (t.name, pname) in (series or {}):
            values[pname] = [r for r, _, _ in series[t.name, pname]]
        elif spec["scenario"] in plan:
            values[pname] = plan[spec["scenario"]]
    return values


def _run_templates(out, plan, progress, jobs=2, variants=None):
    """Every template headless on the demo's runs, ``jobs`` at a time (threads, each
    driving its own kernel process, as ``scs-nb batch``); the BOZ templates that use
    the correction of BOZ I.a after it."""
    reports = out / "reports"
    progress(f"\nRunning templates headless, {jobs} at a time (reports in {reports}):")
    series = demo_series(plan)

    def one(t):
        try:
            values = template_values(t, plan, series, variants)
            return t, runner.run_template(t.path, values, out=reports / t.name, overwrite=True)
        except Exception as exc:  # a template that cannot start is reported, not fatal
            return t, exc

    items = list_templates()
    waves = [
        [t for t in items if t.name not in _SECOND_WAVE],
        [t for t in items if t.name in _SECOND_WAVE],
    ]
    failed = 0
    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        for wave in waves:
            for t, result in pool.map(one, wave):
                if isinstance(result, Exception):
                    failed += 1
                    progress(f"  {t.name:28s} FAILED  {str(result).splitlines()[0][:120]}")
                elif result.ok:
                    progress(f"  {t.name:28s} ok      {result.duration:6.1f} s  {result.html}")
                else:
                    failed += 1
                    progress(f"  {t.name:28s} FAILED  {result.message.splitlines()[0][:120]}")
    return failed
