"""Simulate the input runs of a template, when asked (``scs-nb run T --simulate``, the demo).

A template says in its notebook metadata which scenario produces each of its run
parameters::

    "metadata": {"scs_nb": {"simulate": {
        "run": {"scenario": "knife_edge"},
        "dark_run": {"scenario": "dssc_dark", "modules": "$modules", "trains": 4},
        "calibration_runs": {"scenario": "viking_mono", "per_run": {"nrj": [520.0, 535.0]}}}}}

Option values ``"$name"`` are the template's parameter ``name`` (``"$modules|module_group"``:
the first that is not empty, a module group as its modules); ``"$frames_per_train"`` the
frames per train of the template's DSSC ``run``; ``per_run`` options are taken one per run of a
list parameter. Only missing runs are simulated, and only into a proposal the simulator owns.
"""

from __future__ import annotations

from ..batch.inputs import run_parameters
from ..batch.params import validate_parameters
from ..batch.templates import template_inputs
from ..detectors.dssc import load_dssc_info, module_group
from ..errors import ToolBoxValueError
from ..facility import proposal_folder
from . import core

__all__ = ["simulation_plan", "simulate_inputs", "resolve_option"]


def simulation_plan(nb) -> dict:
    """The ``metadata.scs_nb.simulate`` map of a template notebook.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The template.

    Returns
    -------
    dict
        Run parameter -> ``{"scenario": name, options...}`` (strings are scenario names).
    """
    plan = nb.metadata.get("scs_nb", {}).get("simulate", {}) or {}
    return {k: ({"scenario": v} if isinstance(v, str) else dict(v)) for k, v in plan.items()}


def resolve_option(value, values, proposal):
    """The value of one option of a simulation map (``"$name"`` resolved).

    Parameters
    ----------
    value : object
        The option as written in the map.
    values : dict
        The template's parameter values (``run`` the main run, already simulated).
    proposal : int
        The proposal of the runs.

    Returns
    -------
    object
    """
    if not (isinstance(value, str) and value.startswith("$")):
        return value
    for name in value[1:].split("|"):
        if name == "frames_per_train":
            return int(load_dssc_info(proposal, values["run"])["frames_per_train"])
        v = values.get(name)
        if name == "module_group" and v is not None:
            return list(module_group(v))
        if v not in (None, [], ""):
            return list(v) if isinstance(v, (list, tuple)) else v
    raise ToolBoxValueError(f"simulate option {value!r}: no parameter gives a value")


def simulate_inputs(template, parameters=None, param_file=None, data_root=None, progress=print):
    """Simulate the missing input runs of a template as its metadata says.

    Parameters
    ----------
    template : str or Path
        Template name or notebook.
    parameters : dict, optional
        Its parameters (strings from ``-p`` parsed as in ``scs-nb run``).
    param_file : str, optional
        YAML file of parameters.
    data_root : str or Path, optional
        Where to write (default the simulator's data root).
    progress : callable
        Called with a line per simulated run.

    Returns
    -------
    list of tuple
        ``(parameter, run, scenario)`` of each run simulated now.

    Raises
    ------
    ToolBoxError
        A template without a simulation map, or a proposal with real data.
    """
    tpl, nb, spec, given = template_inputs(template, parameters, param_file)
    values = validate_parameters(spec, given, template=tpl.name)
    plan = simulation_plan(nb)
    runs = run_parameters(values)
    missing_map = [k for k in runs if k not in plan]
    if missing_map:
        raise ToolBoxValueError(
            f"template {tpl.name} does not say how to simulate {', '.join(missing_map)} "
            "(metadata scs_nb.simulate); pass existing runs instead"
        )
    proposal = values["proposal"]
    root = data_root or core.default_data_root()
    raw = proposal_folder(proposal, root) / "raw"
    done = []
    # the main run first: companion options may depend on it ($frames_per_train)
    for name in sorted(runs, key=lambda n: n != "run"):
        opts = dict(plan[name])
        scenario = opts.pop("scenario")
        per_run = opts.pop("per_run", {})
        for i, r in enumerate(runs[name]):
            if (raw / f"r{r:04d}").is_dir():
                continue
            kw = {k: resolve_option(v, values, proposal) for k, v in opts.items()}
            kw.update({k: v[i] for k, v in per_run.items() if i < len(v)})
            core.simulate(scenario, proposal, r, data_root=root, **kw)
            progress(f"simulated {name}={r} of proposal {proposal}: {scenario}")
            done.append((name, r, scenario))
    return done
