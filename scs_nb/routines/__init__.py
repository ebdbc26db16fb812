"""Analysis routines of the ToolBox (``toolbox_scs.routines``): laser utilities,
undulator configuration, and the how-to routines (XAS, reflectivity,
knife-edge, BOZ)."""
from .laser import (align_ol_to_fel_pId, degToRelPower, delayToPosition,  # noqa: F401
                    fluenceCalibration, positionToDelay)
from .undulator import get_undulator_config  # noqa: F401

from ..compat import lazy_attributes  # noqa: E402

__getattr__ = lazy_attributes("routines")
