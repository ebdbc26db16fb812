"""SCS facts in one place: device sources, detector constants and default
geometry, physical constants, proposal/run paths and their validators, and the
data root.

The library, the widgets, the kernels and the simulator import these; this
package imports none of them (only ``scs_nb.errors``).
"""

# every constant and path helper, without a list to keep in step: add a constant to
# constants.py (upper case) or a helper to paths.__all__ and it is here
from . import sources  # noqa: F401
from .constants import *  # noqa: F403
from .paths import *  # noqa: F403
