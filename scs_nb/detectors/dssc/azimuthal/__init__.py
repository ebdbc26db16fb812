"""DSSC azimuthal integration.

* ``integrate``: ``integrate_azimuthal`` with exact hexagonal pixel splitting;
* ``matrix``: its matrices (``azimuthal_matrix``, cached) and radial units;
* ``kernels``: the numba kernels that build and apply the matrices;
* ``delay``: I(q) maps against the pump-probe delay (``delay_map``,
  ``fit_recovery``);
* ``rings``: ring positions in I(q) (``ring_centroids``);
* ``integrator``: the ToolBox classes ``AzimuthalIntegrator`` and
  ``AzimuthalIntegratorDSSC`` (ToolBox ``detectors.azimuthal_integrator``).
"""

from .delay import delay_map, fit_recovery, integrate_delay_scan, q_traces, recovery_model
from .integrate import integrate_azimuthal, pyfai_integrator
from .integrator import AzimuthalIntegrator, AzimuthalIntegratorDSSC
from .matrix import (
    UNITS,
    AzimuthalMatrix,
    azimuthal_matrix,
    geometry_key,
    pixel_polygons,
    r_to_radial,
    radial_to_r,
)
from .rings import ring_centroids

__all__ = [
    "integrate_azimuthal",
    "AzimuthalMatrix",
    "azimuthal_matrix",
    "pixel_polygons",
    "geometry_key",
    "UNITS",
    "pyfai_integrator",
    "radial_to_r",
    "r_to_radial",
    "integrate_delay_scan",
    "delay_map",
    "q_traces",
    "fit_recovery",
    "recovery_model",
    "ring_centroids",
    "AzimuthalIntegrator",
    "AzimuthalIntegratorDSSC",
]
