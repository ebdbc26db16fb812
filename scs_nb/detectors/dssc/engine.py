"""The DSSC binning engine: one module, read at memory bandwidth.

``image.data`` of one module is read with h5py ``read_direct`` into two
preallocated buffers (a reader thread fills one while the numba kernel
reduces the other), so memory stays bounded whatever the run length. Each
frame gets a bin index (train bin x pulse bin, -1 = dropped) and a weight
(1 / XGM for normalised frames, else 1); the kernel accumulates
``weight * raw`` into float32 rows per chunk, added into float64 totals after
each chunk. Dark subtraction is exact and costs nothing per frame: the
per-bin, per-memory-cell sums of weights are kept and
``sum_k w_k (raw_k - dark_f(k)) = sum_k w_k raw_k - sum_f W[b, f] dark_f``.
"""
from __future__ import annotations

import glob
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import h5py
import numpy as np

from ...reader import damage
from ...errors import ToolBoxFileError, ToolBoxPathError, ToolBoxValueError
from ...facility import DSSC_ADC_MAX as ADC_MAX
from ...facility import DSSC_MODULE_SHAPE as MODULE_SHAPE
from ...facility import DSSC_NMODULES as NMODULES
from ...facility.sources import DSSC_MODULE as SOURCE
from ...facility.sources import dssc_module_source as module_source

NPIX = MODULE_SHAPE[0] * MODULE_SHAPE[1]
FRAME_BYTES = NPIX * 2
DEFAULT_BUFFER_MB = 128


def check_module(module) -> int:
    ok = isinstance(module, (int, np.integer)) and not isinstance(module, (bool, np.bool_))
    if not ok and isinstance(module, (float, np.floating)) and float(module).is_integer():
        ok = True                   # 3.0 (from JSON or YAML) is module 3
    if not ok:
        raise ToolBoxValueError(f"DSSC module must be an integer 0..15, got {module!r}; pass "
                                "modules=[0, 1, ...] with integers")
    m = int(module)
    if not 0 <= m < NMODULES:
        raise ToolBoxValueError(f"DSSC module must be 0..15, got {m}")
    return m


# -- locating the data of one module ------------------------------------------
def run_directory(proposal, run) -> str:
    """The raw folder of a run (proposal/run numbers, or a folder path)."""
    if proposal is None and os.path.isdir(str(run)):
        return str(run)
    from ...load import find_run_path
    return find_run_path(proposal, run)


@dataclass
class ModuleIndex:
    """Where the frames of one module are: per train (sorted by train id)
    the file, first frame and frame count."""
    module: int
    source: str
    files: list            # file paths
    train_ids: np.ndarray  # (ntrains,) uint64, trains with at least one frame
    file_of: np.ndarray    # (ntrains,) int
    first: np.ndarray      # (ntrains,) int64, first frame in its file
    count: np.ndarray      # (ntrains,) int64
    frame_shape: tuple
    key: str = "image/data"    # dataset of the frames under INSTRUMENT/<source>/
    adc_max: int = ADC_MAX     # frames with a value above it are left out (2**k - 1)

    @property
    def frames_per_train(self) -> int:
        return int(self.count.max()) if len(self.count) else 0

    @property
    def total_frames(self) -> int:
        return int(self.count.sum())

    @property
    def nbytes(self) -> int:
        return self.total_frames * int(np.prod(self.frame_shape)) * 2

    @property
    def npix(self) -> int:
        return int(np.prod(self.frame_shape))


def module_files(run_dir, module) -> list:
    module = check_module(module)
    files = sorted(glob.glob(os.path.join(str(run_dir), f"RAW-R*-DSSC{module:02d}-S*.h5")))
    return files


def present_modules(run_dir) -> list:
    found = set()
    for f in glob.glob(os.path.join(str(run_dir), "RAW-R*-DSSC*-S*.h5")):
        try:
            found.add(int(os.path.basename(f).split("-DSSC")[1][:2]))
        except ValueError:
            pass
    return sorted(found)


def index_module(run_dir, module, source=None, files=None, group="image", key="image/data",
                 frame_shape=MODULE_SHAPE, adc_max=ADC_MAX) -> ModuleIndex:
    """Read the INDEX of one module's files (no image data).

    The defaults describe a DSSC module; another detector passes its
    ``source``, ``files`` (paths), INDEX ``group``, frames dataset ``key``
    (under ``INSTRUMENT/<source>/``) and ``frame_shape`` (None: any), e.g.
    the FastCCD (one (1934, 960) frame per train in ``data/image/pixels``),
    and its ADC range ``adc_max`` (2**k - 1; 0xFFFF: no range check).
    """
    if source is None:
        module = check_module(module)
    src = source or module_source(module)
    files = list(files) if files is not None else module_files(run_dir, module)
    if not files and source is not None:
        raise ToolBoxPathError(f"no files hold {src} in {run_dir}")
    if not files:
        have = present_modules(run_dir)
        raise ToolBoxPathError(
            f"no files for DSSC module {module} (RAW-R####-DSSC{module:02d}-S#####.h5) in "
            f"{run_dir}; modules present: {have or 'none'}. Pass modules from this list.")
    tids, fidx, firsts, counts = [], [], [], []
    shape = None
    for i, path in enumerate(files):
        cause = damage.probe(path)
        if cause:               # permissions, I/O errors: the file and the cause
            raise damage.unreadable_error(path, cause, f"DSSC module {module} file")
        try:
            with h5py.File(path, "r") as f:
                grp = f"INSTRUMENT/{src}/{key}"
                if grp not in f:
                    raise ToolBoxFileError(f"{path} has no {src} {key.replace('/', '.')}")
                shape = f[grp].shape[1:]
                t = f["INDEX/trainId"][:]
                first = f[f"INDEX/{src}/{group}/first"][:].astype(np.int64)
                count = f[f"INDEX/{src}/{group}/count"][:].astype(np.int64)
        except OSError as exc:
            raise ToolBoxFileError(f"cannot read DSSC module {module} file {path}: {exc}") \
                from None
        keep = count > 0
        tids.append(t[keep]); firsts.append(first[keep]); counts.append(count[keep])
        fidx.append(np.full(int(keep.sum()), i))
    tid = np.concatenate(tids).astype(np.uint64)
    order = np.argsort(tid, kind="stable")
    tid = tid[order]
    uniq = np.concatenate([[True], np.diff(tid.astype(np.int64)) > 0]) if len(tid) else \
        np.zeros(0, bool)
    sel = order[uniq]
    if shape is None or (frame_shape is not None and tuple(shape[-2:]) != tuple(frame_shape)):
        raise ToolBoxFileError(f"{src}: {key.replace('/', '.')} frames have shape {shape}, "
                               f"expected {tuple(frame_shape or ())}")
    return ModuleIndex(module, src, files, tid[uniq], np.concatenate(fidx)[sel],
                       np.concatenate(firsts)[sel], np.concatenate(counts)[sel], tuple(shape),
                       key, int(adc_max))


# -- the kernel (numba, in _kernel.py: imported on first use) --------------------
def _accumulate(frames, bins, weights, acc32, touched, total, bad, limit=ADC_MAX):
    from ._kernel import accumulate
    return accumulate(frames, bins, weights, acc32, touched, total, bad, limit)


def warm_up():
    """Compile (or load the cached) kernel."""
    _accumulate(np.zeros((1, 4), np.uint16), np.zeros(1, np.int64), np.ones(1, np.float32),
                np.zeros((1, 4), np.float32), np.zeros(1, np.bool_), np.zeros((1, 4)),
                np.zeros(1, np.int64))


def frame_ranges(frames) -> str:
    """``'100-111, 300'`` for sorted frame numbers."""
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
    """Weighted sums of one module: sums[b] = sum_k w_k raw_k (float64, npix);
    wsum[b, f] = sum of weights of frames of memory cell f in bin b; counts[b].
    excluded: {file: frame numbers in that file} of the frames left out because
    they hold values above the ADC range; out_of_range: how many such values."""
    sums: np.ndarray
    wsum: np.ndarray
    counts: np.ndarray
    nbytes: int
    excluded: dict = None
    out_of_range: int = 0

    @property
    def excluded_frames(self) -> int:
        return sum(len(v) for v in (self.excluded or {}).values())

    def excluded_text(self) -> str:
        return "; ".join(f"{os.path.basename(f)} frames {frame_ranges(v)}"
                         for f, v in (self.excluded or {}).items())

    def means(self, dark=None):
        """Mean of w * (raw - dark) per bin: (nbins, npix) float64 (NaN if empty)."""
        s = self.sums.copy()
        if dark is not None:
            d = np.asarray(dark, np.float64).reshape(-1, s.shape[1])
            if d.shape[0] == 1:
                s -= self.wsum.sum(axis=1)[:, None] * d[0]
            else:
                s -= self.wsum @ d
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / np.where(self.counts > 0, self.counts, np.nan)[:, None]


def _chunks(idx: ModuleIndex, chunk_trains):
    """Consecutive trains of the same file, contiguous frames, at most
    chunk_trains trains: (file, train slice, frame start, frame stop)."""
    n = len(idx.train_ids)
    i = 0
    while i < n:
        f = idx.file_of[i]
        j = i + 1
        while (j < n and j - i < chunk_trains and idx.file_of[j] == f
               and idx.first[j] == idx.first[j - 1] + idx.count[j - 1]):
            j += 1
        yield f, slice(i, j), int(idx.first[i]), int(idx.first[j - 1] + idx.count[j - 1])
        i = j


def bin_module(idx: ModuleIndex, frame_bins, frame_weights, nbins, chunk_trains=None,
               buffer_mb=DEFAULT_BUFFER_MB, prefetch=True, progress=False,
               _interrupt_after=None):
    """Accumulate one module.

    frame_bins: (ntrains, frames_per_train) int64, the bin of each frame of
        each train of ``idx`` (-1 = drop); frames beyond a train's count are
        ignored.
    frame_weights: same shape, float32 (or None: all 1).
    nbins: number of bins.
    chunk_trains: trains per read (default: as many as fit in buffer_mb).
    prefetch: read the next chunk in a thread while the kernel runs.
    """
    fpt = idx.frames_per_train
    ntr = len(idx.train_ids)
    frame_bins = np.asarray(frame_bins, np.int64)
    if frame_bins.shape != (ntr, fpt):
        raise ToolBoxValueError(f"frame_bins has shape {frame_bins.shape}, expected "
                                f"{(ntr, fpt)} (trains, frames per train) for module "
                                f"{idx.module}")
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
                d.read_direct(buf, np.s_[start:stop], np.s_[0:stop - start])
            except OSError as exc:
                raise ToolBoxFileError(f"DSSC module {idx.module}: reading frames "
                                       f"{start}:{stop} of {idx.files[f]} failed: {exc}") \
                    from None
        return job

    jobs = list(_chunks(idx, ct))
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(jobs), unit="chunk", desc=f"DSSC module {idx.module}"
                   if idx.key == "image/data" else idx.source)
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
            _accumulate(buf[:nf].reshape(nf, npix), bins, w, acc32, touched, total, bad[:nf],
                        idx.adc_max)
            if bad[:nf].any():       # frames with values above the ADC range: left out
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
            f"{'DSSC module %d' % idx.module if idx.key == 'image/data' else idx.source}: "
            f"{res.excluded_frames} frame(s) hold {out_of_range} "
            f"value(s) above the {idx.adc_max} ADC range (corrupted data) and are left out of "
            f"the bins: {res.excluded_text()}", UserWarning, stacklevel=2)
    return res


def read_all(idx: ModuleIndex, buffer_mb=DEFAULT_BUFFER_MB):
    """Plain ``read_direct`` of all frames of a module into one reused buffer
    (the reference speed of the benchmark). Returns the bytes read."""
    fpt = idx.frames_per_train
    ct = max(1, max(fpt, int(buffer_mb * 2**20) // (idx.npix * 2)) // max(fpt, 1))
    buf = np.empty((ct * fpt,) + idx.frame_shape, np.uint16)
    nbytes = 0
    handles = {}
    try:
        for f, tsl, start, stop in _chunks(idx, ct):
            if f not in handles:
                handles[f] = h5py.File(idx.files[f], "r")
            handles[f][f"INSTRUMENT/{idx.source}/{idx.key}"].read_direct(
                buf, np.s_[start:stop], np.s_[0:stop - start])
            nbytes += (stop - start) * idx.npix * 2
    finally:
        for h in handles.values():
            h.close()
    return nbytes
