"""Beam splitting Off-axis Zone plate analysis routines (``toolbox_scs.routines.boz``).

The correction determination (I.a): ROIs of the three beams, a plane flat field
fitted on the average 'n'/'0' and 'p'/'0' pixel ratios and refined on the
shot-to-shot spread, and the 9-bit non-linearity lookup table fitted so that the
transmission of empty membranes reaches the photon shot noise. The fits run on
reductions of the data built once (per-frame flat-field-weighted histograms of
the 9-bit values, per-frame plane moments, see ``fast``): a criterion evaluation
costs O(frames x 512), not O(frames x pixels).
"""
from .params import parameters  # noqa: F401
from .core import (average_module, bad_pixel_map, compute_flat_field_correction,  # noqa: F401
                   find_rois, find_rois_from_params, get_roi_pixel_pos, histogram_module,
                   load_dssc_module, plane_fitting, plane_fitting_domain, process,
                   process_module, snr)
from .fit import (ff_refine_crit, ff_refine_fit, nl_crit, nl_crit_sk, nl_domain,  # noqa: F401
                  nl_fit, nl_lut, normalize_flat_field)
from .inspect import (inspect_correction, inspect_correction_sk, inspect_dark,  # noqa: F401
                      inspect_flat_field_domain, inspect_Fnl, inspect_histogram,
                      inspect_nl_fit, inspect_plane_fitting, inspect_rois, inspect_saturation)

__all__ = [
    "parameters", "load_dssc_module", "average_module", "inspect_dark", "histogram_module",
    "inspect_histogram", "find_rois", "find_rois_from_params", "inspect_rois",
    "get_roi_pixel_pos", "bad_pixel_map", "compute_flat_field_correction",
    "inspect_flat_field_domain", "plane_fitting_domain", "plane_fitting",
    "inspect_plane_fitting", "ff_refine_crit", "ff_refine_fit", "nl_domain", "nl_lut", "nl_crit",
    "nl_crit_sk", "nl_fit", "inspect_nl_fit", "snr", "inspect_Fnl", "inspect_correction",
    "inspect_correction_sk", "process_module", "process", "inspect_saturation",
]
from . import pipeline, small_data  # noqa: E402,F401
