"""Detectors: DSSC (dssc/), hRIXS, Viking, PES, FastCCD."""

# spectrometers (issue 14): toolbox_scs.detectors.hRIXS / MaranaX / Viking
from .hrixs import MaranaX, hRIXS  # noqa: E402,F401
from .viking import Viking  # noqa: E402,F401
