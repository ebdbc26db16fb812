"""Run values: the RUN section of a run's CONTROL data (values at the run's start).

Every read of a run value goes through here, so a missing source or key gives
the same ToolBox error everywhere, naming what the run has.
"""

from __future__ import annotations

import difflib

from ..errors import ToolBoxValueError

__all__ = ["run_value", "run_values"]


def run_values(run, source) -> dict:
    """All run values of one CONTROL source.

    Parameters
    ----------
    run : extra_data.DataCollection
        The open run.
    source : str
        A CONTROL source of the run (e.g. ``'SCS_UTC1_ADQ/ADC/1'``).

    Returns
    -------
    dict
        key -> value, as ``run.get_run_values(source)``.

    Raises
    ------
    ToolBoxValueError
        The run has no such CONTROL source (the message names similar ones).
    """
    if source not in run.control_sources:
        close = difflib.get_close_matches(source, sorted(run.control_sources), n=5, cutoff=0.6)
        hint = f" Similar sources: {', '.join(close)}." if close else ""
        raise ToolBoxValueError(
            f"no run values for {source!r}: it is not a CONTROL source of this run.{hint} "
            "See run.control_sources."
        )
    return run.get_run_values(source)


def run_value(run, source, key):
    """One run value of a CONTROL source.

    Parameters
    ----------
    run : extra_data.DataCollection
        The open run.
    source : str
        A CONTROL source of the run.
    key : str
        Its key, with or without the ``.value`` suffix.

    Returns
    -------
    object
        The value recorded in the run's RUN section.

    Raises
    ------
    ToolBoxValueError
        The source or key is not in the run (the message names what is).
    """
    values = run_values(run, source)
    for k in (key, key + ".value", key[: -len(".value")] if key.endswith(".value") else None):
        if k is not None and k in values:
            return values[k]
    keys = sorted(k for k in values if not k.endswith(".timestamp"))
    close = difflib.get_close_matches(key, keys, n=5, cutoff=0.5)
    hint = f" Similar keys: {', '.join(close)}." if close else ""
    raise ToolBoxValueError(f"{source!r} has no run value {key!r}.{hint}")
