"""scs_nb: the SCS ToolBox as a Jupyter-native notebook toolkit.

``import scs_nb as tb`` gives the ToolBox-compatible flat API (same names,
parameters and return types as ``toolbox_scs``): the public names of every
module of the ToolBox's layout, as ``scs_nb.compat.FLAT`` lists them, plus
scs_nb's own additions below. ``tb.detectors.xgm``, ``tb.misc``,
``tb.routines.boz`` ... are the ToolBox's module paths (``compat.MODULES``).
"""

from . import compat as _compat

# scs_nb's own additions to the flat API: the mnemonic table, the one reader, damaged
# runs, facility facts, recorded results, and names of the analysis that the ToolBox
# keeps elsewhere
from . import facility
from ._version import __version__
from .base import knife_edge_base
from .detectors.dssc.azimuthal import integrate_azimuthal
from .detectors.dssc.binning import DSSCModulesError
from .errors import (
    ToolBoxError,
    ToolBoxFileError,
    ToolBoxPathError,
    ToolBoxTypeError,
    ToolBoxValueError,
)
from .mnemonics import mnemonics
from .reader import axis_label, damage, lookup, read, resolve, summarize, unit_of
from .results import read_results, record, results
from .routines import boz

# the ToolBox's flat API, derived from compat.FLAT; names not found here (tb.sim, ...)
# are resolved when first used
_compat.install(globals())
__getattr__ = _compat.lazy_attributes("")
alias_toolbox = _compat.alias_toolbox

__all__ = sorted(n for n in globals() if not n.startswith("_"))
