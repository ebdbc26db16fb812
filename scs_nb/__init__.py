"""scs_nb: the SCS ToolBox as a Jupyter-native notebook toolkit.

``import scs_nb as tb`` gives the ToolBox-compatible flat API (same names,
parameters and return types as ``toolbox_scs``).
"""
__version__ = "0.1.0"

from .errors import (ToolBoxError, ToolBoxFileError, ToolBoxPathError,  # noqa: F401
                     ToolBoxTypeError, ToolBoxValueError)

# --- mnemonics (issue 2) ---
from .mnemonics import mnemonics, mnemonics_for_run  # noqa: E402,F401
from . import sim  # noqa: E402,F401

# --- loading (issue 2) ---
from .load import (check_data_rate, concatenateRuns, find_proposal,  # noqa: E402,F401
                   find_run_path, get_array, load, load_run_values, open_run, run_by_path)
