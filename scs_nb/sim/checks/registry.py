"""The check registry: the ``check`` decorator and ``run_checks``.

A check is registered for one scenario, is called as
``f(proposal, run, truth, plan)`` (``plan``: scenario name -> run number, for
checks that need a companion run such as a dark) and returns rows
``(quantity, injected, recovered, tolerance)``; a row is within tolerance when
``|recovered - injected| <= tolerance``.
"""

from __future__ import annotations

import numpy as np

from ..folders import ground_truth

_CHECKS: list = []


def check(scenario):
    """Register the decorated function as a check of the runs of ``scenario``.

    Parameters
    ----------
    scenario : str
        The scenario whose runs the check analyses.

    Returns
    -------
    callable
        The decorator; it returns the function unchanged.
    """

    def deco(func):
        _CHECKS.append((scenario, func))
        return func

    return deco


def _fmt(x):
    if isinstance(x, (float, np.floating)):
        return f"{x:.5g}"
    return str(x)


def run_checks(proposal, plan, data_root=None, scenarios=None):
    """Run the checks of the scenarios in ``plan``.

    Parameters
    ----------
    proposal : int
        The proposal of the simulated runs.
    plan : dict
        Scenario name -> run number.
    data_root : str or pathlib.Path, optional
        Where the ground truth lies; default the simulator's data root.
    scenarios : collection of str, optional
        Only the checks of these scenarios.

    Returns
    -------
    list of tuple
        One row per quantity: ``(scenario, run, quantity, injected, recovered,
        tolerance, ok)`` as strings where formatted, ``ok`` ``'yes'`` or
        ``'NO'``. A check that raises gives one row with the error.
    """
    rows = []
    for scenario, func in sorted(_CHECKS, key=lambda c: plan.get(c[0], 0)):
        if scenario not in plan or (scenarios and scenario not in scenarios):
            continue
        run = plan[scenario]
        truth = ground_truth(proposal, run, data_root)
        try:
            results = func(proposal, run, truth, plan)
        except Exception as exc:  # shown in the table, counted as not recovered
            rows.append((scenario, run, func.__name__, "-", f"error: {exc}"[:60], "-", "NO"))
            continue
        for quantity, injected, recovered, tol in results:
            ok = bool(
                np.all(np.abs(np.asarray(recovered, float) - np.asarray(injected, float)) <= tol)
            )
            rows.append(
                (
                    scenario,
                    run,
                    quantity,
                    _fmt(injected),
                    _fmt(recovered),
                    _fmt(tol),
                    "yes" if ok else "NO",
                )
            )
    return rows
