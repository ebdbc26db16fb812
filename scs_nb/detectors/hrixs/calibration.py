"""The hRIXS calibrations: the curvature of the lines (``find_curvature``) and
the energy scale (``find_energy_calibration``), as a mixin of ``hRIXS``.

``CalibrationMixin`` holds the fits only; the loading (``from_run``), the
ranges, the dark and the centroiding it calls are ``hRIXS``'s
(``scs_nb.detectors.hrixs.analysis``). Both fits store their result on the
object (CURVE_A/CURVE_B, ENERGY_SLOPE/ENERGY_INTERCEPT) and their errors in
``curvature_fit`` / ``energy_fit``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit

from ...errors import ToolBoxValueError
from ...facility import MARANAX_EV_PER_ADU

__all__ = ["CalibrationMixin"]


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


class CalibrationMixin:
    """The calibrations of ``hRIXS``: curvature and energy scale.

    A mixin: the methods use ``from_run``, ``_images``, ``_dark``,
    ``_ranges``, ``parabola`` and ``centroid_two`` of the class it is mixed
    into (``hRIXS``).
    """

    # -- curvature ----------------------------------------------------------------
    @staticmethod
    def _poisson_refit(gauss, yabs, prof, yy, pp, p, adu, window, iterations=2):
        """Refit a line profile (ADU) weighted by its counting noise: the
        variance of a bin is the photons of the line in it (the fitted model)
        plus the background's variance, measured on the profile farther than
        ``window`` from the line. Returns the fit's (parameters, covariance)
        with the position's error in px (absolute, photon statistics)."""
        far = np.abs(yabs - p[1]) > max(window, 4 * abs(p[2]))
        bg = prof[far] / adu
        if len(bg) >= 10:
            mad = 1.4826 * np.median(np.abs(bg - np.median(bg)))
            floor = max(mad**2, abs(float(np.median(bg))), 1e-3)
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

        Parameters
        ----------
        runNB : int
            A run with an elastic line (many photons per image).
        proposal : int, optional
            Default: PROPOSAL.
        plot : bool
            Show the summed image with the fitted line.
        args : tuple of float, optional
            A starting (CURVE_A, CURVE_B).
        **kwargs
            ``nslices``, ``window`` (px), then ``imshow`` options.

        Returns
        -------
        tuple of float
            (CURVE_A, CURVE_B), also set on the object.

        Raises
        ------
        ToolBoxValueError
            The line is found in fewer than 4 slices.
        """
        nslices = int(kwargs.pop("nslices", 64))
        window = int(kwargs.pop("window", 15))
        data = self.from_run(runNB, proposal)
        imgs = self._images(data)
        shape = imgs.shape[1:]
        image = imgs.astype(np.float64).sum(dim="trainId").values
        dark = self._dark(shape)
        image = image - (dark * imgs.sizes["trainId"] if dark is not None else np.median(image))
        xs, ys = self._ranges(shape)
        roi = image[xs.start : xs.stop : xs.step, ys.start : ys.stop : ys.step]
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
        adu = float(np.nanmean(data["nrj"].values)) / MARANAX_EV_PER_ADU if "nrj" in data else None
        if adu is not None and not (np.isfinite(adu) and adu > 0):
            adu = None

        def gauss(y, h, m, s, o):
            return h * np.exp(-0.5 * ((y - m) / s) ** 2) + o

        for lo, hi in zip(edges[:-1], edges[1:]):
            xm = xabs[lo:hi].mean()
            prof = roi[lo:hi].sum(axis=0)
            if c0 is None:
                guess = int(np.argmax(prof))
            else:  # the maximum near the predicted line
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
                f"{runNB}; check Y_RANGE={self.Y_RANGE} (the line must be inside) or pass args"
            )
        xc, yc, yerr = map(np.asarray, (xc, yc, yerr))
        coef, cov = _weighted_polyfit(xc, yc, 2, yerr)
        b, a, c = coef
        eb, ea, ec = np.sqrt(np.diag(cov))
        self.CURVE_A, self.CURVE_B = float(a), float(b)
        self.curvature_fit = {
            "CURVE_A": float(a),
            "CURVE_B": float(b),
            "offset": float(c),
            "CURVE_A_err": float(ea),
            "CURVE_B_err": float(eb),
            "offset_err": float(ec),
            "x": xc.tolist(),
            "y": yc.tolist(),
            "y_err": yerr.tolist(),
            "run": runNB,
        }
        if plot:
            import matplotlib.pyplot as plt  # heavy: only for the plot

            fig, ax = plt.subplots(figsize=(8, 5))
            kwargs.setdefault("cmap", "gray")
            ax.imshow(
                roi.T,
                aspect="auto",
                origin="lower",
                interpolation="nearest",
                extent=(xabs[0], xabs[-1], yabs[0], yabs[-1]),
                vmax=np.percentile(roi, 99.9),
                **kwargs,
            )
            ax.errorbar(xc, yc, yerr, fmt=".", color="tab:orange", label="line position")
            ax.plot(
                xabs, c + self.parabola(xabs), color="tab:red", label=f"c + {a:.4g} x + {b:.3g} x²"
            )
            ax.set(
                xlabel="x (px, along the line)",
                ylabel="y (px, dispersive)",
                ylim=(max(yabs[0], yc.min() - 40), min(yabs[-1], yc.max() + 40)),
            )
            ax.legend()
        return self.CURVE_A, self.CURVE_B

    # -- energy calibration (beyond the ToolBox) ------------------------------
    def find_energy_calibration(self, runNB, proposal=None, var="nrj", plot=False, window=12.0):
        """Fit ENERGY_SLOPE and ENERGY_INTERCEPT from an elastic line scanned
        with the mono (``var``): per mono step, the corrected position of the
        elastic line (Gaussian fit of the hit positions); then a straight line
        energy = intercept + slope * position, weighted by the position errors.
        The fit and its errors are in ``self.energy_fit``.

        Parameters
        ----------
        runNB : int
            A run with the elastic line while the mono steps.
        proposal : int, optional
            Default: PROPOSAL.
        var : str
            The mono energy variable (eV).
        plot : bool
            Show the line positions and the fit.
        window : float
            Half width (px) of the Gaussian fit around the line.

        Returns
        -------
        tuple of float
            (ENERGY_SLOPE in eV/px, ENERGY_INTERCEPT in eV), also set on the
            object.

        Raises
        ------
        ToolBoxValueError
            Fewer than two mono steps show an elastic line.
        """
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

            p, cov = curve_fit(
                gauss,
                c,
                h,
                p0=(h.max(), sel.mean(), sel.std()),
                sigma=np.sqrt(np.maximum(h, 1)),
                absolute_sigma=True,
            )
            for _ in range(2):  # Pearson weights (the model's variance): no bias to low bins
                p, cov = curve_fit(
                    gauss,
                    c,
                    h,
                    p0=p,
                    absolute_sigma=True,
                    sigma=np.sqrt(np.maximum(gauss(c, *p), 0.5)),
                )
            pos.append(p[1])
            err.append(np.sqrt(cov[1, 1]))
            # the step's energy: the trains' mono readbacks weighted by their hits
            hits = np.array([len(t) for t in per_train], float)
            ens.append(
                float(np.average(nrj[idx], weights=hits) if hits.sum() else nrj[idx].mean())
            )
        if len(pos) < 2:
            raise ToolBoxValueError(
                f"run {runNB} has fewer than two {var!r} steps with an "
                "elastic line; pass an energy-scan run"
            )
        pos, err, ens = map(np.asarray, (pos, err, ens))
        # fit position = (E - intercept) / slope, i.e. a line in E, errors in position
        coef, cov = _weighted_polyfit(ens, pos, 1, err)
        inv_slope, off = coef
        slope = 1 / inv_slope
        intercept = -off * slope
        # error propagation for slope = 1/k and intercept = -o/k
        J = np.array([[-1 / inv_slope**2, 0.0], [off / inv_slope**2, -1 / inv_slope]])
        cv = J @ cov @ J.T
        self.ENERGY_SLOPE, self.ENERGY_INTERCEPT = float(slope), float(intercept)
        self.energy_fit = {
            "ENERGY_SLOPE": float(slope),
            "ENERGY_INTERCEPT": float(intercept),
            "ENERGY_SLOPE_err": float(np.sqrt(cv[0, 0])),
            "ENERGY_INTERCEPT_err": float(np.sqrt(cv[1, 1])),
            "covariance": cv.tolist(),
            "positions": pos.tolist(),
            "position_err": err.tolist(),
            "energies": ens.tolist(),
            "run": runNB,
        }
        if plot:
            import matplotlib.pyplot as plt  # heavy: only for the plot

            fig, ax = plt.subplots(figsize=(6, 4))
            ax.errorbar(pos, ens, xerr=err, fmt="o", label="elastic line")
            ax.plot(pos, intercept + slope * pos, label=f"{slope:.5f} eV/px")
            ax.set(xlabel="corrected y (px)", ylabel="photon energy (eV)")
            ax.legend()
        return self.ENERGY_SLOPE, self.ENERGY_INTERCEPT
