"""Viking: the SCS Viking spectrometer with its Andor Newton camera, as
``toolbox_scs.detectors.viking``.

Images have dims ``(newt_y, newt_x)``; ``newt_x`` is the energy-dispersive
axis (``X_RANGE``, 2048 px), ``newt_y`` the non-dispersive one (``Y_RANGE``,
the rows averaged into a spectrum). ``from_run`` replaces the ``newt_x``
coordinate by the photon energy ``polyval(ENERGY_CALIB, pixel)`` (the pixel
itself with the default ``[0, 1, 0]``); ``BL_SIGNAL_RANGE`` is given in that
coordinate.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.optimize import curve_fit

from ..errors import ToolBoxValueError
from ..facility import NEWTON_E_PER_COUNT, NEWTON_PREAMP_GAIN
from ..load import get_array, load, open_run
from ..reader import lookup, run_value
from .spectrometer import SpectrometerParams

__all__ = ["Viking"]


class Viking(SpectrometerParams):
    """The Viking analysis (spectrometer used in combination with Andor Newton camera).

    Parameters
    ----------
    proposalNB : int
        The proposal number.

    Attributes
    ----------
    PROPOSAL : int
        The proposal number.
    X_RANGE : slice
        Pixels of ``newt_x`` (dispersive).
    Y_RANGE : slice
        Pixels of ``newt_y`` (averaged into a spectrum).
    USE_DARK : bool
        Subtract ``dark_image``.
    ENERGY_CALIB : sequence of float
        2nd degree polynomial, pixel -> eV, highest power first.
    BL_POLY_DEG : int
        Degree of the baseline polynomial.
    BL_SIGNAL_RANGE : list
        [min, max] or [[min1, max1], ...] (eV, the ``newt_x`` coordinate) to
        leave out of the baseline fit.
    FIELDS : list of str
        Mnemonics to load.

    Examples
    --------
    ::

        v = Viking(2953)
        v.X_RANGE = slice(0, 1900)
        v.Y_RANGE = slice(38, 80)
        v.ENERGY_CALIB = [1.47802667e-06, 2.30600328e-02, 5.15884589e+02]
        v.BL_SIGNAL_RANGE = [500, 545]
    """

    _NAME = "Viking"
    _FITS = ("calibration_fit",)
    _PARAMS = (
        "proposal",
        "x_range",
        "y_range",
        "use_dark",
        "energy_calib",
        "bl_poly_deg",
        "bl_signal_range",
        "fields",
    )

    def __init__(self, proposalNB):
        self.PROPOSAL = proposalNB
        self.X_RANGE = slice(None, None)
        self.Y_RANGE = slice(None, None)
        self.USE_DARK = False
        self.ENERGY_CALIB = [0, 1, 0]
        self.BL_POLY_DEG = 1
        self.BL_SIGNAL_RANGE = []
        self.FIELDS = ["newton"]
        self.dark_image = None
        self.calibration_fit = None

    # -- parameters -----------------------------------------------------------
    # -- loading --------------------------------------------------------------
    def from_run(self, runNB, add_attrs=True):
        """Load run ``runNB`` (a thin wrapper around ``scs_nb.load``): the
        ``newton`` images in X_RANGE x Y_RANGE, ``newt_x`` in eV; with
        ``add_attrs`` the camera parameters (``get_camera_params``) become
        attributes of the dataset.

        Parameters
        ----------
        runNB : int
            The run number.
        add_attrs : bool
            Add the camera parameters as attributes.

        Returns
        -------
        xarray.Dataset
            ``newton`` (counts, dims trainId, newt_y, newt_x) with ``newt_x`` in
            eV and ``pixel`` the pixel along it.
        """
        run, data = load(
            self.PROPOSAL,
            runNB,
            fields=list(self.FIELDS),
            extract_digitizers=False,
            extract_xgm=False,
            extract_bam=False,
        )
        if "newton" not in data:
            raise ToolBoxValueError(
                f"run {runNB} loaded without 'newton' images; keep 'newton' in FIELDS"
            )
        data = data.isel(newt_x=self.X_RANGE, newt_y=self.Y_RANGE)
        if not data.sizes["newt_x"] or not data.sizes["newt_y"]:
            raise ToolBoxValueError(
                f"X_RANGE={self.X_RANGE}, Y_RANGE={self.Y_RANGE} select "
                "no pixel of the 512 x 2048 Newton images"
            )
        pixels = data["newt_x"].values.astype(float)
        data = data.assign_coords(
            newt_x=np.polyval(self.ENERGY_CALIB, pixels), pixel=("newt_x", pixels)
        )
        if add_attrs:
            data.attrs.update(self.get_camera_params(run))
        data.attrs["runNB"] = runNB
        return data

    def load_dark(self, runNB=None):
        """Load a dark run (its mean image is subtracted from then on).

        Parameters
        ----------
        runNB : int or None
            The dark run; None switches dark subtraction off.
        """
        if runNB is None:
            self.USE_DARK = False
            return
        data = self.from_run(runNB, add_attrs=False)
        self.dark_image = data["newton"].astype(np.float64).mean(dim="trainId")
        self.dark_image.attrs["runNB"] = runNB
        self.USE_DARK = True

    # -- camera -----------------------------------------------------------------
    @staticmethod
    def _camera_value(run, key):
        _, alt = lookup(run, f"VIKING_{key}")
        return run_value(run, alt["source"], alt["key"])

    def get_camera_gain(self, run):
        """The preamp gain of the Newton camera in ``run``.

        Parameters
        ----------
        run : extra_data.DataCollection
            An open run.

        Returns
        -------
        int
            1, 2 or 4.
        """
        setting = int(self._camera_value(run, "preampGain"))
        if setting not in NEWTON_PREAMP_GAIN:
            raise ToolBoxValueError(
                f"unknown Newton preampGain setting {setting}; known: {NEWTON_PREAMP_GAIN}"
            )
        return NEWTON_PREAMP_GAIN[setting]

    def e_per_counts(self, run, gain=None):
        """Photoelectrons per camera count for the camera settings of ``run``
        (Andor Newton datasheet, High Sensitivity slightly corrected).

        Parameters
        ----------
        run : extra_data.DataCollection
            An open run.
        gain : int, optional
            The preamp gain (1, 2 or 4); default the run's.

        Returns
        -------
        float
            Photoelectrons per count.
        """
        if gain is None:
            gain = self.get_camera_gain(run)
        hc = int(bool(self._camera_value(run, "HighCapacity")))
        try:
            return NEWTON_E_PER_COUNT[(hc, int(gain))]
        except KeyError:
            raise ToolBoxValueError(
                f"no photoelectrons per count for gain {gain}; pass 1, 2 or 4"
            ) from None

    def get_camera_params(self, run):
        """The Newton camera's settings in ``run``.

        Parameters
        ----------
        run : extra_data.DataCollection
            An open run.

        Returns
        -------
        dict
            'gain', 'high_capacity' (0 or 1), 'exposure_s' (s), 'temperature'
            (the camera's reading, degrees C) and 'photoelectrons_per_count'.
        """
        gain = self.get_camera_gain(run)
        return {
            "gain": gain,
            "high_capacity": int(bool(self._camera_value(run, "HighCapacity"))),
            "exposure_s": float(self._camera_value(run, "exposure")),
            "temperature": float(self._camera_value(run, "temperature")),
            "photoelectrons_per_count": self.e_per_counts(run, gain),
        }

    # -- spectra ----------------------------------------------------------------
    def integrate(self, data):
        """Mean over ``newt_y`` (dark subtracted) as ``spectrum``; in
        photoelectrons per pixel when the camera parameters are known.

        Parameters
        ----------
        data : xarray.Dataset
            From ``from_run``.

        Returns
        -------
        xarray.Dataset
            ``data`` with ``spectrum`` (trainId, newt_x).
        """
        imgs = data["newton"].astype(np.float64)
        if self.USE_DARK:
            if self.dark_image is None:
                raise ToolBoxValueError(
                    "USE_DARK is True but no dark is loaded; call load_dark(run)"
                )
            if self.dark_image.shape != imgs.shape[1:]:
                raise ToolBoxValueError(
                    f"the dark {self.dark_image.shape} and the images "
                    f"{imgs.shape[1:]} differ; load both with the same "
                    "X_RANGE and Y_RANGE"
                )
            imgs = imgs - self.dark_image.values
        spectrum = imgs.mean(dim="newt_y")
        if "photoelectrons_per_count" in data.attrs:
            spectrum = spectrum * data.attrs["photoelectrons_per_count"]
            spectrum.attrs["units"] = "photoelectrons per pixel"
        else:
            spectrum.attrs["units"] = "counts per pixel"
        data["spectrum"] = spectrum
        return data

    def _signal_mask(self, x):
        rng = self.BL_SIGNAL_RANGE
        mask = np.zeros(len(x), bool)
        if rng is None or not len(rng):
            return mask
        ranges = [rng] if np.ndim(rng) == 1 else rng
        for lo, hi in ranges:
            mask |= (x >= lo) & (x <= hi)
        return mask

    def removePolyBaseline(self, data):
        """Fit a polynomial of degree BL_POLY_DEG to each spectrum outside
        BL_SIGNAL_RANGE and subtract it: ``spectrum_nobl``.

        Parameters
        ----------
        data : xarray.Dataset
            With ``spectrum`` (from ``integrate``).

        Returns
        -------
        xarray.Dataset
            ``data`` with ``spectrum_nobl``.
        """
        if "spectrum" not in data:
            raise ToolBoxValueError("removePolyBaseline needs 'spectrum'; call integrate() first")
        x = data["newt_x"].values.astype(float)
        fit = ~self._signal_mask(x)
        if fit.sum() <= self.BL_POLY_DEG + 1:
            raise ToolBoxValueError(
                f"BL_SIGNAL_RANGE={self.BL_SIGNAL_RANGE} leaves {fit.sum()} points for a "
                f"degree {self.BL_POLY_DEG} baseline (newt_x spans {x.min():.6g} to "
                f"{x.max():.6g}); narrow it"
            )
        xc = (x - x[fit].mean()) / (np.ptp(x[fit]) or 1.0)  # well conditioned fit
        spec = data["spectrum"].transpose(..., "newt_x").values
        flat = spec.reshape(-1, len(x))
        coef = np.polynomial.polynomial.polyfit(xc[fit], flat[:, fit].T, self.BL_POLY_DEG)
        base = np.polynomial.polynomial.polyval(xc, coef)  # (nspectra, nx)
        nobl = (flat - base.reshape(flat.shape)).reshape(spec.shape)
        data["spectrum_nobl"] = data["spectrum"].transpose(..., "newt_x").copy(data=nobl)
        return data

    def xas(self, data, data_ref, thickness=1, plot=False, plot_errors=True, xas_ylim=(-1, 3)):
        """Average XAS from a sample and a reference dataset: I0, It and the
        absorption coefficient -log(It/I0)/thickness, each with its standard
        deviation and standard error (error propagation of the means).

        Parameters
        ----------
        data : xarray.Dataset
            The sample run, after ``integrate`` (and ``removePolyBaseline``).
        data_ref : xarray.Dataset
            The reference run, the same.
        thickness : float
            The sample thickness (the absorption coefficient is per its unit).
        plot : bool
            Plot with ``plot_xas``.
        plot_errors : bool
            Show 95 % confidence bands.
        xas_ylim : tuple of float
            y limits of the absorption plot.

        Returns
        -------
        xarray.Dataset
            ``I0``, ``It``, ``absorptionCoef``, each with ``_std`` and
            ``_stderr``, over ``newt_x`` (eV).
        """
        key = (
            "spectrum_nobl"
            if ("spectrum_nobl" in data and "spectrum_nobl" in data_ref)
            else "spectrum"
        )
        for name, ds in (("data", data), ("data_ref", data_ref)):
            if key not in ds:
                raise ToolBoxValueError(
                    f"xas: {name} has no {key!r}; call integrate() (and "
                    "removePolyBaseline()) first"
                )
        if not np.array_equal(data["newt_x"].values, data_ref["newt_x"].values):
            raise ToolBoxValueError(
                "xas: sample and reference have different newt_x axes; "
                "load both with the same X_RANGE and ENERGY_CALIB"
            )
        it, i0 = data[key], data_ref[key]
        n_t, n_0 = it.sizes["trainId"], i0.sizes["trainId"]
        It, I0 = it.mean("trainId"), i0.mean("trainId")
        It_std, I0_std = it.std("trainId", ddof=1), i0.std("trainId", ddof=1)
        It_err, I0_err = It_std / np.sqrt(n_t), I0_std / np.sqrt(n_0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = -np.log(It / I0) / thickness
            rel_std = np.sqrt((It_std / It) ** 2 + (I0_std / I0) ** 2)
            rel_err = np.sqrt((It_err / It) ** 2 + (I0_err / I0) ** 2)
        xas = xr.Dataset(
            {
                "I0": I0,
                "I0_std": I0_std,
                "I0_stderr": I0_err,
                "It": It,
                "It_std": It_std,
                "It_stderr": It_err,
                "absorptionCoef": mu,
                "absorptionCoef_std": rel_std / thickness,
                "absorptionCoef_stderr": rel_err / thickness,
            }
        )
        xas.attrs.update(thickness=thickness, n_sample=n_t, n_reference=n_0, variable=key)
        if plot:
            self.plot_xas(xas, plot_errors, xas_ylim)
        return xas

    @staticmethod
    def valid_range(xas, min_fraction=0.05):
        """Where the absorption coefficient means something: where the
        reference spectrum I0 has signal.

        Outside the SASE spectrum I0 and It are baseline-subtracted noise
        around zero and -log(It/I0) takes any value; those energies are
        neither plotted nor used for ``absorption_max``.

        Parameters
        ----------
        xas : xarray.Dataset
            From ``xas``.
        min_fraction : float
            Smallest I0, as a fraction of its maximum, of a valid energy.

        Returns
        -------
        xarray.DataArray
            bool over ``newt_x``: True where I0 > min_fraction * max(I0).
        """
        i0 = xas["I0"]
        return (i0 > min_fraction * float(i0.max())).rename("valid")

    @staticmethod
    def absorption_max(xas, min_fraction=0.05):
        """The largest absorption coefficient within the valid range.

        Parameters
        ----------
        xas : xarray.Dataset
            From ``xas``.
        min_fraction : float
            As in ``valid_range``.

        Returns
        -------
        dict
            ``value`` (per unit of the thickness), ``error`` (its standard
            error), ``energy_eV`` (where it is), ``range_eV`` ([min, max] of
            the valid energies searched).

        Raises
        ------
        ToolBoxValueError
            If no energy is valid (no finite absorption where I0 has signal).
        """
        ok = Viking.valid_range(xas, min_fraction).values
        mu = np.where(ok, xas["absorptionCoef"].values, np.nan)
        if not np.isfinite(mu).any():
            raise ToolBoxValueError(
                f"absorption_max: no finite absorption where I0 > {min_fraction} x its "
                "maximum; check the reference run (its I0) or pass a smaller min_fraction"
            )
        k = int(np.nanargmax(mu))
        e = xas["newt_x"].values
        return {
            "value": float(mu[k]),
            "error": float(xas["absorptionCoef_stderr"].values[k]),
            "energy_eV": float(e[k]),
            "range_eV": [float(e[ok].min()), float(e[ok].max())],
        }

    @staticmethod
    def plot_xas(xas, plot_errors=True, xas_ylim=(-1, 3)):
        """Plot I0 and It, and the absorption coefficient where I0 has signal.

        Parameters
        ----------
        xas : xarray.Dataset
            From ``xas``.
        plot_errors : bool
            Show 95 % confidence bands.
        xas_ylim : tuple of float
            y limits of the absorption plot.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        import matplotlib.pyplot as plt  # heavy: only for the plot

        e = xas["newt_x"].values
        fig, (a0, a1) = plt.subplots(2, 1, sharex=True, figsize=(7, 6))
        for name, label in (("I0", "I0 (reference)"), ("It", "It (sample)")):
            a0.plot(e, xas[name], label=label)
            if plot_errors:
                ci = 1.96 * xas[name + "_stderr"]
                a0.fill_between(e, xas[name] - ci, xas[name] + ci, alpha=0.3)
        a0.set(ylabel="photoelectrons / pixel")
        a0.legend()
        # the absorption only where the reference has signal
        lit = Viking.valid_range(xas).values
        mu = xas["absorptionCoef"].where(lit)
        a1.plot(e, mu, color="k")
        if plot_errors:
            ci = 1.96 * xas["absorptionCoef_stderr"].where(lit)
            a1.fill_between(e, mu - ci, mu + ci, alpha=0.3, color="k", label="95 % confidence")
        if lit.any():
            a1.set_xlim(e[lit].min() - 2, e[lit].max() + 2)
            top = Viking.absorption_max(xas)
            a1.plot(top["energy_eV"], top["value"], "rv", label=f"maximum {top['value']:.3g}")
        if plot_errors or lit.any():
            a1.legend()
        a1.set(xlabel="photon energy (eV)", ylabel="absorption coefficient", ylim=xas_ylim)
        return fig

    # -- calibration ------------------------------------------------------------
    def calibrate(self, runList, plot=True):
        """Calibrate pixel -> energy from runs with monochromatized beam: the
        line position of each run (Gaussian fit of its mean spectrum) vs its
        mono energy ('nrj'), fitted with a 2nd degree polynomial weighted by
        the position errors. Sets and returns ENERGY_CALIB; the fit (with its
        covariance) is in ``self.calibration_fit``.

        Parameters
        ----------
        runList : sequence of int
            At least 3 runs of monochromatized beam at different energies.
        plot : bool
            Show the spectra and the fit.

        Returns
        -------
        numpy.ndarray
            ENERGY_CALIB: pixel -> eV, highest power first.
        """
        if len(runList) < 3:
            raise ToolBoxValueError(
                f"calibrate needs at least 3 runs for a 2nd degree polynomial, got {list(runList)}"
            )
        saved = self.ENERGY_CALIB
        self.ENERGY_CALIB = [0, 1, 0]
        pos, err, ens, ens_err, spectra = [], [], [], [], []
        try:
            for r in runList:
                ds = self.integrate(self.from_run(r))
                spec = ds["spectrum"].mean("trainId")
                x = ds["newt_x"].values
                y = spec.values
                base = np.median(y)
                i = int(np.argmax(y))
                sel = slice(max(0, i - 40), i + 41)

                def gauss(x, a, m, s, o):
                    return a * np.exp(-0.5 * ((x - m) / s) ** 2) + o

                p, cov = curve_fit(gauss, x[sel], y[sel], p0=(y[i] - base, x[i], 5.0, base))
                nrj = get_array(open_run(self.PROPOSAL, r), "nrj").values.astype(float)
                pos.append(p[1])
                err.append(float(np.sqrt(cov[1, 1])))
                ens.append(nrj.mean())
                ens_err.append((nrj - nrj.mean(), len(nrj)))
                spectra.append((x, y, p))
        finally:
            self.ENERGY_CALIB = saved
        # error of each mean mono energy: the readback scatter pooled over the runs
        resid = np.concatenate([d for d, _ in ens_err])
        dof = len(resid) - len(ens_err)
        scatter = np.sqrt((resid**2).sum() / dof) if dof > 0 else 0.0
        ens_err = [scatter / np.sqrt(n) for _, n in ens_err]
        pos, err, ens, ens_err = map(np.asarray, (pos, err, ens, ens_err))
        # energy vs position; an error in position is dE/dx * sigma_x in energy,
        # added to the error of the mean mono readback
        c0 = np.polyfit(pos, ens, 2)
        sig_e = np.hypot(np.abs(np.polyval(np.polyder(c0), pos)) * err, ens_err)
        if len(pos) > 3:
            coef, cov = np.polyfit(pos, ens, 2, w=1 / sig_e, cov="unscaled")
        else:
            coef, cov = c0, np.full((3, 3), np.nan)
        self.ENERGY_CALIB = coef
        self.calibration_fit = {
            "ENERGY_CALIB": coef.tolist(),
            "covariance": cov.tolist(),
            "positions": pos.tolist(),
            "position_err": err.tolist(),
            "energies": ens.tolist(),
            "energy_err": ens_err.tolist(),
            "runs": list(runList),
        }
        if plot:
            import matplotlib.pyplot as plt  # heavy: only for the plot

            fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4))
            for (x, y, p), r, e in zip(spectra, runList, ens):
                a0.plot(x, y, lw=0.8, label=f"run {r}: {e:.1f} eV")
                a0.plot(x, gauss(x, *p), "k--", lw=0.6)
            a0.set(xlabel="pixel (newt_x)", ylabel="photoelectrons / pixel")
            a0.legend(fontsize=7)
            xx = np.linspace(pos.min(), pos.max(), 200)
            a1.errorbar(pos, ens, xerr=err, fmt="o", label="line positions")
            a1.plot(xx, np.polyval(coef, xx), label="2nd degree fit")
            a1.set(xlabel="pixel (newt_x)", ylabel="photon energy (eV)")
            a1.legend()
        return self.ENERGY_CALIB
