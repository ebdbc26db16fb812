"""scs_nb: the SCS ToolBox as a Jupyter-native notebook toolkit.

``import scs_nb as tb`` gives the ToolBox-compatible flat API (same names,
parameters and return types as ``toolbox_scs``).
"""
from ._version import __version__  # noqa: F401

from .errors import (ToolBoxError, ToolBoxFileError, ToolBoxPathError,  # noqa: F401
                     ToolBoxTypeError, ToolBoxValueError)

# --- the ToolBox module layout (tb.detectors.xgm, tb.misc, tb.routines.boz, ...) and
# the ToolBox's flat names of every area, resolved when first used; tb.sim likewise
from . import compat as _compat  # noqa: E402
__getattr__ = _compat.lazy_attributes("")
alias_toolbox = _compat.alias_toolbox

# --- the mnemonic table and the one reader ---
from .mnemonics import mnemonics  # noqa: E402,F401
from .reader import lookup, mnemonics_for_run, read, resolve  # noqa: E402,F401
from . import facility  # noqa: E402,F401

# --- loading: the ToolBox's load API ---
from .load import (check_data_rate, concatenateRuns, find_proposal,  # noqa: E402,F401
                   find_run_path, get_array, load, load_run_values, open_run, run_by_path)

# --- pulses: bunch pattern, XGM, digitizers, BAM, laser, undulator ---
from .pulses import (calibrate_xgm, check_peak_params, digitizer_signal_description,  # noqa: E402,F401,E501
                     extractBunchPattern, get_bam, get_bam_params, get_dig_avg_trace,
                     get_digitizer_peaks, get_laser_peaks, get_peaks, get_sase_pId,
                     get_tim_peaks, get_xgm, is_ppl, is_pulse_at, is_sase_1, is_sase_3,
                     npulses_has_changed, pulsePatternInfo, repRate)
from .routines.laser import (align_ol_to_fel_pId, degToRelPower,  # noqa: E402,F401
                             delayToPosition, fluenceCalibration, positionToDelay)
from .routines.undulator import get_undulator_config  # noqa: E402,F401

# --- DSSC binning ---
from . import detectors  # noqa: E402,F401
from .detectors.dssc import (DSSCBinner, DSSCFormatter, bin_dssc,  # noqa: E402,F401
                             create_dssc_bins, dssc_dark, dssc_xaxis, get_data_formatted,
                             get_xgm_formatted, load_dssc_info, load_mask, load_xarray,
                             module_group, open_binned_dssc, plot_binned_modules, plot_binner,
                             plot_binner_hist, plot_hist_processed, plot_pump_probe,
                             plot_xgm_threshold, process_dssc_data, quickmask_DSSC_ASIC,
                             save_attributes_h5, save_xarray)

# --- damaged runs, and the per-module outcome of DSSC binning ---
from .reader import damage  # noqa: E402,F401
from .detectors.dssc.binning import DSSCModulesError  # noqa: E402,F401

# --- spectrometers: hRIXS / MaranaX, Viking ---
from .detectors.hrixs import MaranaX, hRIXS  # noqa: E402,F401
from .detectors.viking import Viking  # noqa: E402,F401
# --- how-tos: knife-edge, reflectivity, XAS/XMCD, PES, FastCCD ---
from . import base  # noqa: E402,F401
from .base import knife_edge_base  # noqa: E402,F401
from .routines.knife_edge import knife_edge  # noqa: E402,F401
from .routines.reflectivity import reflectivity  # noqa: E402,F401
from .routines.xas import xas, xasxmcd  # noqa: E402,F401
from .detectors.pes import (get_pes_params, get_pes_tof, load_pes_avg_traces,  # noqa: E402,F401
                            save_pes_avg_traces)
from .detectors.fccd import FastCCD  # noqa: E402,F401

# --- DSSC azimuthal integration, time delay, geometry ---
from .detectors.dssc.azimuthal import (AzimuthalIntegrator,  # noqa: E402,F401
                                       AzimuthalIntegratorDSSC)
from .detectors.dssc.azimuthal import integrate_azimuthal  # noqa: E402,F401

# --- BOZ: toolbox_scs.routines.boz, also at toolbox_scs.* and toolbox_scs.routines.* ---
from .routines import boz  # noqa: E402,F401
from .routines.boz import (average_module, bad_pixel_map,  # noqa: E402,F401
                           compute_flat_field_correction, ff_refine_crit, ff_refine_fit,
                           find_rois, find_rois_from_params, get_roi_pixel_pos,
                           histogram_module, inspect_correction, inspect_correction_sk,
                           inspect_dark, inspect_flat_field_domain, inspect_Fnl,
                           inspect_histogram, inspect_nl_fit, inspect_plane_fitting,
                           inspect_rois, inspect_saturation, load_dssc_module, nl_crit,
                           nl_crit_sk, nl_domain, nl_fit, nl_lut, parameters, plane_fitting,
                           plane_fitting_domain, process, process_module, snr)

# the ToolBox's flat names and module paths of tb.detectors and tb.routines
_compat.install()
