"""The FastCCD (``toolbox_scs.detectors.fccd``).

One (1934, 960) frame per train (``fastccd``: ``SCS_CDIDET_FCCD2M/DAQ/FCCD:daqOutput``,
``data.image.pixels``). ``FastCCD`` bins the frames against a scan variable,
separately for pumped and unpumped trains (a train is pumped when the bunch
pattern has PP-laser pulses in it), with the shared frame binning
(``scs_nb.detectors.frames``: bounded-memory reads and a numba kernel).
Binned images are saved atomically, reloaded with dark subtraction, gain-map
and XGM normalisation, and azimuthally integrated into q.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .. import reader
from ..atomic import replacing
from ..errors import ToolBoxPathError, ToolBoxValueError
from ..facility import FASTCCD_PIXEL_SIZE_M, FASTCCD_SHAPE, validate_run
from ..facility import sources as S
from ..facility.paths import processed_dir
from ..load import open_run
from ..pulses import bunch_pattern as bp
from ..pulses.xgm import get_xgm
from ..reader.summary import axis_label
from ..routines.laser import positionToDelay
from .frames import bin_frames, index_frames

__all__ = ["FastCCD", "process_one_module"]

Q_DIM = "delta_q (1/nm)"
#: axis labels of the azimuthal integration's kinds
_KIND_LABELS = {"relative": "pumped / unpumped - 1", "difference": "pumped - unpumped"}


def process_one_module(job):
    """Bin the frames of one detector source with the shared frame binning.

    job: dict with ``files`` (paths), ``source``, ``key`` (frames dataset under
    ``INSTRUMENT/<source>/``, e.g. 'data/image/pixels'), ``group`` (INDEX
    group), ``train_ids`` and ``bins`` (the bin of each of these trains, -1 to
    drop), ``nbins``; optional ``frame_shape``, ``adc_max`` (frames with a value
    above it are left out; default 0xFFFF: none) and ``progress``.

    Returns (means, counts): the mean frame of each bin, (nbins, y, x)
    float32 (NaN for empty bins), and the number of frames per bin.
    """
    idx = index_frames(
        job["files"],
        job["source"],
        group=job.get("group", "data"),
        key=job["key"],
        frame_shape=job.get("frame_shape"),
        adc_max=job.get("adc_max", 0xFFFF),
    )
    lookup = dict(zip(np.asarray(job["train_ids"]).tolist(), np.asarray(job["bins"]).tolist()))
    fpt = idx.frames_per_train
    bins = np.full((len(idx.train_ids), fpt), -1, np.int64)
    for i, t in enumerate(idx.train_ids.tolist()):
        bins[i, :] = lookup.get(t, -1)
    res = bin_frames(idx, bins, None, int(job["nbins"]), progress=job.get("progress", False))
    means = res.means().astype(np.float32).reshape((int(job["nbins"]),) + idx.frame_shape[-2:])
    return means, res.counts


class FastCCD:
    """FastCCD binning and azimuthal integration (the ToolBox class).

    Parameters
    ----------
    proposal: int
        proposal number
    distance: float
        sample-detector distance in m
    raw: bool
        read the raw data only (False: corrected 'proc' data where present,
        else raw)
    """

    def __init__(self, proposal, distance=1, raw=False):
        self.proposal = proposal
        self.distance = float(distance)
        self.raw = bool(raw)
        self.shape = FASTCCD_SHAPE
        self.px_pitch = FASTCCD_PIXEL_SIZE_M
        self.gain = np.ones(self.shape, np.float32)
        self.mask = np.ones(self.shape, bool)
        self.source = S.FASTCCD
        self.key = "data.image.pixels"
        self.run = None
        self.scan = None
        self.scan_vname = None
        self.module_data = None
        self.binned = None
        self.azimuthal = None

    def __del__(self):
        pass

    # -- run and scan --------------------------------------------------------
    def open_run(self, run_nr, isDark=False, t0=0.0):
        """Open a run with extra-data and prepare the binning.

        inputs:
            run_nr: the run number
            isDark: True if the run is a dark run
            t0: optional t0 in mm (delay-line position of time zero)
        """
        self.run_nr = validate_run(run_nr)
        self.isDark = bool(isDark)
        self.t0 = float(t0)
        self.run = open_run(self.proposal, self.run_nr, data="raw" if self.raw else "all")
        if self.source not in self.run.instrument_sources:
            raise ToolBoxValueError(
                f"run {self.run_nr} has no FastCCD ({self.source}); its instrument sources: "
                f"{', '.join(sorted(self.run.instrument_sources))}"
            )
        self.collect_fastccd_file()
        tids = np.asarray(self.run[self.source, self.key].train_id_coordinates())
        tids = np.unique(tids)
        self.plot_title = f"{self.proposal} run: {self.run_nr}"
        ppl = bp.pulse_ids(self.run, "scs_ppl", required=False)
        if ppl is not None and len(ppl.pids):
            pumped = dict(zip(ppl.trainId.tolist(), (ppl.npulses > 0).tolist()))
            is_pumped = np.array([pumped.get(t, False) for t in tids.tolist()])
        else:
            is_pumped = np.zeros(len(tids), bool)
        scan = xr.Dataset(coords={"trainId": tids})
        scan["pumped"] = ("trainId", is_pumped)
        scan["scan_variable"] = ("trainId", np.zeros(len(tids)))
        if not self.isDark:
            try:
                xgm = get_xgm(self.run, "SCS_SA3")["SCS_SA3"]
                xgm = xgm.sel(trainId=np.intersect1d(xgm.trainId, tids))
                scan = scan.sel(trainId=xgm.trainId.values)
                scan["xgm_all"] = xgm
                scan["xgm"] = xgm.mean(xgm.dims[1])
            except ToolBoxValueError:
                pass
        if "xgm" not in scan:
            scan["xgm"] = ("trainId", np.ones(scan.sizes["trainId"]))
        self.scan = scan
        self.scan_vname = None
        return self.scan

    def _need_run(self):
        if self.run is None:
            raise ToolBoxValueError("no run opened: call open_run(run_nr) first")

    def load_gain(self, fname):
        """Load a gain map (relative pixel response, shape (1934, 960), .npy)
        by giving the filename: binned images are divided by it."""
        g = np.load(fname)
        if g.shape != self.shape:
            raise ToolBoxValueError(f"gain map {fname} has shape {g.shape}, expected {self.shape}")
        if not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise ToolBoxValueError(f"gain map {fname} has non-positive or NaN entries")
        self.gain = g.astype(np.float32)
        return self.gain

    def collect_fastccd_file(self):
        """Collect the raw fastCCD h5 files (the files holding the source)."""
        self._need_run()
        self.files = sorted({f.filename for f in self.run[self.source].files})
        return self.files

    def define_scan(self, vname, bins):
        """Prepare the binning of the FastCCD data.

        inputs:
            vname: variable name for the scan, can be a mnemonic string from
                ToolBox or a dictionnary with ['source', 'key'] fields
            bins: step size (float or int), or an array of bin edges
        """
        self._need_run()
        arr = reader.read(
            self.run,
            vname if isinstance(vname, str) else {"scan": {**vname, "dim": vname.get("dim")}},
            name="scan",
        )
        arr = arr.sel(trainId=np.intersect1d(arr.trainId, self.scan.trainId))
        v = np.asarray(arr.values, float)
        if np.ndim(bins) == 0:
            step = float(bins)
            if step <= 0:
                raise ToolBoxValueError(f"bins must be a positive step or bin edges, got {bins}")
            sv = step * np.round(v / step)
        else:
            edges = np.asarray(bins, float)
            if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
                raise ToolBoxValueError("bins must be increasing bin edges")
            k = np.digitize(v, edges) - 1
            centres = 0.5 * (edges[1:] + edges[:-1])
            sv = np.where(
                (k >= 0) & (k < len(centres)), centres[np.clip(k, 0, len(centres) - 1)], np.nan
            )
        self.scan = self.scan.sel(trainId=arr.trainId.values)
        self.scan["scan_variable"] = ("trainId", sv)
        self.scan_vname = vname if isinstance(vname, str) else vname.get("key")
        return self.scan

    def plot_scan(self):
        """Plot a previously defined scan to see the scan range and the statistics."""
        import matplotlib.pyplot as plt  # heavy: only when plotting
        from matplotlib.ticker import MaxNLocator  # heavy: only when plotting

        self._need_run()
        s = self.scan
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
        axes[0].plot(s.trainId - s.trainId[0], s.scan_variable, ".", ms=3)
        scan_label = axis_label(self.scan_vname) if self.scan_vname else "scan variable"
        axes[0].set_xlabel("train (from start of run)")
        axes[0].set_ylabel(scan_label)
        top = 0
        for flag, lab in ((True, "pumped"), (False, "unpumped")):
            sel = s.scan_variable.where(s.pumped == flag, drop=True)
            u, c = np.unique(sel.values[np.isfinite(sel.values)], return_counts=True)
            axes[1].plot(u, c, "o-", label=lab)
            top = max(top, int(c.max()) if c.size else 0)
        axes[1].set_xlabel(scan_label)
        axes[1].set_ylabel("trains per scan point")
        # counts: integer ticks from 0 (one train per point must not read as an axis of 1.0)
        axes[1].set_ylim(0, top + 1)
        axes[1].yaxis.set_major_locator(MaxNLocator(integer=True))
        axes[1].legend()
        fig.suptitle(self.plot_title)
        return fig

    def plot_xgm_hist(self, nbins=100):
        """Plots an histogram of the SCS XGM dedicated SAS3 data.

        inputs:
            nbins: number of the bins for the histogram.
        """
        import matplotlib.pyplot as plt  # heavy: only when plotting

        self._need_run()
        vals = (self.scan["xgm_all"] if "xgm_all" in self.scan else self.scan["xgm"]).values
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(vals[np.isfinite(vals)].ravel(), bins=nbins)
        ax.set_xlabel("SCS XGM SASE3 pulse energy [µJ]")
        ax.set_ylabel("pulses")
        ax.set_title(self.plot_title)
        return fig

    def xgm_filter(self, xgm_low=-np.inf, xgm_high=np.inf):
        """Filters the data by train. If one pulse within a train has an SASE3
        SCS XGM value below xgm_low or above xgm_high, that train will be
        dropped from the dataset.

        inputs:
            xgm_low: low threshold value
            xgm_high: high threshold value
        """
        self._need_run()
        x = self.scan["xgm_all"] if "xgm_all" in self.scan else self.scan["xgm"]
        bad = (x < xgm_low) | (x > xgm_high)
        if bad.ndim > 1:
            bad = bad.any(x.dims[1])
        before = self.scan.sizes["trainId"]
        self.scan = self.scan.sel(trainId=self.scan.trainId[~bad.values])
        print(f"xgm_filter: {before - self.scan.sizes['trainId']} of {before} trains dropped")
        return self.scan

    def load_mask(self, fname, plot=True):
        """Load a FastCCD mask file (.npy, nonzero = valid pixel).

        input:
            fname: string of the filename of the mask file
            plot: if True, the loaded mask is plotted
        """
        m = np.load(fname)
        if m.shape != self.shape:
            raise ToolBoxValueError(f"mask {fname} has shape {m.shape}, expected {self.shape}")
        self.mask = m.astype(bool)
        if plot:
            import matplotlib.pyplot as plt  # heavy: only when plotting

            fig, ax = plt.subplots(figsize=(4, 7))
            ax.imshow(self.mask, cmap="gray")
            ax.set_title(f"mask: {int((~self.mask).sum())} pixels masked")
        return self.mask

    # -- binning ----------------------------------------------------------------
    def binning(self):
        """Bin the FastCCD data by the predefined scan type
        (FastCCD.define_scan()), pumped and unpumped trains apart, with the
        frame binning (``process_one_module``)."""
        self._need_run()
        s = self.scan
        sv = s.scan_variable.values
        points = np.unique(sv[np.isfinite(sv)])
        if not len(points):
            raise ToolBoxValueError("no train has a finite scan variable")
        k = np.searchsorted(points, np.where(np.isfinite(sv), sv, points[0]))
        bins = np.where(np.isfinite(sv), 2 * k + np.where(s.pumped.values, 0, 1), -1)
        job = {
            "files": self.files,
            "source": self.source,
            "key": self.key.replace(".", "/"),
            "group": "data",
            "train_ids": s.trainId.values,
            "bins": bins,
            "nbins": 2 * len(points),
            "frame_shape": self.shape,
            "progress": True,
        }
        means, counts = process_one_module(job)
        xgm = s["xgm"].values
        xs = np.bincount(bins[bins >= 0], xgm[bins >= 0], 2 * len(points))
        with np.errstate(invalid="ignore", divide="ignore"):
            xm = xs / np.bincount(bins[bins >= 0], minlength=2 * len(points))
        dims = ("scan_variable", "x", "y")
        ds = xr.Dataset(
            {
                "pumped": (dims, means[0::2]),
                "unpumped": (dims, means[1::2]),
                "xgm_pumped": ("scan_variable", xm[0::2]),
                "xgm_unpumped": ("scan_variable", xm[1::2]),
                "sum_count_pumped": ("scan_variable", counts[0::2]),
                "sum_count_unpumped": ("scan_variable", counts[1::2]),
            },
            coords={"scan_variable": points},
        )
        ds.attrs.update(
            proposal=int(self.proposal),
            runNB=int(self.run_nr),
            isDark=int(self.isDark),
            t0_mm=self.t0,
            scan_vname=str(self.scan_vname or ""),
        )
        if self.scan_vname == "PP800_DelayLine":
            ds = ds.assign_coords(
                delay_ps=(
                    "scan_variable",
                    np.asarray(positionToDelay(points, origin=self.t0, invert=False)),
                )
            )
        self.module_data = ds
        return ds

    def _folder(self, save_folder):
        if save_folder is not None:
            return Path(save_folder)
        return processed_dir(self.proposal, None, "fastccd")

    @staticmethod
    def _file(folder, runNB):
        return Path(folder) / f"r{validate_run(runNB):04d}-fastccd-binned.h5"

    def save(self, save_folder=None, overwrite=False):
        """Save the binned data (atomically: a temporary file renamed).

        inputs:
            save_folder: string of the folder where to save the data
                (default <proposal>/usr/processed_runs/fastccd).
            overwrite: boolean whether or not to overwrite existing files.
        """
        if self.module_data is None:
            raise ToolBoxValueError("nothing to save: call binning() first")
        folder = self._folder(save_folder)
        path = self._file(folder, self.run_nr)
        if path.exists() and not overwrite:
            raise ToolBoxPathError(f"{path} exists; pass overwrite=True to replace it")
        with replacing(path) as tmp:
            self.module_data.to_netcdf(tmp, engine="h5netcdf")
        return str(path)

    def load_binned(self, runNB, dark_runNB=None, xgm_norm=True, save_folder=None):
        """Load previously binned FastCCD data (FastCCD.binning() and
        FastCCD.save()).

        inputs:
            runNB: run number to load
            dark_runNB: run number of the corresponding dark (its mean frame
                is subtracted)
            xgm_norm: normalize by XGM data if True
            save_folder: path string where the binned data are saved

        The dark-subtracted images are divided by the gain map (load_gain).
        """
        folder = self._folder(save_folder)
        path = self._file(folder, runNB)
        if not path.is_file():
            raise ToolBoxPathError(
                f"no binned FastCCD data at {path}; run open_run({runNB}), "
                "define_scan(...), binning() and save() first"
            )
        with xr.open_dataset(path, engine="h5netcdf") as f:
            ds = f.load()
        if dark_runNB is not None:
            dpath = self._file(folder, dark_runNB)
            if not dpath.is_file():
                raise ToolBoxPathError(
                    f"no binned dark at {dpath}; bin and save the dark run "
                    f"{dark_runNB} (open_run(..., isDark=True)) first"
                )
            with xr.open_dataset(dpath, engine="h5netcdf") as f:
                d = f.load()
            w = np.concatenate([d.sum_count_pumped.values, d.sum_count_unpumped.values])
            frames = np.concatenate([d.pumped.values, d.unpumped.values])
            ok = w > 0
            dark = np.tensordot(w[ok], frames[ok], 1) / w[ok].sum()
            ds["pumped"] = ds["pumped"] - dark
            ds["unpumped"] = ds["unpumped"] - dark
            ds.attrs["dark_runNB"] = int(dark_runNB)
        gain = xr.DataArray(self.gain, dims=("x", "y"))
        ds["pumped"] = ds["pumped"] / gain
        ds["unpumped"] = ds["unpumped"] / gain
        if xgm_norm:
            ds["pumped"] = ds["pumped"] / ds["xgm_pumped"]
            ds["unpumped"] = ds["unpumped"] / ds["xgm_unpumped"]
        ds.attrs["xgm_norm"] = int(bool(xgm_norm))
        self.binned = ds
        self.run_nr = validate_run(runNB)
        return ds

    def plot_FastCCD(self, use_mask=True, p_low=1, p_high=98, vmin=None, vmax=None):
        """Plot pumped and unpumped FastCCD images (averaged over the scan)
        and their difference.

        inputs:
            use_mask: if True, a mask is applied on the FastCCD.
            p_low: low percentile value to adjust the contrast scale on the
                unpumped and pumped image
            p_high: high percentile value to adjust the contrast scale on the
                unpumped and pumped image
            vmin: low value of the image scale
            vmax: high value of the image scale
        """
        import matplotlib.pyplot as plt  # heavy: only when plotting

        if self.binned is None:
            raise ToolBoxValueError("no binned data: call load_binned(runNB) first")
        p = self.binned["pumped"].mean("scan_variable").values
        u = self.binned["unpumped"].mean("scan_variable").values
        if use_mask:
            p, u = np.where(self.mask, p, np.nan), np.where(self.mask, u, np.nan)
        lo = vmin if vmin is not None else np.nanpercentile(u, p_low)
        hi = vmax if vmax is not None else np.nanpercentile(u, p_high)
        unit = self._intensity_unit()
        fig, axes = plt.subplots(3, 1, figsize=(10, 12))
        # images are (x, y): transposed so that x runs horizontally and y vertically, as
        # the beam centre (x, y) of azimuthal_int is given
        for ax, img, title in ((axes[0], u, "unpumped"), (axes[1], p, "pumped")):
            im = ax.imshow(img.T, vmin=lo, vmax=hi, origin="lower")
            ax.set_title(title)
            fig.colorbar(im, ax=ax, shrink=0.8, label=f"intensity [{unit}]")
        d = p - u
        lim = np.nanpercentile(np.abs(d), 99)
        im = axes[2].imshow(d.T, cmap="RdBu_r", vmin=-lim, vmax=lim, origin="lower")
        axes[2].set_title("pumped - unpumped")
        fig.colorbar(im, ax=axes[2], shrink=0.8, label=f"intensity difference [{unit}]")
        for ax in axes:
            ax.set_xlabel("x [pixel]")
            ax.set_ylabel("y [pixel]")
        fig.suptitle(self.plot_title if hasattr(self, "plot_title") else "FastCCD")
        return fig

    def _intensity_unit(self):
        """Unit of the binned images: ADU per µJ of XGM pulse energy when normalised."""
        binned = getattr(self, "binned", None)
        norm = binned is not None and bool(binned.attrs.get("xgm_norm", 0))
        return "ADU / µJ" if norm else "ADU"

    # -- azimuthal integration ----------------------------------------------------
    def azimuthal_int(self, wl, center=None, angle_range=[0, 180 - 1e-6], dr=1, use_mask=True):
        """Perform azimuthal integration of 1D binned FastCCD run.

        inputs:
            wl: photon wavelength (nm)
            center: center of integration (x, y) in pixels (default: the
                middle of the detector)
            angle_range: azimuthal angles of integration in degrees, in
                [-180, 180]; pixels of both half-planes symmetric through the
                centre are included (the ring is centro-symmetric)
            dr: radial bin width in pixels
            use_mask: if True, use the loaded mask

        Output: self.azimuthal, a Dataset of pumped, unpumped, difference
        (pumped - unpumped) and relative (difference / unpumped) against
        (scan_variable, 'delta_q (1/nm)').
        """
        if self.binned is None:
            raise ToolBoxValueError("no binned data: call load_binned(runNB) first")
        if wl <= 0 or dr <= 0:
            raise ToolBoxValueError(f"wl (nm) and dr (pixels) must be positive, got {wl}, {dr}")
        cx, cy = center if center is not None else (self.shape[0] / 2, self.shape[1] / 2)
        xx, yy = np.indices(self.shape)
        r = np.hypot(xx - cx, yy - cy)
        phi = np.degrees(np.arctan2(yy - cy, xx - cx))
        a0, a1 = angle_range
        sel = (
            ((phi >= a0) & (phi <= a1))
            | ((phi - 180 >= a0) & (phi - 180 <= a1))
            | ((phi + 180 >= a0) & (phi + 180 <= a1))
        )
        if use_mask:
            sel &= self.mask
        rb = (r / dr).astype(np.int64)
        nb = int(rb.max()) + 1
        ridx = rb[sel]
        npx = np.bincount(ridx, minlength=nb)
        rc = (np.arange(nb) + 0.5) * dr
        theta = np.arctan(rc * self.px_pitch / self.distance)
        q = 4 * np.pi / wl * np.sin(theta / 2)
        keep = npx > 0
        out = {}
        for name in ("pumped", "unpumped"):
            img = self.binned[name].values.reshape(self.binned.sizes["scan_variable"], -1)
            flat = img[:, sel.ravel()]
            prof = np.stack([np.bincount(ridx, np.nan_to_num(row), nb) for row in flat])
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = prof[:, keep] / npx[keep]
        coords = {"scan_variable": self.binned.scan_variable.values, Q_DIM: q[keep]}
        for c in ("delay_ps",):
            if c in self.binned.coords:
                coords[c] = ("scan_variable", self.binned[c].values)
        dims = ("scan_variable", Q_DIM)
        az = xr.Dataset({k: (dims, v) for k, v in out.items()}, coords=coords)
        az["difference"] = az["pumped"] - az["unpumped"]
        with np.errstate(invalid="ignore", divide="ignore"):
            az["relative"] = az["difference"] / az["unpumped"]
        az.attrs.update(
            wavelength_nm=float(wl),
            center=[float(cx), float(cy)],
            dr_px=float(dr),
            distance_m=self.distance,
        )
        self.azimuthal = az
        return az

    def plot_azimuthal_int(self, kind="difference", lim=None):
        """Plot a computed azimuthal integration.

        inputs:
            kind: (str) either 'difference' or 'relative' to change the type
                of plot.
            lim: color scale limit (symmetric), default: the 99th percentile
        """
        import matplotlib.pyplot as plt  # heavy: only when plotting

        if self.azimuthal is None:
            raise ToolBoxValueError("no azimuthal integration: call azimuthal_int(wl) first")
        if kind not in ("difference", "relative"):
            raise ToolBoxValueError(f"kind must be 'difference' or 'relative', got {kind!r}")
        d = self.azimuthal[kind]
        u = self.azimuthal["unpumped"].mean("scan_variable")
        signal = (u > 0.02 * float(u.max())).values  # q range with scattered intensity
        if kind == "relative":  # undefined where nothing is scattered
            d = d.where(xr.DataArray(signal, dims=(Q_DIM,)))
        finite = np.abs(d.values[np.isfinite(d.values)])
        lim = lim if lim is not None else float(np.percentile(finite, 99)) if finite.size else 1.0
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
        ax1.plot(d[Q_DIM], self.azimuthal["unpumped"].mean("scan_variable"), label="unpumped")
        ax1.plot(d[Q_DIM], self.azimuthal["pumped"].mean("scan_variable"), label="pumped")
        ax1.set_ylabel(f"intensity [{self._intensity_unit()}]\n(azimuthal average)")
        ax1.legend()
        y = d["delay_ps"].values if "delay_ps" in d.coords else d.scan_variable.values
        im = ax2.pcolormesh(
            d[Q_DIM], y, d.values, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="nearest"
        )
        if signal.any():
            qs = d[Q_DIM].values[signal]
            pad = 0.2 * (qs.max() - qs.min() + 1e-12)
            ax2.set_xlim(qs.min() - pad, qs.max() + pad)
        ax2.set_xlabel("q [1/nm]")
        ax2.set_ylabel("delay [ps]" if "delay_ps" in d.coords else "scan variable")
        fig.colorbar(im, ax=ax2, label=_KIND_LABELS.get(kind, kind))
        return fig

    def plot_azimuthal_line_cut(self, data, qranges, qwidths):
        """Plot line scans on top of the data.

        inputs:
            data: an azimuthal integrated xarray DataArray with
                'delta_q (1/nm)' as one of its dimension.
            qranges: a list of q-range (the centres of the cuts)
            qwidth: a list of q-width, same length as qranges

        Returns the cuts, a DataArray (cut, scan_variable).
        """
        import matplotlib.pyplot as plt  # heavy: only when plotting

        if Q_DIM not in data.dims:
            raise ToolBoxValueError(f"data needs a {Q_DIM!r} dimension, has {data.dims}")
        if len(qranges) != len(qwidths):
            raise ToolBoxValueError("qranges and qwidths must have the same length")
        cuts = []
        for q, w in zip(qranges, qwidths):
            sel = data.where(abs(data[Q_DIM] - q) <= w / 2, drop=True)
            cuts.append(sel.mean(Q_DIM))
        cuts = xr.concat(cuts, "cut").assign_coords(cut=list(qranges))
        fig, ax = plt.subplots(figsize=(7, 4))
        x = data["delay_ps"].values if "delay_ps" in data.coords else data.scan_variable.values
        for c, q, w in zip(cuts, qranges, qwidths):
            ax.plot(x, c, "o-", label=f"q = {q:.4g} ± {w / 2:.2g} 1/nm")
        ax.set_xlabel("delay [ps]" if "delay_ps" in data.coords else "scan variable")
        ax.set_ylabel(_KIND_LABELS.get(data.name, str(data.name or "azimuthal integration")))
        ax.legend(fontsize="small")
        return cuts
