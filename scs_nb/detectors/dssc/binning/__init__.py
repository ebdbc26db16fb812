"""DSSC binning: frames of each module summed per (train bin, pulse bin) by the
shared frame binning (``detectors.frames``), one module per dask task.

* ``raw``: the raw files of a run (module files, INDEX);
* ``bins``: binners (``create_dssc_bins``) -> bin indices per frame;
* ``inputs``: run info, XGM per DSSC frame, ASIC masks (ToolBox ``dssc_misc``);
* ``reduce``: one module -> ``xarray.Dataset`` (dark, XGM normalisation);
* ``store``: binned data and module files (ToolBox ``dssc_data``);
* ``process``: one module to its file, many modules as dask tasks (ToolBox
  ``dssc_processing``);
* ``run``: ``bin_dssc``, the main path over all modules of a run;
* ``binner``: the ToolBox classes ``DSSCBinner`` and ``DSSCFormatter``.
"""

from .binner import DSSCBinner, DSSCFormatter
from .bins import create_dssc_bins
from .inputs import get_xgm_formatted, load_dssc_info, load_mask, quickmask_DSSC_ASIC
from .live import LiveBinner
from .process import WorkersLostError, process_dssc_data
from .run import (
    DSSCModulesError,
    ModuleFiles,
    bin_dssc,
    bin_labels,
    default_output_path,
    dssc_dark,
    dssc_xaxis,
    module_group,
    open_binned_dssc,
)
from .store import get_data_formatted, load_xarray, save_attributes_h5, save_xarray

__all__ = [
    "LiveBinner",
    "DSSCBinner",
    "DSSCFormatter",
    "create_dssc_bins",
    "get_xgm_formatted",
    "load_dssc_info",
    "load_mask",
    "quickmask_DSSC_ASIC",
    "process_dssc_data",
    "WorkersLostError",
    "DSSCModulesError",
    "ModuleFiles",
    "bin_dssc",
    "bin_labels",
    "default_output_path",
    "dssc_dark",
    "dssc_xaxis",
    "module_group",
    "open_binned_dssc",
    "get_data_formatted",
    "load_xarray",
    "save_attributes_h5",
    "save_xarray",
]
