"""DSSC 1M: binning at memory-bandwidth speed (engine: h5py read_direct into
reused buffers + a numba kernel, modules as dask tasks), the ToolBox DSSC API
(DSSCBinner, DSSCFormatter, dssc_misc, dssc_data, dssc_processing, dssc_plot)
and the main-path ``bin_dssc``.

ToolBox module names map to: dssc -> binner, dssc_data -> data,
dssc_misc -> misc, dssc_processing -> processing, dssc_plot -> plot.
"""
from .binner import DSSCBinner, DSSCFormatter  # noqa: F401
from .binning import (bin_dssc, default_output_path, dssc_dark, dssc_xaxis,  # noqa: F401
                      module_group, open_binned_dssc)
from .data import get_data_formatted, load_xarray, save_attributes_h5, save_xarray  # noqa: F401
from .misc import (create_dssc_bins, get_xgm_formatted, load_dssc_info, load_mask,  # noqa: F401
                   quickmask_DSSC_ASIC)
from .plot import (plot_binned_modules, plot_binner, plot_binner_hist,  # noqa: F401
                   plot_hist_processed, plot_pump_probe, plot_xgm_threshold)
from .processing import process_dssc_data  # noqa: F401

# ToolBox module aliases: tb.detectors.dssc_misc.create_dssc_bins etc.
from . import binner as dssc_binner  # noqa: F401,E402
from . import data as dssc_data  # noqa: F401,E402
from . import misc as dssc_misc  # noqa: F401,E402
from . import plot as dssc_plot  # noqa: F401,E402
from . import processing as dssc_processing  # noqa: F401,E402
