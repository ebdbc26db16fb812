"""Analysis routines of the ToolBox (``toolbox_scs.routines``): laser utilities,
undulator configuration, and the how-to routines (XAS, reflectivity,
knife-edge, BOZ)."""

from . import boz  # noqa: F401  (toolbox_scs.routines.boz)
from .boz import *  # noqa: F403  (the ToolBox exports them at toolbox_scs.routines.*)

# how-to routines; as in the ToolBox, ``routines.knife_edge`` is the
# function (the module stays importable as scs_nb.routines.knife_edge)
from .knife_edge import knife_edge  # noqa: F401
from .laser import (  # noqa: F401
    align_ol_to_fel_pId,
    degToRelPower,
    delayToPosition,
    fluenceCalibration,
    positionToDelay,
)
from .reflectivity import reflectivity  # noqa: F401
from .undulator import get_undulator_config  # noqa: F401
from .xas import xas, xasxmcd  # noqa: F401
