"""Progress bars of long work inside a cell (DSSC binning, BOZ fits, centroiding).

One place decides whether a bar is shown and which kind:

* ``interactive()``: stderr is a terminal, or the code runs in a Jupyter kernel
  (a notebook, or a headless report). Functions whose ``progress`` defaults to None
  show a bar exactly then; scripts and batch jobs with redirected output stay quiet.
* ``bar(...)``: in a report executed headless by ``scs-nb run`` (the runner sets
  ``SCS_NB_REPORT=1`` in the kernel's environment) a plain-text bar on stderr, which
  the saved notebook and its HTML keep in its final state (a widget bar would be saved
  as its first frame, "0%"); elsewhere ``tqdm.auto`` (a widget in Jupyter, text in a
  terminal).
"""

from __future__ import annotations

import os
import sys

__all__ = ["REPORT_ENV", "interactive", "resolve", "bar"]

#: set to "1" by the headless runner in the kernel's environment
REPORT_ENV = "SCS_NB_REPORT"


def _in_jupyter_kernel():
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def interactive() -> bool:
    """Whether someone is watching: stderr is a terminal or this is a Jupyter kernel.

    Returns
    -------
    bool
        True in a terminal, a notebook or a headless report; False when stderr is
        redirected (SLURM jobs, pipes, log files) outside Jupyter.
    """
    if os.environ.get(REPORT_ENV) == "1" or _in_jupyter_kernel():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def resolve(progress) -> bool:
    """The ``progress`` argument of a long function: None means ``interactive()``.

    Parameters
    ----------
    progress : bool or None
        What the caller asked.

    Returns
    -------
    bool
        Whether to show a bar.
    """
    return interactive() if progress is None else bool(progress)


def bar(iterable=None, total=None, desc=None, unit="it", disable=False, **kw):
    """A tqdm progress bar of the kind that suits where the code runs.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over (else update the bar by hand).
    total : int, optional
        Number of steps.
    desc : str, optional
        Label shown before the bar.
    unit : str
        Name of one step.
    disable : bool
        No bar at all (the object still iterates and accepts ``update``).
    **kw
        Passed to tqdm.

    Returns
    -------
    tqdm.tqdm
        The bar; close it (or use it as a context manager) when done.
    """
    if os.environ.get(REPORT_ENV) == "1":
        # plain text the report keeps; few updates, so the saved output stays small
        from tqdm.std import tqdm  # optional dependency of the progress display only

        kw.setdefault("mininterval", 2.0)
        kw.setdefault("file", sys.stderr)
        kw.setdefault("ascii", False)
    else:
        from tqdm.auto import tqdm  # heavy: tqdm.auto probes IPython and ipywidgets
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, **kw)
