"""Where the frames of one detector source are: the INDEX of its raw files.

A ``FrameIndex`` says, for every train with frames (sorted by train id), which
file holds them, the first frame in that file and how many there are; the
frames themselves are read later, chunk by chunk (``accumulate.bin_frames``).
Nothing here knows a particular detector: the caller names the files, the
source, the INDEX group and the frames dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from ...errors import ToolBoxFileError, ToolBoxPathError
from ...reader import damage

__all__ = ["FrameIndex", "index_frames", "chunks"]


@dataclass
class FrameIndex:
    """Where the frames of one source are: per train (sorted by train id) the
    file, first frame and frame count.

    Attributes
    ----------
    module : int
        Detector module number (0 for a single-module detector).
    source : str
        Instrument source name (``SCS_DET_DSSC1M-1/DET/3CH0:xtdf``).
    files : list of str
        Raw file paths.
    train_ids : numpy.ndarray
        (ntrains,) uint64, the trains with at least one frame.
    file_of : numpy.ndarray
        (ntrains,) int, index in ``files`` of each train's file.
    first : numpy.ndarray
        (ntrains,) int64, first frame of each train in its file.
    count : numpy.ndarray
        (ntrains,) int64, frames of each train.
    frame_shape : tuple
        Shape of one frame (pixels).
    key : str
        Dataset of the frames under ``INSTRUMENT/<source>/``.
    adc_max : int
        Frames with a value above it (2**k - 1) are left out; 0xFFFF: no check.
    label : str
        How messages name the source (``'DSSC module 3'``); default the source.
    """

    module: int
    source: str
    files: list  # file paths
    train_ids: np.ndarray  # (ntrains,) uint64, trains with at least one frame
    file_of: np.ndarray  # (ntrains,) int
    first: np.ndarray  # (ntrains,) int64, first frame in its file
    count: np.ndarray  # (ntrains,) int64
    frame_shape: tuple
    key: str = "image/data"  # dataset of the frames under INSTRUMENT/<source>/
    adc_max: int = 0xFFFF  # frames with a value above it are left out (2**k - 1)
    label: str = ""  # the source as messages name it

    def __post_init__(self):
        self.label = self.label or self.source

    @property
    def frames_per_train(self) -> int:
        """The largest number of frames of a train."""
        return int(self.count.max()) if len(self.count) else 0

    @property
    def total_frames(self) -> int:
        """Number of frames of all trains."""
        return int(self.count.sum())

    @property
    def nbytes(self) -> int:
        """Bytes of all frames (uint16 pixels)."""
        return self.total_frames * int(np.prod(self.frame_shape)) * 2

    @property
    def npix(self) -> int:
        """Pixels per frame."""
        return int(np.prod(self.frame_shape))


def index_frames(
    files,
    source,
    group="image",
    key="image/data",
    frame_shape=None,
    adc_max=0xFFFF,
    module=0,
    label=None,
) -> FrameIndex:
    """Read the INDEX of the files of one source (no image data).

    Parameters
    ----------
    files : list of str
        Raw files holding the source (at least one).
    source : str
        Instrument source name.
    group : str
        INDEX group of the frames (``INDEX/<source>/<group>/first``, ``count``).
    key : str
        Frames dataset under ``INSTRUMENT/<source>/`` (e.g. ``'image/data'``,
        ``'data/image/pixels'``).
    frame_shape : tuple or None
        Expected shape of one frame (None: any).
    adc_max : int
        ADC range (2**k - 1): frames with a value above it are left out when
        binned; 0xFFFF: no range check.
    module : int
        Module number kept in the index.
    label : str
        How messages name the source (default: the source name).

    Returns
    -------
    FrameIndex
        Trains with at least one frame, sorted by train id (duplicates kept once).
    """
    files = list(files)
    label = label or source
    if not files:
        raise ToolBoxPathError(f"no files hold {source}")
    tids, fidx, firsts, counts = [], [], [], []
    shape = None
    for i, path in enumerate(files):
        cause = damage.probe(path)
        if cause:  # permissions, I/O errors: the file and the cause
            raise damage.unreadable_error(path, cause, f"{label} file")
        try:
            with h5py.File(path, "r") as f:
                grp = f"INSTRUMENT/{source}/{key}"
                if grp not in f:
                    raise ToolBoxFileError(f"{path} has no {source} {key.replace('/', '.')}")
                shape = f[grp].shape[1:]
                t = f["INDEX/trainId"][:]
                first = f[f"INDEX/{source}/{group}/first"][:].astype(np.int64)
                count = f[f"INDEX/{source}/{group}/count"][:].astype(np.int64)
        except OSError as exc:
            raise ToolBoxFileError(f"cannot read {label} file {path}: {exc}") from None
        keep = count > 0
        tids.append(t[keep])
        firsts.append(first[keep])
        counts.append(count[keep])
        fidx.append(np.full(int(keep.sum()), i))
    tid = np.concatenate(tids).astype(np.uint64)
    order = np.argsort(tid, kind="stable")
    tid = tid[order]
    uniq = (
        np.concatenate([[True], np.diff(tid.astype(np.int64)) > 0])
        if len(tid)
        else np.zeros(0, bool)
    )
    sel = order[uniq]
    if shape is None or (frame_shape is not None and tuple(shape[-2:]) != tuple(frame_shape)):
        raise ToolBoxFileError(
            f"{source}: {key.replace('/', '.')} frames have shape {shape}, "
            f"expected {tuple(frame_shape or ())}"
        )
    return FrameIndex(
        module,
        source,
        files,
        tid[uniq],
        np.concatenate(fidx)[sel],
        np.concatenate(firsts)[sel],
        np.concatenate(counts)[sel],
        tuple(shape),
        key,
        int(adc_max),
        label,
    )


def chunks(idx: FrameIndex, chunk_trains):
    """Consecutive trains of the same file with contiguous frames, at most
    ``chunk_trains`` trains each.

    Parameters
    ----------
    idx : FrameIndex
        The index of the source.
    chunk_trains : int
        Most trains per chunk.

    Yields
    ------
    tuple
        (file index, train slice, first frame, stop frame) of each chunk.
    """
    n = len(idx.train_ids)
    i = 0
    while i < n:
        f = idx.file_of[i]
        j = i + 1
        while (
            j < n
            and j - i < chunk_trains
            and idx.file_of[j] == f
            and idx.first[j] == idx.first[j - 1] + idx.count[j - 1]
        ):
            j += 1
        yield f, slice(i, j), int(idx.first[i]), int(idx.first[j - 1] + idx.count[j - 1])
        i = j
