"""DSSC frames binned train by train as they arrive: ``LiveBinner``.

The same computation as ``bin_dssc`` (``reduce.bin_module_dataset``): each frame
gets a bin (scan-variable bin of its train x pulse-pattern bin) and a weight
(1 / XGM pulse energy with ``xgm_normalization``); the numba kernel of the frame
binning (``detectors.frames.kernel.accumulate``) adds ``weight * raw`` into the
bins; the dark is subtracted exactly at the end from the per-memory-cell sums of
weights. Bins of the scan variable are added as the scan reaches new values.
The result equals ``bin_dssc`` on the same trains, up to float32 rounding of the
per-call partial sums (the kernel's accumulator).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ....errors import ToolBoxValueError
from ....pulses import get_xgm
from ....pulses.source import InMemory
from ...frames.accumulate import BinResult
from ...frames.kernel import accumulate
from . import raw
from .bins import pattern_binner, pulse_bin_index
from .reduce import dark_for_module
from .run import bin_labels, xaxis_from

__all__ = ["LiveBinner"]


class LiveBinner:
    """Accumulate DSSC modules train by train from a live ``Stream``.

    Parameters
    ----------
    modules : list of int
        DSSC modules to bin (0..15).
    xaxis : str
        'delay' (ps, BAM corrected), 'nrj' (eV) or a slow mnemonic, as ``bin_dssc``.
    bin_width : float
        Width of the scan-variable bins (values rounded to multiples of it).
    pattern : sequence of str
        Pulse pattern repeated over the frames of a train; '' drops a frame.
    dark : dict or xarray.Dataset, optional
        Dark per module: {module: (frames, 128, 512) array} or ``dssc_dark``'s
        dataset (with a ``module`` dimension); None: no dark subtraction.
    xgm_normalization : bool
        Divide each X-ray frame by its XGM pulse energy (µJ).
    xgm_name : str
        XGM mnemonic.
    dssc_coords_stride : int
        XGM pulse j is DSSC frame j * stride.
    normevery : int
        Normalise one frame out of ``normevery``.
    bam, delay_origin : as ``bin_dssc``
        BAM of the delay correction (None: none), delay line position of time zero (mm).

    Attributes
    ----------
    fields : list of str
        Mnemonics the stream must receive (``Stream(endpoint, binner.fields,
        frames=binner.frames)``).
    frames : dict
        {name: (source, key)} of the DSSC module frames.
    trains : int
        Trains accumulated.

    Examples
    --------
    >>> lb = LiveBinner([0], xaxis='delay', bin_width=0.1)
    >>> s = Stream(endpoint, lb.fields, frames=lb.frames)
    >>> lb.update(s); lb.result()['data']
    """

    def __init__(
        self,
        modules=(0,),
        xaxis="delay",
        bin_width=0.1,
        pattern=("pumped", "unpumped"),
        dark=None,
        xgm_normalization=True,
        xgm_name="SCS_SA3",
        dssc_coords_stride=1,
        normevery=1,
        bam="BAM1932M",
        delay_origin=0.0,
    ):
        if isinstance(modules, (int, np.integer)):
            modules = [modules]
        self.modules = [raw.check_module(m) for m in modules]
        if not self.modules:
            raise ToolBoxValueError("modules is empty; pass DSSC module numbers, e.g. [0]")
        bin_labels([0.0], bin_width)  # checks bin_width
        if isinstance(pattern, str):
            raise ToolBoxValueError(
                f"pattern must be a list of labels, e.g. ['pumped', 'unpumped'], got {pattern!r}"
            )
        if int(dssc_coords_stride) < 1:
            raise ToolBoxValueError(f"dssc_coords_stride must be >= 1, got {dssc_coords_stride}")
        self.xaxis, self.bin_width, self.pattern = xaxis, float(bin_width), list(pattern)
        self.dark, self.xgm_normalization, self.xgm_name = dark, bool(xgm_normalization), xgm_name
        self.stride, self.normevery = int(dssc_coords_stride), int(normevery)
        self.bam, self.delay_origin = bam, float(delay_origin)
        self.fields = [xgm_name] if xgm_normalization or xgm_name else []
        if xaxis == "delay":
            self.fields += ["PP800_DelayLine"] + ([bam] if bam else [])
        else:
            self.fields.append(xaxis)
        self.frames = {f"dssc{m}": (raw.module_source(m), "image.data") for m in self.modules}
        self.reset()

    def reset(self):
        """Forget everything accumulated."""
        self.labels = []  # scan-variable bin labels, in the order they appeared
        self._acc = {}  # module -> [total, wsum, counts, xgm sum, xgm count]
        self._fpt = None
        self._pb = self._plabels = None
        self._darks = {}
        self.trains = 0
        self.last_train = None

    # -- accumulation ------------------------------------------------------------
    def _setup(self, fpt):
        self._fpt = fpt
        self._pb, self._plabels = pulse_bin_index(pattern_binner(self.pattern, fpt), fpt)
        for m in self.modules:
            d = self.dark.get(m) if isinstance(self.dark, dict) else self.dark
            if isinstance(self.dark, dict) and d is None:
                raise ToolBoxValueError(
                    f"the dark has no module {m}; it has modules {sorted(self.dark)}"
                )
            self._darks[m] = dark_for_module(d, m, fpt)

    def _grow(self, m, nbins):
        npix = raw.NPIX
        acc = self._acc.get(m)
        if acc is None:
            acc = [np.zeros((0, npix)), np.zeros((0, self._fpt)), np.zeros(0, np.int64)]
            acc += [np.zeros(0), np.zeros(0, np.int64)]
        have = acc[0].shape[0]
        if have < nbins:
            acc = [
                np.concatenate([a, np.zeros((nbins - have,) + a.shape[1:], a.dtype)]) for a in acc
            ]
        self._acc[m] = acc
        return acc

    def _train_bins(self, labels):
        out = np.full(len(labels), -1, np.int64)
        for i, lab in enumerate(labels):
            if not np.isfinite(lab):
                continue
            if lab not in self.labels:
                self.labels.append(float(lab))
            out[i] = self.labels.index(lab)
        return out

    def update(self, stream):
        """Accumulate the trains of ``stream`` not accumulated yet.

        Parameters
        ----------
        stream : scs_nb.live.Stream
            Receiving ``self.fields`` and ``self.frames``.

        Returns
        -------
        int
            Trains added.
        """
        items = stream.trains(since=self.last_train)
        if not items:
            return 0
        tids = np.array([t for t, _ in items], np.uint64)
        mem = stream.live_data()
        sel = np.isin(mem.data["trainId"].values, tids)
        data = mem.data.isel(trainId=np.flatnonzero(sel))
        frames = {n: [r[n] for _, r in items] for n in self.frames}
        self.add(tids, frames, data, InMemory(data, mem.alts))
        self.last_train = int(tids[-1])
        return len(tids)

    def add(self, train_ids, frames, data, source=None):
        """Accumulate trains given as arrays.

        Parameters
        ----------
        train_ids : numpy.ndarray
            (ntrains,) train ids.
        frames : dict
            {'dssc<m>': list of (frames, 128, 512) (or (frames, 1, 128, 512)) uint16
            arrays, one per train}.
        data : xarray.Dataset
            The fields (raw, as ``Stream.live_data`` gives them) of those trains.
        source : InMemory, optional
            What the XGM is read from (default ``data``).
        """
        tids = np.asarray(train_ids, np.uint64)
        first = next(iter(frames.values()))
        fpt = int(first[0].shape[0])
        if self._fpt is None:
            self._setup(fpt)
        x = xaxis_from(lambda n: data[n], self.xaxis, self.bam, self.delay_origin).reindex(
            trainId=tids
        )
        tb = self._train_bins(bin_labels(x.values, self.bin_width))
        npb = len(self._plabels)
        pb = self._pb
        fb = np.where((tb[:, None] >= 0) & (pb[None, :] >= 0), tb[:, None] * npb + pb[None, :], -1)
        xgm_f = self._xgm_per_frame(source or InMemory(data), tids, fpt)
        weights = np.ones((len(tids), fpt), np.float32)
        if self.xgm_normalization:
            norm = np.zeros(fpt, bool)
            norm[:: max(1, self.normevery)] = True
            good = np.isfinite(xgm_f) & (xgm_f > 0) & norm[None, :]
            bad = np.isfinite(xgm_f) & (xgm_f <= 0) & norm[None, :]
            fb = np.where(bad, -1, fb)
            weights = np.where(good, 1.0 / np.where(good, xgm_f, 1.0), 1.0).astype(np.float32)
        nbins = len(self.labels) * npb
        bins = fb.reshape(-1)
        w = weights.reshape(-1)
        cell = np.tile(np.arange(fpt), len(tids))
        for m in self.modules:
            stack = np.stack(frames[f"dssc{m}"]).reshape(len(tids) * fpt, raw.NPIX)
            stack = np.ascontiguousarray(stack, np.uint16)
            total, wsum, counts, xs, xc = self._grow(m, nbins)
            acc32 = np.empty((nbins, raw.NPIX), np.float32)
            touched = np.zeros(nbins, np.bool_)
            bad = np.zeros(len(bins), np.int64)
            accumulate(stack, bins, w, acc32, touched, total, bad, raw.ADC_MAX)
            b = np.where(bad > 0, -1, bins)
            ok = b >= 0
            np.add.at(wsum, (b[ok], cell[ok]), w[ok])
            counts += np.bincount(b[ok], minlength=nbins)
            fx = xgm_f.reshape(-1)
            okx = (bins >= 0) & np.isfinite(fx)  # as bin_dssc: over the frames binned
            xs += np.bincount(bins[okx], fx[okx], minlength=nbins)
            xc += np.bincount(bins[okx], minlength=nbins)
        self.trains += len(tids)

    def _xgm_per_frame(self, source, tids, fpt):
        out = np.full((len(tids), fpt), np.nan)
        if not self.xgm_name or self.xgm_name not in source.data:
            if self.xgm_normalization:
                raise ToolBoxValueError(
                    f"XGM {self.xgm_name!r} needed for xgm_normalization is not in the stream"
                )
            return out
        arr = get_xgm(source, self.xgm_name)[self.xgm_name]
        pdim = [d for d in arr.dims if d != "trainId"][0]
        v = arr.reindex(trainId=tids).transpose("trainId", pdim).values
        frames = np.arange(v.shape[1]) * self.stride
        ok = frames < fpt
        out[:, frames[ok]] = v[:, ok]
        return out

    # -- the result --------------------------------------------------------------
    def result(self):
        """The binned data so far, as ``bin_dssc``'s module files hold it.

        Returns
        -------
        xarray.Dataset
            data (xaxis, pulse, module, x, y) float32 (mean of ``w * (raw -
            dark)`` per bin), hist (xaxis, pulse) frames per bin, xgm (xaxis,
            pulse) mean XGM (µJ); scan-variable bins sorted. Empty before the
            first train.
        """
        if self._fpt is None or not self.labels:
            return xr.Dataset()
        order = np.argsort(self.labels)
        labels = np.asarray(self.labels)[order]
        npb = len(self._plabels)
        nt = len(labels)
        datas, hist, xgm = [], None, None
        for m in self.modules:
            total, wsum, counts, xs, xc = self._grow(m, nt * npb)
            res = BinResult(total, wsum, counts, 0)
            means = res.means(self._darks[m]).reshape(nt, npb, *raw.MODULE_SHAPE)[order]
            datas.append(means.astype(np.float32))
            if hist is None:
                hist = counts.reshape(nt, npb)[order]
                with np.errstate(invalid="ignore", divide="ignore"):
                    xgm = (xs / xc).reshape(nt, npb)[order].astype(np.float32)
        dim = self.xaxis
        ds = xr.Dataset(
            {
                "data": ((dim, "pulse", "module", "x", "y"), np.stack(datas, axis=2)),
                "hist": ((dim, "pulse"), hist),
                "xgm": ((dim, "pulse"), xgm),
            },
            coords={
                dim: labels,
                "pulse": self._plabels,
                "module": self.modules,
                "x": np.arange(raw.MODULE_SHAPE[0]),
                "y": np.arange(raw.MODULE_SHAPE[1]),
            },
        )
        ds.attrs.update(trains=self.trains, frames_per_train=self._fpt)
        return ds

    def signal(self, roi=None):
        """Mean binned signal per scan bin and pulse label (a quick look).

        Parameters
        ----------
        roi : tuple of slice, optional
            (x, y) region of each module; default the whole module.

        Returns
        -------
        xarray.DataArray
            (xaxis, pulse) mean of ``data`` over modules and pixels.
        """
        ds = self.result()
        if not ds:
            return xr.DataArray(np.zeros((0, 0)), dims=(self.xaxis, "pulse"))
        d = ds["data"]
        if roi is not None:
            d = d.isel(x=roi[0], y=roi[1])
        return d.mean(("module", "x", "y"))
