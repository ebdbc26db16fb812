"""hRIXS: single-photon centroiding, curvature correction and spectra of the
hRIXS spectrometer (Andor Marana X camera), as ``toolbox_scs.detectors.hrixs``.

Conventions (the same as the simulator's, ``scs_nb.sim.hrixs``):

* images have dims ``(x, y)``: ``x`` runs along the spectroscopic lines,
  ``y`` is the energy-dispersive direction; pixel ``k`` is centred on
  coordinate ``k``;
* a line of constant energy is curved: ``y = y0 + parabola(x)`` with
  ``parabola(x) = (CURVE_B * x + CURVE_A) * x`` on absolute detector ``x``;
  the corrected coordinate is ``y - parabola(x)``;
* energy = ``ENERGY_INTERCEPT + ENERGY_SLOPE * corrected y``.

Centroiding (``find_photons``, a numba kernel): a hit is a 2x2 block whose
(bias-subtracted) sum is at least the threshold and is the largest of its 8
neighbouring 2x2 blocks; its position is the centre of mass of the 4x4 block
around it, its charge the 4x4 sum. ``centroid_two`` classifies a hit as a
double hit when its charge is at least ``DBL_THRESHOLD`` photons (the charge of
one photon follows from the incident energy, ``MARANAX_EV_PER_ADU``).
"""
from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError
from ..facility import MARANAX_EV_PER_ADU

__all__ = ["hRIXS", "MaranaX", "find_photons"]

_KERNEL = None


def _kernel():
    """The numba hit finder, compiled on first use (cached on disk)."""
    global _KERNEL
    if _KERNEL is None:
        import numba

        @numba.njit(nogil=True, cache=True)
        def hits(img, tmap, pre, dark, base, thr, out):
            # pre-filter: img >= tmap + pre holds for every pixel with
            # img - bias >= thr / 4 (a block sum >= thr has such a pixel);
            # tmap: the bias rounded down, shape (nx, ny) or (1, ny)
            nx, ny = img.shape
            use_dark = dark.shape[0] == nx and dark.shape[1] == ny
            one_row = tmap.shape[0] == 1
            maxh = out.shape[0]
            nh = 0
            win = np.empty((4, 4))
            nseg = (ny + 63) // 64
            for i in range(1, nx - 1):
                ti = 0 if one_row else i
                for sg in range(nseg):
                    c = 0
                    if sg * 64 + 64 <= ny:
                        # vectorised pre-filter (indices provably >= 0)
                        for k in range(64):
                            c += img[i, sg * 64 + k] >= tmap[ti, sg * 64 + k] + pre
                    else:
                        c = 1
                    if c == 0:
                        continue
                    for k in range(64):
                        j = sg * 64 + k
                        if j < 1 or j > ny - 2:
                            continue
                        if img[i, j] < tmap[ti, j] + pre:
                            continue
                        # the 2x2 blocks (top-left corner bi, bj) holding pixel (i, j)
                        for bi in range(i - 1, i + 1):
                            if bi < 1 or bi > nx - 3:
                                continue
                            for bj in range(j - 1, j + 1):
                                if bj < 1 or bj > ny - 3:
                                    continue
                                # visit each block once: from its first pixel above tmap
                                seen = False
                                for pi in range(bi, bi + 2):
                                    for pj in range(bj, bj + 2):
                                        if pi * ny + pj < i * ny + j and img[pi, pj] \
                                                >= tmap[0 if one_row else pi, pj] + pre:
                                            seen = True
                                if seen:
                                    continue
                                for a in range(4):
                                    for b in range(4):
                                        if use_dark:
                                            win[a, b] = img[bi - 1 + a, bj - 1 + b] \
                                                - dark[bi - 1 + a, bj - 1 + b]
                                        else:
                                            win[a, b] = img[bi - 1 + a, bj - 1 + b] - base
                                s = win[1, 1] + win[1, 2] + win[2, 1] + win[2, 2]
                                if s < thr:
                                    continue
                                # the largest 2x2 sum among its 8 neighbours (ties:
                                # the first in raster order wins)
                                is_max = True
                                for ai in range(3):
                                    for aj in range(3):
                                        if ai == 1 and aj == 1:
                                            continue
                                        sn = (win[ai, aj] + win[ai + 1, aj]
                                              + win[ai, aj + 1] + win[ai + 1, aj + 1])
                                        if ai < 1 or (ai == 1 and aj < 1):
                                            if sn >= s:
                                                is_max = False
                                        elif sn > s:
                                            is_max = False
                                if not is_max:
                                    continue
                                tot = 0.0
                                sx = 0.0
                                sy = 0.0
                                for a in range(4):
                                    for b in range(4):
                                        w = win[a, b]
                                        tot += w
                                        sx += w * (bi - 1 + a)
                                        sy += w * (bj - 1 + b)
                                if nh < maxh:
                                    out[nh, 0] = sx / tot
                                    out[nh, 1] = sy / tot
                                    out[nh, 2] = s
                                    out[nh, 3] = tot
                                nh += 1
            return nh

        _KERNEL = hits
    return _KERNEL


_NO_DARK = np.zeros((1, 1), np.float32)
_TMAPS: dict = {}
_TMAPS_LOCK = threading.Lock()


def _tmap(img, dark, base, thr):
    """The pre-filter of the kernel: (tmap, pre) with ``img >= tmap + pre``
    for every pixel at least ``thr / 4`` above the bias. For integer images
    tmap is the bias rounded down (cached per dark array) and pre an integer
    rounded down: a conservative, exact-integer test."""
    pre = 0.25 * thr
    integer = img.dtype.kind in "ui"
    if integer:
        pre = int(np.floor(pre))
    if dark is None:
        t = np.full((1, img.shape[1]), np.floor(base) if integer else base)
        return (t.clip(0, np.iinfo(img.dtype).max).astype(img.dtype) if integer
                else t.astype(img.dtype)), pre
    key = (id(dark), img.dtype.str)
    with _TMAPS_LOCK:          # MaranaX.centroid calls this from several threads
        hit = _TMAPS.get(key)
        if hit is not None and hit[0] is dark:
            return hit[1], pre
        t = (np.floor(dark).clip(0, np.iinfo(img.dtype).max).astype(img.dtype) if integer
             else dark.astype(img.dtype))
        if len(_TMAPS) >= 8:
            _TMAPS.pop(next(iter(_TMAPS)))
        _TMAPS[key] = (dark, t)    # keeps dark alive, so its id is not reused
    return t, pre


def find_photons(image, threshold, dark=None, base=None, max_hits=4096):
    """Hits of one image (2D array): an array (N, 4) of x, y (centre of mass in
    pixels of ``image``), the 2x2 sum and the 4x4 sum (ADU, bias subtracted).

    threshold: ADU of a 2x2 block sum. dark: an image of the bias to subtract
    (else ``base``, default the image mean); pass the same (float32,
    C-contiguous) dark array for every image, its threshold map is cached.
    """
    img = np.asarray(image)
    if img.ndim != 2:
        raise ToolBoxValueError(f"find_photons needs one 2D image, got shape {img.shape}")
    if img.dtype not in (np.uint16, np.float32, np.float64):
        img = img.astype(np.float32)
    img = np.ascontiguousarray(img)
    if dark is None:
        d = _NO_DARK
        b = float(img.mean()) if base is None else float(base)
    else:
        d = dark
        if not (isinstance(d, np.ndarray) and d.dtype == np.float32
                and d.flags.c_contiguous):
            d = np.ascontiguousarray(dark, dtype=np.float32)
        if d.shape != img.shape:
            raise ToolBoxValueError(f"dark of shape {d.shape} does not match the image "
                                    f"{img.shape}; load a dark of the same region")
        b = 0.0
    t, pre = _tmap(img, None if dark is None else d, b, float(threshold))
    kernel = _kernel()
    out = np.empty((max_hits, 4), np.float64)
    n = kernel(img, t, pre, d, b, float(threshold), out)
    if n > max_hits:
        out = np.empty((n, 4), np.float64)
        n = kernel(img, t, pre, d, b, float(threshold), out)
    return out[:n].copy()


def _noise_sigma(image, dark=None):
    """Robust rms (MAD) of the pixels of an image, on a subsample."""
    sub = np.asarray(image)[::16, ::16].astype(np.float32)
    if dark is not None:
        sub = sub - np.asarray(dark)[::16, ::16]
    med = np.median(sub)
    return 1.4826 * float(np.median(np.abs(sub - med)))


def _to_json(value):
    if isinstance(value, slice):
        return {"slice": [value.start, value.stop, value.step]}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _from_json(value):
    if isinstance(value, dict) and set(value) == {"slice"}:
        return slice(*value["slice"])
    return value


def save_json(path, obj, overwrite=False):
    """Write ``obj`` as JSON to ``path`` atomically (temporary file + rename);
    an existing file is an error unless ``overwrite``."""
    import json
    from pathlib import Path
    from ..atomic import json_default, write_atomic
    from ..errors import ToolBoxPathError
    path = Path(path)
    if path.exists() and not overwrite:
        raise ToolBoxPathError(f"{path} exists; pass overwrite=True to replace it, or "
                               "another path")
    return write_atomic(path, json.dumps(obj, indent=1, default=json_default))


def load_json(path):
    import json
    from pathlib import Path
    from ..errors import ToolBoxPathError
    path = Path(path)
    if not path.is_file():
        raise ToolBoxPathError(f"no parameter file {path}; save one with save_params()")
    with open(path) as f:
        return json.load(f)


class SpectrometerParams:
    """``set_params`` / ``get_params`` over the upper-case attributes named in
    ``_PARAMS``, and ``save_params`` / ``load_params`` (beyond the ToolBox: JSON,
    written atomically, with the fits named in ``_FITS``); shared by hRIXS and Viking."""

    _NAME = ""
    _PARAMS: tuple = ()
    _FITS: tuple = ()

    def set_params(self, **params):
        for key, value in params.items():
            if key.lower() not in self._PARAMS:
                raise ToolBoxValueError(f"unknown {self._NAME} parameter {key!r}; parameters: "
                                        f"{', '.join(self._PARAMS)}")
            setattr(self, key.upper(), value)

    def get_params(self, *params):
        if not params:
            params = self._PARAMS
        bad = [p for p in params if p.lower() not in self._PARAMS]
        if bad:
            raise ToolBoxValueError(f"unknown {self._NAME} parameter(s) {bad}; parameters: "
                                    f"{', '.join(self._PARAMS)}")
        return {p: getattr(self, p.upper()) for p in params}

    def save_params(self, path, overwrite=False):
        """Save the parameters and the fits (with their inputs) as JSON, atomically."""
        return save_json(path, {"class": type(self).__name__, "params": self.get_params(),
                                **{fit: getattr(self, fit) for fit in self._FITS}}, overwrite)

    def load_params(self, path):
        """Set the parameters and fits saved by ``save_params``."""
        saved = load_json(path)
        self.set_params(**{k: _from_json(v) for k, v in saved["params"].items()})
        for fit in self._FITS:
            setattr(self, fit, saved.get(fit))
        return self



def _weighted_polyfit(x, y, deg, err):
    """Polynomial fit weighted by absolute errors ``err``: (coefficients,
    covariance). The covariance is scaled up by the reduced chi-square when it
    exceeds 1 (errors that underestimate the scatter), never down: with a few
    points, scaling by a chi-square of few degrees of freedom would make the
    errors themselves noisy."""
    coef, cov = np.polyfit(x, y, deg, w=1 / np.asarray(err, float), cov="unscaled")
    dof = len(x) - deg - 1
    if dof > 0:
        chi2 = float((((np.polyval(coef, x) - y) / err) ** 2).sum())
        cov = cov * max(1.0, chi2 / dof)
    return coef, cov

class hRIXS(SpectrometerParams):
    """The hRIXS analysis, especially curvature correction.

    The objects of this class contain the meta-information about the settings
    of the spectrometer, not the actual data, except possibly a dark image for
    background subtraction. The actual data is loaded into ``xarray`` and stays
    there.

    Attributes: PROPOSAL, DETECTOR ('hRIXS_det' or 'MaranaX'), X_RANGE (slice
    along the lines), Y_RANGE (slice in the energy direction), THRESHOLD (ADU
    of a 2x2 sum; None: use STD_THRESHOLD), STD_THRESHOLD (in standard
    deviations of a 2x2 sum of noise), DBL_THRESHOLD (charge, in photons,
    above which a hit is a double hit), AUTO_THRESHOLD (``method='auto'``: hit
    threshold in photons), BINS (None: one bin per pixel of Y_RANGE),
    CURVE_A, CURVE_B, ENERGY_INTERCEPT, ENERGY_SLOPE, USE_DARK, FIELDS,
    DETECTOR_FIELDS, aggregators.

    Example::

        h = hRIXS(3145)
        h.Y_RANGE = slice(700, 900)
        h.CURVE_B = -3.695346575286939e-07
        h.CURVE_A = 0.024084479232443695
        h.ENERGY_SLOPE = 0.018387
        h.ENERGY_INTERCEPT = 498.27
        h.STD_THRESHOLD = 3.5
    """

    PROPOSAL = 2769
    DETECTOR = "MaranaX"
    X_RANGE = np.s_[:]
    Y_RANGE = np.s_[:]
    THRESHOLD = None
    STD_THRESHOLD = 8.0
    DBL_THRESHOLD = 1.5
    AUTO_THRESHOLD = 0.5
    BINS = None
    CURVE_A = 0.0
    CURVE_B = 0.0
    USE_DARK = False
    ENERGY_INTERCEPT = 0.0
    ENERGY_SLOPE = 1.0
    FIELDS = ["hRIXS_exposure", "hRIXS_delay", "hRIXS_norm", "nrj"]
    DETECTOR_FIELDS = {"hRIXS_det": ["hRIXS_det"], "MaranaX": ["MaranaX"]}
    _NAME = "hRIXS"
    _FITS = ("curvature_fit", "energy_fit")
    _PARAMS = ("proposal", "detector", "x_range", "y_range", "threshold", "std_threshold",
               "dbl_threshold", "auto_threshold", "bins", "curve_a", "curve_b", "use_dark",
               "energy_intercept", "energy_slope", "fields")

    def __init__(self, proposalNB, detector="MaranaX"):
        if detector not in self.DETECTOR_FIELDS:
            raise ToolBoxValueError(
                f"unknown hRIXS detector {detector!r}; known: {sorted(self.DETECTOR_FIELDS)}; "
                "pass detector='MaranaX' (or 'hRIXS_det' for older runs)")
        self.PROPOSAL = proposalNB
        self.DETECTOR = detector
        self.FIELDS = list(type(self).FIELDS)
        self.dark_image = None
        self.curvature_fit = None
        self.energy_fit = None
        self.aggregators = {
            "hRIXS_det": _sum, "MaranaX": _sum, "Delay": _mean, "hRIXS_delay": _mean,
            "hRIXS_norm": _sum, "hRIXS_exposure": _sum, "nrj": _mean,
            "spectrum": _sum, "dbl_spectrum": _sum, "counts": _sum,
            "n_singles": _sum, "n_doubles": _sum,
        }

    # -- parameters -----------------------------------------------------------
    # -- loading --------------------------------------------------------------
    def _fields(self, extra_fields=()):
        return list(self.FIELDS) + list(self.DETECTOR_FIELDS[self.DETECTOR]) + list(extra_fields)

    def from_run(self, runNB, proposal=None, extra_fields=(), drop_first=False, subset=None):
        """Load run ``runNB`` (a thin wrapper around ``scs_nb.load``);
        ``drop_first`` removes the first image of the run."""
        from ..load import load
        if proposal is None:
            proposal = self.PROPOSAL
        if drop_first:
            subset = slice(1, None)
        _, data = load(proposal, runNB=runNB, subset=subset, fields=self._fields(extra_fields),
                       extract_digitizers=False, extract_xgm=False, extract_bam=False)
        return data

    def load_dark(self, runNB, proposal=None):
        """Load the dark run ``runNB``; its mean image is subtracted from then on."""
        data = self.from_run(runNB, proposal)
        self.dark_image = data[self.DETECTOR].astype(np.float32).mean(dim="trainId")
        self.USE_DARK = True

    # -- geometry -------------------------------------------------------------
    def parabola(self, x):
        return (self.CURVE_B * x + self.CURVE_A) * x

    def _ranges(self, shape):
        xs = range(*self.X_RANGE.indices(shape[0]))
        ys = range(*self.Y_RANGE.indices(shape[1]))
        if not len(xs) or not len(ys):
            raise ToolBoxValueError(f"X_RANGE={self.X_RANGE} and Y_RANGE={self.Y_RANGE} select "
                                    f"no pixel of the {shape} images; pass slices inside it")
        return xs, ys

    def _dark(self, shape):
        if not self.USE_DARK:
            return None
        if self.dark_image is None:
            raise ToolBoxValueError("USE_DARK is True but no dark is loaded; call "
                                    "load_dark(run) or set USE_DARK = False")
        cached = getattr(self, "_dark_np", None)
        if cached is not None and cached[0] is self.dark_image:
            dark = cached[1]
        else:
            dark = np.ascontiguousarray(self.dark_image, np.float32)
            self._dark_np = (self.dark_image, dark)
        if dark.shape != tuple(shape):
            raise ToolBoxValueError(f"the dark image has shape {dark.shape}, the images "
                                    f"{tuple(shape)}; load a dark of this detector")
        return dark

    def _images(self, data):
        if self.DETECTOR not in data:
            raise ToolBoxValueError(
                f"the dataset has no {self.DETECTOR!r} images (variables: {list(data)}); "
                "load it with from_run() or set DETECTOR")
        return data[self.DETECTOR]

    # -- curvature ----------------------------------------------------------------
    @staticmethod
    def _poisson_refit(gauss, yabs, prof, yy, pp, p, adu, window, iterations=2):
        """Refit a line profile (ADU) weighted by its counting noise: the
        variance of a bin is the photons of the line in it (the fitted model)
        plus the background's variance, measured on the profile farther than
        ``window`` from the line. Returns the fit's (parameters, covariance)
        with the position's error in px (absolute, photon statistics)."""
        from scipy.optimize import curve_fit
        far = np.abs(yabs - p[1]) > max(window, 4 * abs(p[2]))
        bg = prof[far] / adu
        if len(bg) >= 10:
            mad = 1.4826 * np.median(np.abs(bg - np.median(bg)))
            floor = max(mad ** 2, abs(float(np.median(bg))), 1e-3)
        else:
            floor = max(abs(float(p[3])) / adu, 1e-3)
        counts = pp / adu
        q = np.array([p[0] / adu, p[1], p[2], p[3] / adu])
        cov = None
        for _ in range(iterations):
            line = np.maximum(gauss(yy, q[0], q[1], q[2], 0.0), 0.0)
            sigma = np.sqrt(line + floor)
            q, cov = curve_fit(gauss, yy, counts, p0=q, sigma=sigma, absolute_sigma=True)
        scale = np.array([adu, 1.0, 1.0, adu])
        return q * scale, cov * np.outer(scale, scale)

    def find_curvature(self, runNB, proposal=None, plot=True, args=None, **kwargs):
        """Find the curvature coefficients (CURVE_A, CURVE_B) from run ``runNB``.

        The summed image is cut into slices along x; in each slice the line
        position is a Gaussian fit of the profile along y, weighted by its
        counting noise (the profile in photons, from the incident energy ``nrj``
        and ``MARANAX_EV_PER_ADU``: variance = photons of the line + the
        background's variance, measured away from the line); a parabola
        ``c + CURVE_A x + CURVE_B x**2`` is fitted to the positions (weighted
        by their errors). ``args``: a starting (CURVE_A, CURVE_B) to look for
        the line near. ``kwargs``: ``nslices`` (default 64) and ``window``
        (half width in px of the fit around the line, default 15); the rest
        goes to ``imshow``. The fit and its errors are in ``self.curvature_fit``.
        """
        from scipy.optimize import curve_fit
        nslices = int(kwargs.pop("nslices", 64))
        window = int(kwargs.pop("window", 15))
        data = self.from_run(runNB, proposal)
        imgs = self._images(data)
        shape = imgs.shape[1:]
        image = imgs.astype(np.float64).sum(dim="trainId").values
        dark = self._dark(shape)
        image = image - (dark * imgs.sizes["trainId"] if dark is not None
                         else np.median(image))
        xs, ys = self._ranges(shape)
        roi = image[xs.start:xs.stop:xs.step, ys.start:ys.stop:ys.step]
        xabs, yabs = np.asarray(xs, float), np.asarray(ys, float)
        a0, b0 = (args[0], args[1]) if args is not None else (0.0, 0.0)
        edges = np.linspace(0, roi.shape[0], nslices + 1).astype(int)
        # with a starting curvature: the line's offset c from the straightened profile
        c0 = None
        if args is not None:
            total = np.zeros(len(yabs))
            for lo, hi in zip(edges[:-1], edges[1:]):
                xm = xabs[lo:hi].mean()
                total += np.interp(yabs + (b0 * xm + a0) * xm, yabs, roi[lo:hi].sum(axis=0))
            c0 = yabs[np.argmax(total)]
        xc, yc, yerr = [], [], []
        # ADU of one photon: the profiles in photons have Poisson noise
        adu = (float(np.nanmean(data["nrj"].values)) / MARANAX_EV_PER_ADU
               if "nrj" in data else None)
        if adu is not None and not (np.isfinite(adu) and adu > 0):
            adu = None

        def gauss(y, h, m, s, o):
            return h * np.exp(-0.5 * ((y - m) / s) ** 2) + o

        for lo, hi in zip(edges[:-1], edges[1:]):
            xm = xabs[lo:hi].mean()
            prof = roi[lo:hi].sum(axis=0)
            if c0 is None:
                guess = int(np.argmax(prof))
            else:    # the maximum near the predicted line
                near = np.abs(yabs - (c0 + (b0 * xm + a0) * xm)) <= window
                guess = int(np.argmax(np.where(near, prof, -np.inf)))
            sel = slice(max(0, guess - window), min(len(prof), guess + window + 1))
            yy, pp = yabs[sel], prof[sel]
            p0 = (pp.max() - np.median(pp), yabs[guess], 2.0, np.median(pp))
            try:
                p, cov = curve_fit(gauss, yy, pp, p0=p0)
                if adu is not None:
                    p, cov = self._poisson_refit(gauss, yabs, prof, yy, pp, p, adu, window)
            except (RuntimeError, ValueError):
                continue
            err = np.sqrt(cov[1, 1]) if np.isfinite(cov[1, 1]) else np.inf
            if np.isfinite(err) and yy[0] <= p[1] <= yy[-1] and err < window:
                xc.append(xm)
                yc.append(p[1])
                yerr.append(err)
        if len(xc) < 4:
            raise ToolBoxValueError(
                f"find_curvature found the line in only {len(xc)} of {nslices} slices of run "
                f"{runNB}; check Y_RANGE={self.Y_RANGE} (the line must be inside) or pass args")
        xc, yc, yerr = map(np.asarray, (xc, yc, yerr))
        coef, cov = _weighted_polyfit(xc, yc, 2, yerr)
        b, a, c = coef
        eb, ea, ec = np.sqrt(np.diag(cov))
        self.CURVE_A, self.CURVE_B = float(a), float(b)
        self.curvature_fit = {"CURVE_A": float(a), "CURVE_B": float(b), "offset": float(c),
                              "CURVE_A_err": float(ea), "CURVE_B_err": float(eb),
                              "offset_err": float(ec), "x": xc.tolist(), "y": yc.tolist(),
                              "y_err": yerr.tolist(), "run": runNB}
        if plot:
            import matplotlib.pyplot as plt
            fig, ax = plt.subplots(figsize=(8, 5))
            kwargs.setdefault("cmap", "gray")
            ax.imshow(roi.T, aspect="auto", origin="lower", interpolation="nearest",
                      extent=(xabs[0], xabs[-1], yabs[0], yabs[-1]),
                      vmax=np.percentile(roi, 99.9), **kwargs)
            ax.errorbar(xc, yc, yerr, fmt=".", color="tab:orange", label="line position")
            ax.plot(xabs, c + self.parabola(xabs), color="tab:red",
                    label=f"c + {a:.4g} x + {b:.3g} x²")
            ax.set(xlabel="x (px, along the line)", ylabel="y (px, dispersive)",
                   ylim=(max(yabs[0], yc.min() - 40), min(yabs[-1], yc.max() + 40)))
            ax.legend()
        return self.CURVE_A, self.CURVE_B

    # -- centroiding ------------------------------------------------------------
    def _threshold(self, image, dark):
        if self.THRESHOLD is not None:
            return float(self.THRESHOLD)
        return float(self.STD_THRESHOLD) * 2.0 * _noise_sigma(image, dark)

    def _roi_hits(self, image, threshold, dark=None):
        """Hits of the X_RANGE x Y_RANGE region of a full image, absolute coordinates."""
        image = np.asarray(image)
        xs, ys = self._ranges(image.shape)
        if xs.step != 1 or ys.step != 1:
            raise ToolBoxValueError("X_RANGE and Y_RANGE must be slices with step 1")
        roi = image[xs.start:xs.stop, ys.start:ys.stop]
        droi = None if dark is None else self._roi_dark(dark, xs, ys)
        hits = find_photons(roi, threshold, droi)
        hits[:, 0] += xs.start
        hits[:, 1] += ys.start
        return hits

    def _roi_dark(self, dark, xs, ys):
        key = (id(dark), xs.start, xs.stop, ys.start, ys.stop)
        cached = getattr(self, "_dark_cache", None)
        if cached is None or cached[0] != key or cached[1] is not dark:
            roi = np.ascontiguousarray(dark[xs.start:xs.stop, ys.start:ys.stop], np.float32)
            self._dark_cache = cached = (key, dark, roi)
        return cached[2]

    def _corrected(self, hits):
        return np.stack([hits[:, 0], hits[:, 1] - self.parabola(hits[:, 0])], axis=1)

    def centroid_one(self, image):
        """Find the position of photons with sub-pixel precision.

        A photon has hit the detector where the intensity within a 2-by-2
        square exceeds the threshold (THRESHOLD, or STD_THRESHOLD standard
        deviations of the noise of such a sum); its position is the centre of
        mass in the 4-by-4 square around it. Returns an array (N, 2) of x and
        curvature-corrected y (detector pixels).
        """
        image = np.asarray(image)
        dark = self._dark(image.shape)
        hits = self._roi_hits(image, self._threshold(image, dark), dark)
        return self._corrected(hits)

    def centroid_two(self, image, energy):
        """Determine position of photon hits, single and double.

        The thresholds follow from the incident photon energy (eV): one photon
        carries ``energy / MARANAX_EV_PER_ADU`` ADU; a hit is a 2x2 sum above
        ``AUTO_THRESHOLD`` photons, a double hit one whose 4x4 charge is at
        least ``DBL_THRESHOLD`` photons. Returns (singles, doubles), arrays
        (N, 2) of x and curvature-corrected y.
        """
        image = np.asarray(image)
        energy = float(energy)
        if not np.isfinite(energy) or energy <= 0:
            raise ToolBoxValueError(f"centroid_two needs the incident photon energy in eV, "
                                    f"got {energy}; pass the mono energy ('nrj')")
        one = energy / MARANAX_EV_PER_ADU
        hits = self._roi_hits(image, self.AUTO_THRESHOLD * one, self._dark(image.shape))
        dbl = hits[:, 3] >= self.DBL_THRESHOLD * one
        c = self._corrected(hits)
        return c[~dbl], c[dbl]

    # -- spectra -----------------------------------------------------------------
    def _edges(self, shape, bins):
        _, ys = self._ranges(shape)
        bins = int(bins if bins is not None else (self.BINS or len(ys)))
        if bins < 1:
            raise ToolBoxValueError(f"bins must be a positive integer, got {bins}")
        edges = np.linspace(ys.start - 0.5, ys.stop - 0.5, bins + 1)
        return edges

    def _energy(self, edges):
        centres = 0.5 * (edges[1:] + edges[:-1])
        return self.ENERGY_INTERCEPT + self.ENERGY_SLOPE * centres

    def _energies(self, data, n, method="manual"):
        if "nrj" in data:
            return np.asarray(data["nrj"].values, float)
        if method == "auto":
            raise ToolBoxValueError(
                "method='auto' takes its thresholds from the photon energy, but the dataset "
                f"has no 'nrj' (variables: {list(data.data_vars)}); keep 'nrj' in FIELDS or "
                "use method='manual' (THRESHOLD / STD_THRESHOLD)")
        return np.full(n, np.nan)

    def _check_method(self, method):
        if method not in ("auto", "manual"):
            raise ToolBoxValueError(f"method must be 'auto' (centroid_two, thresholds from "
                                    f"the photon energy) or 'manual' (centroid_one, "
                                    f"THRESHOLD / STD_THRESHOLD), got {method!r}")

    def _one_image(self, image, energy, method, edges):
        """Histogram of single and double hits of one image, and the hits."""
        if method == "manual":
            singles, doubles = self.centroid_one(image), np.zeros((0, 2))
        else:
            singles, doubles = self.centroid_two(image, energy)
        hs = np.histogram(singles[:, 1], edges)[0]
        hd = np.histogram(doubles[:, 1], edges)[0]
        return hs, hd, singles, doubles

    def _assign_spectra(self, data, edges, singles, doubles, method):
        dims = ("trainId", "energy")
        out = data.assign_coords(energy=("energy", self._energy(edges)))
        out["energy"].attrs["units"] = "eV"
        if method == "manual":
            out = out.assign(spectrum=(dims, singles))
        else:
            out = out.assign(spectrum=(dims, singles + 2 * doubles),
                             dbl_spectrum=(dims, doubles))
        out["spectrum"].attrs.update(units="photons", method=method)
        return out

    def centroid(self, data, bins=None, method="auto"):
        """Calculate a spectrum by finding the centroid of individual photons.

        Returns a copy of ``data`` with ``spectrum`` (trainId, energy): photons
        per bin (a double hit counts two), and with ``method='auto'`` also
        ``dbl_spectrum`` (double hits per bin). method: 'auto' (centroid_two)
        or 'manual' (centroid_one).
        """
        self._check_method(method)
        images = self._images(data)
        edges = self._edges(images.shape[1:], bins)
        energies = self._energies(data, images.sizes["trainId"], method)
        n = images.sizes["trainId"]
        singles = np.zeros((n, len(edges) - 1))
        doubles = np.zeros((n, len(edges) - 1))
        for i in _progress(range(n), n, "centroiding"):
            singles[i], doubles[i], *_ = self._one_image(images[i].values, energies[i],
                                                          method, edges)
        return self._assign_spectra(data, edges, singles, doubles, method)

    def integrate(self, data):
        """Calculate a spectrum by integration.

        Each pixel's corrected coordinate ``y - parabola(x)`` is computed; the
        intensity of a pixel is shared between the (at most two) bins its
        1-pixel extent overlaps, in proportion to the overlap; the sum is
        divided by the number of pixels along x, so the result is the average
        intensity (ADU, dark subtracted) that arrived on one pixel.
        """
        images = self._images(data)
        shape = images.shape[1:]
        xs, ys = self._ranges(shape)
        edges = self._edges(shape, None)
        width = edges[1] - edges[0]
        if width < 1:
            raise ToolBoxValueError(f"integrate needs bins of at least one pixel; BINS="
                                    f"{self.BINS} for {len(ys)} pixels of Y_RANGE")
        x = np.asarray(xs, float)[:, None]
        y = np.asarray(ys, float)[None, :]
        low = (y - self.parabola(x)) - 0.5 - edges[0]      # px from the first edge
        k0 = np.floor(low / width).astype(np.int64)
        f0 = np.clip((k0 + 1) * width - low, 0, 1)
        nb = len(edges) - 1
        k0c = np.clip(k0, -1, nb) + 1                       # bins -1 and nb: outside
        k1c = np.clip(k0 + 1, -1, nb) + 1
        dark = self._dark(shape)
        n = images.sizes["trainId"]
        ret = np.zeros((n, nb))
        for i in _progress(range(n), n, "integrating"):
            img = images[i].values[xs.start:xs.stop:xs.step, ys.start:ys.stop:ys.step] \
                .astype(np.float64)
            if dark is not None:
                img = img - dark[xs.start:xs.stop:xs.step, ys.start:ys.stop:ys.step]
            else:
                img = img - np.median(img)
            s = np.bincount(k0c.ravel(), (img * f0).ravel(), nb + 2)
            s += np.bincount(k1c.ravel(), (img * (1 - f0)).ravel(), nb + 2)
            ret[i] = s[1:-1] / len(xs)
        out = data.assign_coords(energy=("energy", self._energy(edges)))
        out["energy"].attrs["units"] = "eV"
        out = out.assign(spectrum=(("trainId", "energy"), ret))
        out["spectrum"].attrs.update(units="ADU per pixel", method="integrate")
        return out

    # -- aggregation -----------------------------------------------------------
    def aggregator(self, da, dim):
        if dim not in da.dims:
            return da
        if da.name in self.aggregators:
            return self.aggregators[da.name](da, dim)
        return da.mean(dim=dim)

    def aggregate(self, ds, var=None, dim="trainId"):
        """Aggregate (mostly sum) all data within one dataset, grouped by
        ``var`` if given; ``counts`` gives the number of frames aggregated."""
        if dim not in ds.dims:
            raise ToolBoxValueError(f"dimension {dim!r} not in the dataset (dims: "
                                    f"{list(ds.dims)})")
        ds = ds.assign(counts=xr.ones_like(ds[dim], dtype=np.int64))
        if var is not None:
            if var not in ds:
                raise ToolBoxValueError(f"cannot group by {var!r}: not in the dataset "
                                        f"(variables: {list(ds.data_vars)})")
            return ds.groupby(var).map(lambda g: self.aggregate_ds(g.drop_vars(var), dim))
        return self.aggregate_ds(ds, dim)

    def aggregate_ds(self, ds, dim="trainId"):
        return ds.map(self.aggregator, dim=dim, keep_attrs=True)

    def normalize(self, data, which="hRIXS_norm"):
        """Add ``normalized`` = spectrum / ``which``."""
        for v in ("spectrum", which):
            if v not in data:
                raise ToolBoxValueError(f"normalize needs {v!r} in the dataset (variables: "
                                        f"{list(data.data_vars)}); run centroid() or "
                                        "integrate() first, or pass which='counts'")
        return data.assign(normalized=data["spectrum"] / data[which])

    # -- energy calibration (beyond the ToolBox) ------------------------------
    def find_energy_calibration(self, runNB, proposal=None, var="nrj", plot=False,
                                window=12.0):
        """Fit ENERGY_SLOPE and ENERGY_INTERCEPT from an elastic line scanned
        with the mono (``var``): per mono step, the corrected position of the
        elastic line (Gaussian fit of the hit positions); then a straight line
        energy = intercept + slope * position, weighted by the position errors.
        The fit and its errors are in ``self.energy_fit``. Returns (slope,
        intercept).
        """
        from scipy.optimize import curve_fit
        data = self.from_run(runNB, proposal)
        images = self._images(data)
        nrj = np.asarray(data[var].values, float)
        steps = np.round(nrj, 1)
        pos, err, ens = [], [], []
        for step in np.unique(steps):
            idx = np.flatnonzero(steps == step)
            per_train = [self.centroid_two(images[i].values, nrj[i])[0][:, 1] for i in idx]
            ys = np.concatenate(per_train)
            if len(ys) < 20:
                continue
            hist, edges = np.histogram(ys, np.arange(ys.min(), ys.max() + 1, 0.5))
            m0 = edges[np.argmax(hist)]
            sel = ys[np.abs(ys - m0) < window]
            h, e = np.histogram(sel, np.arange(m0 - window, m0 + window + 0.25, 0.25))
            c = 0.5 * (e[1:] + e[:-1])

            def gauss(y, a, m, s):
                return a * np.exp(-0.5 * ((y - m) / s) ** 2)
            p, cov = curve_fit(gauss, c, h, p0=(h.max(), sel.mean(), sel.std()),
                               sigma=np.sqrt(np.maximum(h, 1)), absolute_sigma=True)
            for _ in range(2):   # Pearson weights (the model's variance): no bias to low bins
                p, cov = curve_fit(gauss, c, h, p0=p, absolute_sigma=True,
                                   sigma=np.sqrt(np.maximum(gauss(c, *p), 0.5)))
            pos.append(p[1])
            err.append(np.sqrt(cov[1, 1]))
            # the step's energy: the trains' mono readbacks weighted by their hits
            hits = np.array([len(t) for t in per_train], float)
            ens.append(float(np.average(nrj[idx], weights=hits) if hits.sum() else
                             nrj[idx].mean()))
        if len(pos) < 2:
            raise ToolBoxValueError(f"run {runNB} has fewer than two {var!r} steps with an "
                                    "elastic line; pass an energy-scan run")
        pos, err, ens = map(np.asarray, (pos, err, ens))
        # fit position = (E - intercept) / slope, i.e. a line in E, errors in position
        coef, cov = _weighted_polyfit(ens, pos, 1, err)
        inv_slope, off = coef
        slope = 1 / inv_slope
        intercept = -off * slope
        # error propagation for slope = 1/k and intercept = -o/k
        J = np.array([[-1 / inv_slope ** 2, 0.0],
                      [off / inv_slope ** 2, -1 / inv_slope]])
        cv = J @ cov @ J.T
        self.ENERGY_SLOPE, self.ENERGY_INTERCEPT = float(slope), float(intercept)
        self.energy_fit = {"ENERGY_SLOPE": float(slope), "ENERGY_INTERCEPT": float(intercept),
                           "ENERGY_SLOPE_err": float(np.sqrt(cv[0, 0])),
                           "ENERGY_INTERCEPT_err": float(np.sqrt(cv[1, 1])),
                           "covariance": cv.tolist(),
                           "positions": pos.tolist(), "position_err": err.tolist(),
                           "energies": ens.tolist(), "run": runNB}
        if plot:
            import matplotlib.pyplot as plt
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.errorbar(pos, ens, xerr=err, fmt="o", label="elastic line")
            ax.plot(pos, intercept + slope * pos, label=f"{slope:.5f} eV/px")
            ax.set(xlabel="corrected y (px)", ylabel="photon energy (eV)")
            ax.legend()
        return self.ENERGY_SLOPE, self.ENERGY_INTERCEPT


def _sum(da, dim):
    return da.sum(dim=dim)


def _mean(da, dim):
    return da.mean(dim=dim)


def _progress(it, n, desc):
    from tqdm.auto import tqdm
    return tqdm(it, total=n, desc=desc, disable=n < 10, leave=False)


def _n_workers(n_jobs, n_tasks):
    n = n_jobs or min(os.cpu_count() or 1, 8)
    return max(1, min(int(n), int(n_tasks)))


class MaranaX(hRIXS):
    """A spin-off of the hRIXS class: with parallelized centroiding.

    ``centroid`` runs over the images in threads (the numba kernel releases
    the GIL); ``centroid_from_run`` reads the images in bounded chunks of
    ``CHUNK_TRAINS`` trains in worker processes, so a run never has to fit in
    memory. ``return_hits=True`` also returns up to ``NUM_MAX_HITS`` hits per
    image (x, corrected y; NaN padded) of each kind.
    """

    NUM_MAX_HITS = 30
    CHUNK_TRAINS = 8

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("detector", "MaranaX")
        super().__init__(*args, **kwargs)

    def _centroid_task(self, index, image, energy):
        hs, hd, singles, doubles = self._one_image(image, energy, self._method, self._edges_)
        self._histogram_task(index, hs, hd, None)
        if self._hits is not None:
            for name, h in (("singles", singles), ("doubles", doubles)):
                k = min(len(h), self.NUM_MAX_HITS)
                self._hits[name][index, :k] = h[:k]
                self._hits["n_" + name][index] = len(h)

    def _histogram_task(self, index, total, double, default_range):
        self._singles[index] = total
        self._doubles[index] = double

    def _centroid_map(self, index, *, image, energy):
        self._centroid_task(index, image, energy)

    def _centroid_tb_map(self, _, index, data):
        self._centroid_map(index, image=data[self.DETECTOR].values,
                           energy=float(data["nrj"]) if "nrj" in data else np.nan)

    def _setup(self, n, edges, method, return_hits):
        self._check_method(method)
        self._method, self._edges_ = method, edges
        self._singles = np.zeros((n, len(edges) - 1))
        self._doubles = np.zeros((n, len(edges) - 1))
        self._hits = None
        if return_hits:
            m = self.NUM_MAX_HITS
            self._hits = {"singles": np.full((n, m, 2), np.nan),
                          "doubles": np.full((n, m, 2), np.nan),
                          "n_singles": np.zeros(n, np.int64),
                          "n_doubles": np.zeros(n, np.int64)}

    def _finish(self, data, edges, method):
        out = self._assign_spectra(data, edges, self._singles, self._doubles, method)
        if self._hits is not None:
            h = self._hits
            out = out.assign(
                singles=(("trainId", "hit", "coord"), h["singles"]),
                doubles=(("trainId", "hit", "coord"), h["doubles"]),
                n_singles=("trainId", h["n_singles"]), n_doubles=("trainId", h["n_doubles"]))
            out = out.assign_coords(coord=["x", "y"])
            lost = int(np.maximum(h["n_singles"] - self.NUM_MAX_HITS, 0).sum()
                       + np.maximum(h["n_doubles"] - self.NUM_MAX_HITS, 0).sum())
            if lost:
                warnings.warn(f"return_hits: {lost} hits beyond NUM_MAX_HITS="
                              f"{self.NUM_MAX_HITS} per image are not returned (the spectra "
                              "count them); raise NUM_MAX_HITS to keep them", stacklevel=3)
        self._singles = self._doubles = self._hits = None
        return out

    def centroid(self, data, bins=None, **kwargs):
        """Calculate a spectrum by finding the centroid of individual photons,
        in parallel over the images. kwargs: method ('auto' | 'manual'),
        return_hits (bool), n_jobs (threads; default the CPU count)."""
        method = kwargs.pop("method", "auto")
        return_hits = kwargs.pop("return_hits", False)
        n_jobs = kwargs.pop("n_jobs", None)
        if kwargs:
            raise ToolBoxValueError(f"unknown argument(s) {sorted(kwargs)} of centroid; "
                                    "pass bins, method, return_hits or n_jobs")
        images = self._images(data)
        n = images.sizes["trainId"]
        edges = self._edges(images.shape[1:], bins)
        energies = self._energies(data, n, method)
        self._setup(n, edges, method, return_hits)
        _kernel()   # compile once, before the threads start
        raw = images.values
        if self.USE_DARK:   # the object's dark caches, filled once before the threads
            xs, ys = self._ranges(raw.shape[1:])
            self._roi_dark(self._dark(raw.shape[1:]), xs, ys)
        with ThreadPoolExecutor(_n_workers(n_jobs, n)) as pool:
            list(_progress(pool.map(lambda i: self._centroid_map(i, image=raw[i],
                                                                 energy=energies[i]),
                                    range(n)), n, "centroiding"))
        return self._finish(data, edges, method)

    def centroid_from_run(self, runNB, proposal=None, extra_fields=(), drop_first=False,
                          subset=None, bins=None, return_hits=False, method="auto",
                          n_jobs=None, client=None):
        """from_run() and centroid() in one: the images are read in chunks of
        CHUNK_TRAINS trains by worker processes (never the whole run), only
        the spectra (and hits) come back. ``client``: a dask
        ``distributed.Client`` (e.g. on ``scs_nb.batch.cluster.make_cluster()``)
        to run the chunks on instead of local processes."""
        from concurrent.futures import ProcessPoolExecutor
        import multiprocessing as mp
        from ..load import load
        if proposal is None:
            proposal = self.PROPOSAL
        if drop_first:
            subset = slice(1, None)
        run, data = load(proposal, runNB=runNB, subset=subset,
                         fields=list(self.FIELDS) + list(extra_fields),
                         extract_digitizers=False, extract_xgm=False, extract_bam=False)
        from ..reader import lookup
        _, alt = lookup(run, self.DETECTOR)
        cam = run[alt["source"], alt["key"]]
        tids = np.intersect1d(np.asarray(data.trainId.values, np.uint64),
                              np.asarray(cam.train_id_coordinates(), np.uint64))
        data = data.sel(trainId=tids)
        n = len(tids)
        shape = tuple(cam.entry_shape)
        edges = self._edges(shape, bins)
        energies = self._energies(data, n, method)
        self._setup(n, edges, method, return_hits)
        chunks = [np.arange(a, min(a + self.CHUNK_TRAINS, n))
                  for a in range(0, n, self.CHUNK_TRAINS)]
        folder = data.attrs.get("runFolder")
        state = self._state()
        jobs = [(folder, alt["source"], alt["key"], tids[c], energies[c], edges, method,
                 return_hits) for c in chunks]
        workers = 1 if client is not None else _n_workers(n_jobs, len(chunks))
        if client is not None:
            # the settings (with the dark image) sent once to every worker
            shared = client.scatter(state, broadcast=True)
            futures = client.map(_chunk_job, jobs, state=shared, pure=False)
            results = (f.result() for f in futures)
        elif workers == 1:
            results = (_chunk_job(j, state) for j in jobs)
        else:
            pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))
            results = pool.map(_chunk_job, jobs, [state] * len(jobs))
        try:
            for c, res in _progress(zip(chunks, results), len(chunks), "centroiding chunks"):
                self._singles[c], self._doubles[c] = res[0], res[1]
                if return_hits:
                    for k in ("singles", "doubles", "n_singles", "n_doubles"):
                        self._hits[k][c] = res[2][k]
        finally:
            if workers > 1:
                pool.shutdown()
        return self._finish(data, edges, method)

    def _state(self):
        keys = ("X_RANGE", "Y_RANGE", "THRESHOLD", "STD_THRESHOLD", "DBL_THRESHOLD",
                "AUTO_THRESHOLD", "CURVE_A", "CURVE_B", "USE_DARK", "NUM_MAX_HITS")
        st = {k: getattr(self, k) for k in keys}
        st["dark_image"] = None if self.dark_image is None else \
            np.asarray(self.dark_image, np.float32)
        st["PROPOSAL"], st["DETECTOR"] = self.PROPOSAL, self.DETECTOR
        return st

    def _centroid_ed_map(self, _, index, trainId, data):
        """One train of extra_data's ``run.trains()`` (``data[source][key]``)."""
        src, key = self._mnemo_to_prop(self.DETECTOR)
        self._centroid_map(index, image=data[src][key], energy=self._ed_energies[index])

    @staticmethod
    def _mnemo_to_prop(mnemo):
        """The (source, key) of a mnemonic, from the mnemonic table."""
        from ..mnemonics import mnemonics
        if mnemo not in mnemonics:
            raise ToolBoxValueError(f"unknown mnemonic {mnemo!r}")
        alt = mnemonics[mnemo][0]
        return alt["source"], alt["key"]


def _chunk_job(job, state):
    """Worker: centroid the images of some trains of a run (read here)."""
    from ..load import run_by_path
    folder, source, key, tids, energies, edges, method, return_hits = job
    state = dict(state)      # jobs may share it (threads of a dask worker)
    m = MaranaX(state.pop("PROPOSAL"), detector=state.pop("DETECTOR"))
    m.dark_image = state.pop("dark_image")
    for k, v in state.items():
        setattr(m, k, v)
    run = run_by_path(folder).select_trains(_by_id(tids)).select([(source, key)])
    m._setup(len(tids), edges, method, return_hits)
    m._ed_energies = energies
    index = {int(t): i for i, t in enumerate(tids)}
    for tid, data in run.trains():       # one image in memory at a time
        m._centroid_map(index[int(tid)], image=data[source][key],
                        energy=energies[index[int(tid)]])
    return m._singles, m._doubles, m._hits


def _by_id(tids):
    from extra_data import by_id
    return by_id[np.asarray(tids, np.uint64)]
