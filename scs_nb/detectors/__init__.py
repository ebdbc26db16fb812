"""Detectors: DSSC (dssc/), hRIXS, Viking, PES, FastCCD."""

# --- azimuthal integration (issue 12) ---
from .azimuthal_integrator import AzimuthalIntegrator, AzimuthalIntegratorDSSC  # noqa: E402,F401
