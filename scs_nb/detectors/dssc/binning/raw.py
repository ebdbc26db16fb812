"""The raw files of a DSSC run: where each module's files are, and their INDEX.

A DSSC module ``m`` writes ``RAW-R<run>-DSSC<m>-S<seq>.h5`` with its frames in
``INSTRUMENT/<source>/image/data``; ``index_module`` reads the INDEX of those
files into a ``FrameIndex`` of the shared frame binning (``detectors.frames``).
"""

from __future__ import annotations

import glob
import os

import numpy as np

from ....errors import ToolBoxPathError, ToolBoxValueError
from ....facility import DSSC_ADC_MAX as ADC_MAX
from ....facility import DSSC_MODULE_SHAPE as MODULE_SHAPE
from ....facility import DSSC_NMODULES as NMODULES
from ....facility.sources import dssc_module_source as module_source
from ....load import find_run_path
from ...frames import FrameIndex, index_frames

__all__ = [
    "ADC_MAX",
    "MODULE_SHAPE",
    "NMODULES",
    "NPIX",
    "FRAME_BYTES",
    "check_module",
    "run_directory",
    "module_files",
    "present_modules",
    "index_module",
    "module_source",
]

NPIX = MODULE_SHAPE[0] * MODULE_SHAPE[1]
FRAME_BYTES = NPIX * 2


def check_module(module) -> int:
    """A DSSC module number, checked.

    Parameters
    ----------
    module : int
        0..15; an integral float (3.0, from JSON or YAML) is accepted.

    Returns
    -------
    int
        The module number.
    """
    ok = isinstance(module, (int, np.integer)) and not isinstance(module, (bool, np.bool_))
    if not ok and isinstance(module, (float, np.floating)) and float(module).is_integer():
        ok = True  # 3.0 (from JSON or YAML) is module 3
    if not ok:
        raise ToolBoxValueError(
            f"DSSC module must be an integer 0..15, got {module!r}; pass "
            "modules=[0, 1, ...] with integers"
        )
    m = int(module)
    if not 0 <= m < NMODULES:
        raise ToolBoxValueError(f"DSSC module must be 0..15, got {m}")
    return m


def run_directory(proposal, run) -> str:
    """The raw folder of a run.

    Parameters
    ----------
    proposal : int or None
        Proposal number; None with ``run`` a folder: that folder.
    run : int or str
        Run number, or a folder path.

    Returns
    -------
    str
        The folder of the run's raw files.
    """
    if proposal is None and os.path.isdir(str(run)):
        return str(run)
    return find_run_path(proposal, run)


def module_files(run_dir, module) -> list:
    """The raw files of one DSSC module of a run, sorted.

    Parameters
    ----------
    run_dir : str
        Folder of the run's raw files.
    module : int
        DSSC module 0..15.

    Returns
    -------
    list of str
        ``RAW-R*-DSSC<mm>-S*.h5`` paths (empty if the module was not recorded).
    """
    module = check_module(module)
    files = sorted(glob.glob(os.path.join(str(run_dir), f"RAW-R*-DSSC{module:02d}-S*.h5")))
    return files


def present_modules(run_dir) -> list:
    """The DSSC modules with files in a run folder.

    Parameters
    ----------
    run_dir : str
        Folder of the run's raw files.

    Returns
    -------
    list of int
        Sorted module numbers.
    """
    found = set()
    for f in glob.glob(os.path.join(str(run_dir), "RAW-R*-DSSC*-S*.h5")):
        try:
            found.add(int(os.path.basename(f).split("-DSSC")[1][:2]))
        except ValueError:
            pass
    return sorted(found)


def index_module(run_dir, module) -> FrameIndex:
    """Read the INDEX of one DSSC module's files (no image data).

    Parameters
    ----------
    run_dir : str
        Folder of the run's raw files.
    module : int
        DSSC module 0..15.

    Returns
    -------
    FrameIndex
        Frames of the module per train, (128, 512) frames, ADC range ``ADC_MAX``.
    """
    module = check_module(module)
    files = module_files(run_dir, module)
    if not files:
        have = present_modules(run_dir)
        raise ToolBoxPathError(
            f"no files for DSSC module {module} (RAW-R####-DSSC{module:02d}-S#####.h5) in "
            f"{run_dir}; modules present: {have or 'none'}. Pass modules from this list."
        )
    return index_frames(
        files,
        module_source(module),
        group="image",
        key="image/data",
        frame_shape=MODULE_SHAPE,
        adc_max=ADC_MAX,
        module=module,
        label=f"DSSC module {module}",
    )
