"""Binning the frames of one detector source at memory bandwidth.

The frames dataset is read with h5py ``read_direct`` into two preallocated
buffers (a reader thread fills one while the numba kernel reduces the other),
so memory stays bounded whatever the run length. Each frame gets a bin index
(-1 = dropped) and a weight (e.g. 1 / XGM for normalised frames, else 1); the
kernel accumulates ``weight * raw`` into float32 rows per chunk, added into
float64 totals after each chunk. Dark subtraction is exact and costs nothing
per frame: the per-bin, per-memory-cell sums of weights are kept and
``sum_k w_k (raw_k - dark_f(k)) = sum_k w_k raw_k - sum_f W[b, f] dark_f``.

Used by the DSSC (one source per module) and the FastCCD (one source).
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import h5py
import numpy as np

from ...errors import ToolBoxFileError, ToolBoxValueError
from ...progress import bar as progress_bar
from .index import FrameIndex, chunks
from .kernel import accumulate

__all__ = ["bin_frames", "BinResult", "read_all", "warm_up", "frame_ranges", "DEFAULT_BUFFER_MB"]

DEFAULT_BUFFER_MB = 128


# -- the kernel (numba, in kernel.py) ----------------------------------------------
def _accumulate(frames, bins, weights, acc32, touched, total, bad, limit=0xFFFF):
    # one name for the kernel call: tests replace it to slow the binning down
    return accumulate(frames, bins, weights, acc32, touched, total, bad, limit)


def warm_up():
    """Compile (or load the cached) kernel.

    Returns
    -------
    None
    """
    _accumulate(
        np.zeros((1, 4), np.uint16),
        np.zeros(1, np.int64),
        np.ones(1, np.float32),
        np.zeros((1, 4), np.float32),
        np.zeros(1, np.bool_),
        np.zeros((1, 4)),
        np.zeros(1, np.int64),
    )


def frame_ranges(frames) -> str:
    """Frame numbers as ranges of consecutive numbers.

    Parameters
    ----------
    frames : array_like of int
        Frame numbers (sorted and made unique here).

    Returns
    -------
    str
        ``'100-111, 300'``; ``''`` for no frames.
    """
    frames = np.unique(np.asarray(frames, np.int64))
    if not len(frames):
        return ""
    cut = np.flatnonzero(np.diff(frames) != 1) + 1
    parts = []
    for run in np.split(frames, cut):
        parts.append(f"{run[0]}" if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(parts)


@dataclass
class BinResult:
    """Weighted sums of the frames of one source, per bin.

    Attributes
    ----------
    sums : numpy.ndarray
        (nbins, npix) float64, ``sums[b] = sum_k w_k raw_k``.
    wsum : numpy.ndarray
        (nbins, frames_per_train) float64, sum of the weights of the frames of
        memory cell f in bin b.
    counts : numpy.ndarray
        (nbins,) int64 frames per bin.
    nbytes : int
        Bytes of the frames read.
    excluded : dict
        {file: frame numbers in that file} of the frames left out because they
        hold values above the ADC range.
    out_of_range : int
        How many such values.
    """

    sums: np.ndarray
    wsum: np.ndarray
    counts: np.ndarray
    nbytes: int
    excluded: dict = None
    out_of_range: int = 0

    @property
    def excluded_frames(self) -> int:
        """Number of frames left out (values above the ADC range)."""
        return sum(len(v) for v in (self.excluded or {}).values())

    def excluded_text(self) -> str:
        """The frames left out, per file: ``'<file> frames 100-111, 300; ...'``."""
        return "; ".join(
            f"{os.path.basename(f)} frames {frame_ranges(v)}"
            for f, v in (self.excluded or {}).items()
        )

    def means(self, dark=None):
        """Mean of ``w * (raw - dark)`` per bin.

        Parameters
        ----------
        dark : array_like, optional
            (frames_per_train, npix) dark per memory cell, or (1, npix), ADU.

        Returns
        -------
        numpy.ndarray
            (nbins, npix) float64, NaN for empty bins.
        """
        s = self.sums.copy()
        if dark is not None:
            d = np.asarray(dark, np.float64).reshape(-1, s.shape[1])
            if d.shape[0] == 1:
                s -= self.wsum.sum(axis=1)[:, None] * d[0]
            else:
                s -= self.wsum @ d
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / np.where(self.counts > 0, self.counts, np.nan)[:, None]


def bin_frames(
    idx: FrameIndex,
    frame_bins,
    frame_weights,
    nbins,
    chunk_trains=None,
    buffer_mb=DEFAULT_BUFFER_MB,
    prefetch=True,
    progress=False,
    _interrupt_after=None,
):
    """Accumulate the weighted frames of one source (one detector module) per bin.

    Frames holding a value above ``idx.adc_max`` (corrupted data) are left out
    of the bins, listed in the result and named in a warning.

    Parameters
    ----------
    idx : FrameIndex
        Where the frames are (``index_frames``).
    frame_bins : array_like
        (ntrains, frames_per_train) int64, the bin of each frame of each train
        of ``idx`` (-1 = drop); frames beyond a train's count are ignored.
    frame_weights : array_like or None
        Same shape, float32 (None: all 1).
    nbins : int
        Number of bins.
    chunk_trains : int, optional
        Trains per read (default: as many as fit in ``buffer_mb``).
    buffer_mb : float
        Size of one read buffer (MB); two with ``prefetch``.
    prefetch : bool
        Read the next chunk in a thread while the kernel runs.
    progress : bool
        Show a progress bar (one step per chunk).

    Returns
    -------
    BinResult
        The weighted sums, the weights per memory cell and the frame counts per bin.
    """
    fpt = idx.frames_per_train
    ntr = len(idx.train_ids)
    frame_bins = np.asarray(frame_bins, np.int64)
    if frame_bins.shape != (ntr, fpt):
        raise ToolBoxValueError(
            f"frame_bins has shape {frame_bins.shape}, expected "
            f"{(ntr, fpt)} (trains, frames per train) for module "
            f"{idx.module}"
        )
    if frame_weights is None:
        frame_weights = np.ones((ntr, fpt), np.float32)
    frame_weights = np.asarray(frame_weights, np.float32)
    npix = idx.npix
    max_frames = max(fpt, int(buffer_mb * 2**20) // (npix * 2))
    ct = max(1, max_frames // max(fpt, 1))
    if chunk_trains:
        ct = max(1, min(ct, int(chunk_trains)))
    buf_frames = ct * fpt
    nbuf = 2 if prefetch else 1
    buffers = [np.empty((buf_frames,) + idx.frame_shape, np.uint16) for _ in range(nbuf)]
    total = np.zeros((nbins, npix), np.float64)
    acc32 = np.empty((nbins, npix), np.float32)
    touched = np.zeros(nbins, np.bool_)
    wsum = np.zeros((nbins, fpt), np.float64)
    counts = np.zeros(nbins, np.int64)
    bad = np.zeros(buf_frames, np.int64)
    excluded, out_of_range = {}, 0
    handles = {}
    lock = threading.Lock()

    def read(job, buf):
        f, tsl, start, stop = job
        with lock:
            if f not in handles:
                handles[f] = h5py.File(idx.files[f], "r")
            d = handles[f][f"INSTRUMENT/{idx.source}/{idx.key}"]
            try:
                d.read_direct(buf, np.s_[start:stop], np.s_[0 : stop - start])
            except OSError as exc:
                raise ToolBoxFileError(
                    f"{idx.label}: reading frames {start}:{stop} of {idx.files[f]} failed: {exc}"
                ) from None
        return job

    jobs = list(chunks(idx, ct))
    bar = None
    if progress:
        bar = progress_bar(total=len(jobs), unit="chunk", desc=idx.label)
    pool = ThreadPoolExecutor(1) if prefetch else None
    try:
        pending = pool.submit(read, jobs[0], buffers[0]) if (pool and jobs) else None
        for n, job in enumerate(jobs):
            if pool:
                pending.result()
                buf = buffers[n % 2]
                if n + 1 < len(jobs):
                    pending = pool.submit(read, jobs[n + 1], buffers[(n + 1) % 2])
            else:
                buf = buffers[0]
                read(job, buf)
            f, tsl, start, stop = job
            nf = stop - start
            # frame -> (train, cell) within this chunk
            cnt = idx.count[tsl]
            offs = idx.first[tsl] - start
            tr = np.repeat(np.arange(tsl.start, tsl.stop), cnt)
            cell = np.arange(nf) - np.repeat(offs, cnt)
            bins = frame_bins[tr, cell]
            w = frame_weights[tr, cell]
            _accumulate(
                buf[:nf].reshape(nf, npix), bins, w, acc32, touched, total, bad[:nf], idx.adc_max
            )
            if bad[:nf].any():  # frames with values above the ADC range: left out
                hit = np.flatnonzero(bad[:nf])
                excluded.setdefault(idx.files[f], []).extend((start + hit).tolist())
                out_of_range += int(bad[hit].sum())
                bins = np.where(bad[:nf] > 0, -1, bins)
            ok = bins >= 0
            np.add.at(wsum, (bins[ok], cell[ok]), w[ok])
            counts += np.bincount(bins[ok], minlength=nbins)
            if bar:
                bar.update(1)
            if _interrupt_after is not None and n + 1 >= _interrupt_after:
                raise KeyboardInterrupt(f"interrupted after {n + 1} chunks (test hook)")
    finally:
        if pool:
            pool.shutdown(wait=True)
        for h in handles.values():
            h.close()
        if bar:
            bar.close()
    res = BinResult(total, wsum, counts, idx.nbytes, excluded, out_of_range)
    if excluded:
        warnings.warn(
            f"{idx.label}: "
            f"{res.excluded_frames} frame(s) hold {out_of_range} "
            f"value(s) above the {idx.adc_max} ADC range (corrupted data) and are left out of "
            f"the bins: {res.excluded_text()}",
            UserWarning,
            stacklevel=2,
        )
    return res


def read_all(idx: FrameIndex, buffer_mb=DEFAULT_BUFFER_MB):
    """Plain ``read_direct`` of all frames of a source into one reused buffer
    (the reference speed of the benchmark).

    Parameters
    ----------
    idx : FrameIndex
        Where the frames are.
    buffer_mb : float
        Size of the buffer (MB).

    Returns
    -------
    int
        Bytes read.
    """
    fpt = idx.frames_per_train
    ct = max(1, max(fpt, int(buffer_mb * 2**20) // (idx.npix * 2)) // max(fpt, 1))
    buf = np.empty((ct * fpt,) + idx.frame_shape, np.uint16)
    nbytes = 0
    handles = {}
    try:
        for f, _tsl, start, stop in chunks(idx, ct):
            if f not in handles:
                handles[f] = h5py.File(idx.files[f], "r")
            handles[f][f"INSTRUMENT/{idx.source}/{idx.key}"].read_direct(
                buf, np.s_[start:stop], np.s_[0 : stop - start]
            )
            nbytes += (stop - start) * idx.npix * 2
    finally:
        for h in handles.values():
            h.close()
    return nbytes
