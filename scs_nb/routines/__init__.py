"""Analysis routines of the ToolBox (``toolbox_scs.routines``): laser utilities,
undulator configuration, and the how-to routines (XAS, reflectivity,
knife-edge, BOZ)."""
from .laser import (align_ol_to_fel_pId, degToRelPower, delayToPosition,  # noqa: F401
                    fluenceCalibration, positionToDelay)
from .undulator import get_undulator_config  # noqa: F401
# how-to routines (issue 15); like the ToolBox, the function names shadow
# their module names as attributes of this package
from .knife_edge import knife_edge  # noqa: F401,E402
from .Reflectivity import reflectivity  # noqa: F401,E402
from .XAS import xas, xasxmcd  # noqa: F401,E402
