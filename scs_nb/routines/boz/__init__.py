"""Beam splitting Off-axis Zone plate analysis routines (``toolbox_scs.routines.boz``).

The correction determination (I.a): ROIs of the three beams, a plane flat field
fitted on the average 'n'/'0' and 'p'/'0' pixel ratios and refined on the
shot-to-shot spread, and the 9-bit non-linearity lookup table fitted so that the
transmission of empty membranes reaches the photon shot noise. The fits run on
reductions of the data built once (per-frame flat-field-weighted histograms of
the 9-bit values, per-frame plane moments, see ``kernels``) and kept in a
``reductions.ReductionCache``: a criterion evaluation costs O(frames x 512), not
O(frames x pixels).

Modules, each importing only those above it in this list:
``kernels`` (numba), ``rois``, ``load``, ``reductions`` (averages, histograms, the
cache), ``params`` (the ``parameters`` class and its JSON), ``process``,
``flat_field``, ``nonlinearity``, ``inspect`` (plots), ``small_data`` (II.1/II.2),
``pipeline`` (``determine_correction``).
"""

from .flat_field import (  # noqa: F401
    compute_flat_field_correction,
    ff_refine_crit,
    ff_refine_fit,
    normalize_flat_field,
    plane_fitting,
    plane_fitting_domain,
)
from .inspect import (
    inspect_correction,
    inspect_correction_sk,
    inspect_dark,
    inspect_flat_field_domain,
    inspect_Fnl,
    inspect_histogram,
    inspect_nl_fit,
    inspect_plane_fitting,
    inspect_rois,
    inspect_saturation,
)
from .load import load_dssc_module
from .nonlinearity import nl_crit, nl_crit_sk, nl_domain, nl_fit, nl_lut
from .params import parameters
from .pipeline import find_rois_from_params
from .process import process, process_module, snr
from .reductions import average_module, bad_pixel_map, histogram_module
from .rois import find_rois, get_roi_pixel_pos

__all__ = [
    "parameters",
    "load_dssc_module",
    "average_module",
    "inspect_dark",
    "histogram_module",
    "inspect_histogram",
    "find_rois",
    "find_rois_from_params",
    "inspect_rois",
    "get_roi_pixel_pos",
    "bad_pixel_map",
    "compute_flat_field_correction",
    "inspect_flat_field_domain",
    "plane_fitting_domain",
    "plane_fitting",
    "inspect_plane_fitting",
    "ff_refine_crit",
    "ff_refine_fit",
    "nl_domain",
    "nl_lut",
    "nl_crit",
    "nl_crit_sk",
    "nl_fit",
    "inspect_nl_fit",
    "snr",
    "inspect_Fnl",
    "inspect_correction",
    "inspect_correction_sk",
    "process_module",
    "process",
    "inspect_saturation",
]
from . import pipeline, small_data  # noqa: F401
