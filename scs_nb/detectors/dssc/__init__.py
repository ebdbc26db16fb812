"""DSSC 1M: the detector in one package.

* ``binning/``: binning at memory-bandwidth speed (the shared frame binning of
  ``detectors.frames``, modules as dask tasks), the main-path ``bin_dssc`` and
  the ToolBox DSSC API (``DSSCBinner``, ``DSSCFormatter``, ``dssc_misc``,
  ``dssc_data``, ``dssc_processing``);
* ``azimuthal/``: azimuthal integration with exact pixel splitting, time-delay
  maps and the ToolBox ``AzimuthalIntegrator`` classes;
* ``geometry``: quadrant positions refined on a ring, geometry files;
* ``fine_delay``: the DSSC fine trigger delay scan;
* ``plot``: figures (ToolBox ``dssc_plot``) and ``assemble`` of the 16 modules.

ToolBox module names map to: dssc -> binning.binner, dssc_data -> binning.store,
dssc_misc -> binning.inputs, dssc_processing -> binning.process, dssc_plot -> plot,
azimuthal_integrator -> azimuthal.integrator (``scs_nb.compat``).
"""

from . import plot as dssc_plot  # noqa: F401
from .binning import (  # noqa: F401
    DSSCBinner,
    DSSCFormatter,
    bin_dssc,
    bin_labels,
    create_dssc_bins,
    default_output_path,
    dssc_dark,
    dssc_xaxis,
    get_data_formatted,
    get_xgm_formatted,
    load_dssc_info,
    load_mask,
    load_xarray,
    module_group,
    open_binned_dssc,
    process_dssc_data,
    quickmask_DSSC_ASIC,
    save_attributes_h5,
    save_xarray,
)

# ToolBox module aliases: tb.detectors.dssc_misc.create_dssc_bins etc.
from .binning import binner as dssc_binner  # noqa: F401
from .binning import inputs as dssc_misc  # noqa: F401
from .binning import process as dssc_processing  # noqa: F401
from .binning import store as dssc_data  # noqa: F401
from .plot import (  # noqa: F401
    plot_binned_modules,
    plot_binner,
    plot_binner_hist,
    plot_hist_processed,
    plot_pump_probe,
    plot_xgm_threshold,
)
