"""Frame binning shared by the detectors: read the frames of one source at memory
bandwidth (h5py ``read_direct`` into reused buffers) and sum them per bin with a
numba kernel. Nothing here knows a particular detector; the DSSC
(``detectors.dssc.binning``) and the FastCCD (``detectors.fccd``) use it.

* ``index.py``: ``FrameIndex``, ``index_frames`` (the INDEX of the raw files);
* ``accumulate.py``: ``bin_frames``, ``BinResult``, ``read_all``, ``warm_up``;
* ``kernel.py``: the numba kernel.
"""

from .accumulate import DEFAULT_BUFFER_MB, BinResult, bin_frames, frame_ranges, read_all, warm_up
from .index import FrameIndex, chunks, index_frames

__all__ = [
    "FrameIndex",
    "index_frames",
    "chunks",
    "bin_frames",
    "BinResult",
    "read_all",
    "warm_up",
    "frame_ranges",
    "DEFAULT_BUFFER_MB",
]
