"""hRIXS: single-photon centroiding, curvature correction and spectra of the
hRIXS spectrometer (Andor Marana X camera), as ``toolbox_scs.detectors.hrixs``.

Conventions (the same as the simulator's, ``scs_nb.sim.hrixs``):

* images have dims ``(x, y)``: ``x`` runs along the spectroscopic lines,
  ``y`` is the energy-dispersive direction; pixel ``k`` is centred on
  coordinate ``k``;
* a line of constant energy is curved: ``y = y0 + parabola(x)`` with
  ``parabola(x) = (CURVE_B * x + CURVE_A) * x`` on absolute detector ``x``;
  the corrected coordinate is ``y - parabola(x)``;
* energy = ``ENERGY_INTERCEPT + ENERGY_SLOPE * corrected y``.

Centroiding (``find_photons``, a numba kernel): a hit is a 2x2 block whose
(bias-subtracted) sum is at least the threshold and is the largest of its 8
neighbouring 2x2 blocks; its position is the centre of mass of the 4x4 block
around it, its charge the 4x4 sum. ``centroid_two`` classifies a hit as a
double hit when its charge is at least ``DBL_THRESHOLD`` photons (the charge of
one photon follows from the incident energy, ``MARANAX_EV_PER_ADU``).

Modules: ``kernel`` (the hit finder), ``analysis`` (``hRIXS``), ``calibration``
(its curvature and energy calibrations), ``maranax``
(``MaranaX``, parallel centroiding), ``parallel`` (threads, worker processes,
dask). The parameters' JSON file is ``scs_nb.detectors.spectrometer``.
"""

from .analysis import hRIXS
from .kernel import find_photons
from .maranax import MaranaX
from .pump_probe import pump_probe_ratio

__all__ = ["hRIXS", "MaranaX", "find_photons", "pump_probe_ratio"]
