"""The one reader: from a proposal and run number, or a mnemonic, to data.

Below ``load`` (the ToolBox facade) and everything that analyses data; above
only the mnemonic table, the facility facts and the errors.

* ``discovery``: proposals and runs on disk, opened as DataCollections
  (``open_run``, ``run_by_path``, ``find_run_path``, ``mnemonics_for_run``);
* ``damage``: damaged runs (unreadable files, missing sequence files) named, the
  rest processed;
* ``lookup``: ``lookup`` / ``resolve`` / ``read`` a mnemonic (the same errors
  everywhere);
* ``values``: run values (``run_value``, ``run_values``);
* ``summary``: units of mnemonics and a table of a Dataset (``unit_of``,
  ``axis_label``, ``summarize``);
* ``warn``: warnings that point at the user's code.
"""

from . import damage
from .discovery import (
    find_proposal,
    find_run_path,
    mnemonics_for_run,
    open_run,
    run_by_path,
    select_trains,
)
from .lookup import custom_spec, field_list, lookup, name_of, read, read_loose, resolve
from .summary import axis_label, summarize, unit_of
from .values import run_value, run_values
from .warn import user_stacklevel, warn_user

__all__ = [
    "unit_of",
    "axis_label",
    "summarize",
    "damage",
    "find_proposal",
    "find_run_path",
    "mnemonics_for_run",
    "open_run",
    "run_by_path",
    "select_trains",
    "custom_spec",
    "field_list",
    "lookup",
    "name_of",
    "read",
    "read_loose",
    "resolve",
    "run_value",
    "run_values",
    "user_stacklevel",
    "warn_user",
]
