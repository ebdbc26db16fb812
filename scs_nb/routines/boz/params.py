"""The ``parameters`` class: every input of the BOZ corrections, saved as JSON."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from ...atomic import json_default, write_atomic
from ...errors import ToolBoxPathError, ToolBoxValueError
from ...facility import DSSC_MODULE_SHAPE, DSSC_NMODULES
from .load import check_dark_frames, load_dssc_module
from .reductions import ReductionCache

#: what save() writes and load() reads back (everything needed to reproduce)
_FIELDS = (
    "proposal",
    "darkrun",
    "run",
    "module",
    "gain",
    "drop_intra_darks",
    "mask",
    "rois",
    "rois_th",
    "ff_type",
    "ff_prod_th",
    "ff_ratio_th",
    "flat_field",
    "plane_guess_fit",
    "use_hex",
    "force_mirror",
    "ff_alpha",
    "ff_max_iter",
    "Fnl",
    "nl_alpha",
    "sat_level",
    "nl_max_iter",
    "nl_domain",
    "dark_data_size_Gb",
    "data_size_Gb",
    "complete",
)


def _pixel_index(k):
    """``[y, x]`` of a bad pixel, checked inside the module."""
    ny, nx = DSSC_MODULE_SHAPE
    try:
        y, x = k
        ok = all(float(v) == int(v) and not isinstance(v, bool) for v in (y, x))
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or not (0 <= int(y) < ny and 0 <= int(x) < nx):
        raise ToolBoxValueError(
            f"set_mask: bad pixel {k!r} is not an index [y, x] inside the module "
            f"(0 <= y < {ny}, 0 <= x < {nx}); pass a list of such pairs or a boolean "
            f"{DSSC_MODULE_SHAPE} mask"
        )
    return [int(y), int(x)]


#: The constraints of the correction determination's inputs, in the notation of the
#: templates' help comments (``(> 0)``, ``(0..15)``): the one definition that the ``boz_Ia``
#: template's parameters cell states, `check_correction_inputs` applies (``parameters``,
#: ``determine_correction``) and ``scs-nb submit boz-correction`` refuses with.
CORRECTION_CONSTRAINTS = {
    "module": f"0..{DSSC_NMODULES - 1}",
    "gain": "> 0",
    "rois_th": "> 0",
    "sat_level": "1..511",
    "ff_alpha": ">= 0",
    "ff_max_iter": ">= 1",
    "nl_N": ">= 1",
    "nl_low": "0..510",
    "nl_alpha": ">= 0",
    "nl_max_iter": ">= 1",
}


def _meets(value, constraint):
    """Whether a number meets one constraint of `CORRECTION_CONSTRAINTS`."""
    if ".." in constraint:
        low, high = (float(v) for v in constraint.split(".."))
        return low <= value <= high
    op, bound = constraint.split()
    bound = float(bound)
    return {">": value > bound, ">=": value >= bound, "<": value < bound, "<=": value <= bound}[op]


def check_correction_inputs(**values):
    """Check inputs of the correction determination against `CORRECTION_CONSTRAINTS`.

    Parameters
    ----------
    **values
        ``name=value`` for names of `CORRECTION_CONSTRAINTS` (others are passed through);
        None is left unchecked.

    Returns
    -------
    dict
        ``values``.

    Raises
    ------
    ToolBoxValueError
        A value that is not a finite number, or outside its constraint (e.g. ``module must
        be 0..15, got 99``).
    """
    for name, value in values.items():
        constraint = CORRECTION_CONSTRAINTS.get(name)
        if constraint is None or value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if isinstance(value, bool) or not np.isfinite(number) or not _meets(number, constraint):
            raise ToolBoxValueError(f"BOZ correction: {name} must be {constraint}, got {value!r}")
    return values


class IncompleteParametersWarning(UserWarning):
    """BOZ parameters without their non-linearity correction are used."""


class parameters:
    """Parameters contains all input parameters for the BOZ corrections.

    This is used in beam splitting off-axis zone plate spectroscopy analysis as
    well as during the determination of correction parameters themselves to
    ensure they can be reproduced.

    Parameters
    ----------
    proposal : int
        Proposal number.
    darkrun : int
        Dark run number.
    run : int
        Run number (empty membranes for the determination).
    module : int
        DSSC module (0..15).
    gain : float
        Photons per ADU bin.
    drop_intra_darks : bool
        Drop every second frame (the intra-darks).

    Attributes
    ----------
    cache : ReductionCache
        The reductions of the fits on ``arr_dark`` / ``arr`` (not saved).

    Examples
    --------
    >>> params = parameters(2937, 615, 614, 15, 3.0)   # doctest: +SKIP
    >>> params.dask_load_persistently()                # doctest: +SKIP
    """

    def __init__(self, proposal, darkrun, run, module, gain, drop_intra_darks=True):
        check_correction_inputs(module=module, gain=gain)
        self.proposal = int(proposal)
        self.darkrun = int(darkrun)
        self.run = int(run)
        self.module = int(module)
        self.gain = float(gain)
        self.drop_intra_darks = bool(drop_intra_darks)
        self.mask_idx = None
        self.mask = None
        self.rois = None
        self.rois_th = None
        self.ff_type = "plane"
        self.ff_prod_th = None
        self.ff_ratio_th = None
        self.flat_field = None
        self.plane_guess_fit = None
        self.use_hex = False
        self.force_mirror = True
        self.ff_alpha = None
        self.ff_max_iter = None
        self.Fnl = None
        self.nl_alpha = None
        self.sat_level = None
        self.nl_max_iter = None
        self.nl_domain = None
        self.dark_data_size_Gb = None
        self.data_size_Gb = None
        # False in a preview saved before the non-linearity fit ended (see `save`)
        self.complete = None
        self.arr_dark = None
        self.tid_dark = None
        self.arr = None
        self.tid = None
        self.gpu = False
        # the reductions of the fits on arr_dark / arr (not saved)
        self.cache = ReductionCache()

    # -- data ------------------------------------------------------------------
    def dask_load_persistently(self, dark_data_size_Gb=None, data_size_Gb=None):
        """Load the dark and data run of the module in memory.

        Parameters
        ----------
        dark_data_size_Gb, data_size_Gb : float, optional
            Load only the first gigabytes of the dark / data run.
        """
        self.dark_data_size_Gb, self.data_size_Gb = dark_data_size_Gb, data_size_Gb
        self.arr_dark, self.tid_dark = load_dssc_module(
            self.proposal,
            self.darkrun,
            self.module,
            drop_intra_darks=self.drop_intra_darks,
            persist=True,
            data_size_Gb=dark_data_size_Gb,
        )
        self.arr, self.tid = load_dssc_module(
            self.proposal,
            self.run,
            self.module,
            drop_intra_darks=self.drop_intra_darks,
            persist=True,
            data_size_Gb=data_size_Gb,
        )
        check_dark_frames(self.arr_dark, self.arr, self.darkrun, self.run)

    def use_gpu(self):
        """Use cupy where available.

        The CPU path (histogram reductions) is used otherwise, and is fast enough for
        the whole determination.

        Returns
        -------
        bool
            Whether cupy is available.
        """
        try:
            import cupy  # noqa: F401  # optional: only probed, never required

            self.gpu = True
        except ImportError:
            print("cupy is not available: using the CPU path (histogram reductions, numba)")
            self.gpu = False
        return self.gpu

    # -- mask --------------------------------------------------------------------
    def set_mask(self, arr):
        """Set the mask of bad pixels.

        Parameters
        ----------
        arr : array_like or list
            A boolean (128, 512) module image (True = good pixel) or a list of bad pixel
            indices ``[[y, x], ...]`` (0 <= y < 128, 0 <= x < 512).

        Raises
        ------
        ToolBoxValueError
            A mask of another shape, or an index that is not a pair of integers inside the
            module (negative indices are refused: they would mark another pixel).
        """
        if isinstance(arr, (list, tuple)):
            idx = [_pixel_index(k) for k in arr]
            mask = np.ones(DSSC_MODULE_SHAPE, bool)
            for y, x in idx:
                mask[y, x] = False
        else:
            mask = np.asarray(arr, bool)
            if mask.shape != DSSC_MODULE_SHAPE:
                raise ToolBoxValueError(
                    f"set_mask: a module mask has shape {DSSC_MODULE_SHAPE}, "
                    f"got {mask.shape}; or pass a list of [y, x] indices"
                )
            idx = np.argwhere(~mask).tolist()
        self.mask, self.mask_idx = mask, idx

    def get_mask(self):
        """The boolean bad pixel array of the module.

        Returns
        -------
        numpy.ndarray
            (128, 512) bool, True = good pixel (all True if no mask is set).
        """
        if self.mask is None:
            return np.ones(DSSC_MODULE_SHAPE, bool)
        return self.mask

    def get_mask_idx(self):
        """The list of bad pixel indices.

        Returns
        -------
        list
            ``[[y, x], ...]``.
        """
        return [] if self.mask_idx is None else self.mask_idx

    # -- flat field ------------------------------------------------------------
    def flat_field_guess(self, guess=None):
        """Set the flat-field guess for the fit and return it.

        Parameters
        ----------
        guess : list of float, optional
            4 floats (plane a x + b y + c z + d = 0 of 'n', mirrored for 'p') or 8 when
            mirror symmetry is disabled (the last 4 for 'p'); default the flat plane z = 1.

        Returns
        -------
        list of float
            The guess.
        """
        if guess is None:
            guess = [0.0, 0.0, -1.0, 1.0] if self.force_mirror else [0.0, 0.0, -1.0, 1.0] * 2
        guess = [float(g) for g in guess]
        if len(guess) != (4 if self.force_mirror else 8):
            raise ToolBoxValueError(
                f"flat_field_guess: {4 if self.force_mirror else 8} values "
                f"expected (force_mirror={self.force_mirror}), got {guess}"
            )
        self.plane_guess_fit = guess
        return guess

    def set_flat_field(self, ff_params, ff_type="plane", prod_th=None, ratio_th=None):
        """Set the flat-field definition.

        Parameters
        ----------
        ff_params : array_like or dict
            Plane parameters (4 or 8 floats), or polylines ``{'n': [[x...], [z...]],
            'p': ...}`` (x in mm) for ff_type='polyline'.
        ff_type : {'plane', 'polyline'}
        prod_th, ratio_th : tuple of float, optional
            The domain of the plane fit (see `plane_fitting_domain`).
        """
        if ff_type not in ("plane", "polyline"):
            raise ToolBoxValueError(f"ff_type must be 'plane' or 'polyline', got {ff_type!r}")
        self.ff_type = ff_type
        if ff_type == "plane":
            ff_params = [float(v) for v in np.asarray(ff_params, float).ravel()]
        self.flat_field = ff_params
        if prod_th is not None:
            self.ff_prod_th = [float(v) for v in prod_th]
        if ratio_th is not None:
            self.ff_ratio_th = [float(v) for v in ratio_th]

    def get_flat_field(self):
        """The flat-field definition.

        Returns
        -------
        list or dict or None
            See `set_flat_field`.
        """
        return self.flat_field

    def set_Fnl(self, Fnl):
        """Set the non-linear correction lookup table.

        Parameters
        ----------
        Fnl : array_like
            512 values (ADU).
        """
        Fnl = np.asarray(Fnl, float)
        if Fnl.shape != (512,):
            raise ToolBoxValueError(
                f"set_Fnl: a lookup table of 512 values expected, got shape {Fnl.shape}"
            )
        self.Fnl = Fnl

    def get_Fnl(self):
        """The non-linear correction lookup table.

        Returns
        -------
        numpy.ndarray
            512 values (ADU); the identity if not set.
        """
        return np.arange(512, dtype=float) if self.Fnl is None else np.asarray(self.Fnl)

    # -- JSON ----------------------------------------------------------------
    def filename(self):
        """The JSON file name of these parameters.

        Returns
        -------
        str
            ``parameters_p<proposal>_d<darkrun>_r<run>.json``.
        """
        return f"parameters_p{self.proposal}_d{self.darkrun}_r{self.run}.json"

    def to_dict(self):
        """The saved fields as plain Python values.

        Returns
        -------
        dict
            What `save` writes (the mask as a list of bad pixel indices).
        """
        out = {}
        for k in _FIELDS:
            v = self.mask_idx if k == "mask" else getattr(self, k)
            if isinstance(v, np.ndarray):
                v = v.tolist()
            out[k] = v
        return out

    def save(self, path="./", complete=None):
        """Save the parameters as a JSON file ``parameters_p<P>_d<D>_r<R>.json`` in
        path (written atomically; an existing file of the same correction is
        replaced, and said so).

        Parameters
        ----------
        path : str
            Folder.
        complete : bool, optional
            Whether the determination is finished; saved as ``"complete"``. Default: True
            once the non-linearity ``Fnl`` is set, else False (a preview, e.g. the one
            written after the flat field: `load` refuses it unless asked).

        Returns
        -------
        str
            The file name.
        """
        self.complete = (self.Fnl is not None) if complete is None else bool(complete)
        fname = os.path.join(path, self.filename())
        if os.path.exists(fname):
            print(f"updating {fname}")
        write_atomic(fname, json.dumps(self.to_dict(), indent=1, default=json_default))
        return fname

    @classmethod
    def load(cls, fname, allow_incomplete=False):
        """Load parameters from a JSON file.

        Parameters
        ----------
        fname : str
            A file written by `save`.
        allow_incomplete : bool
            Accept a preview saved before the non-linearity fit ended (``"complete":
            false``, or no ``Fnl``), with an `IncompleteParametersWarning`: its
            corrections would apply the identity non-linearity.

        Returns
        -------
        parameters

        Raises
        ------
        ToolBoxPathError
            No such file.
        ToolBoxValueError
            Not a BOZ parameters file (not a JSON object, a required field missing or of
            the wrong type), or an incomplete one without ``allow_incomplete``.
        """
        if not os.path.exists(fname):
            raise ToolBoxPathError(
                f"no BOZ parameters file {fname!r}; save one with params.save(path) first"
            )
        try:
            with open(fname) as f:
                d = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ToolBoxValueError(f"{fname} is not a BOZ parameters file: {e}") from None
        d = check_fields(d, fname)
        incomplete = d.get("complete") is False or d.get("Fnl") is None
        if incomplete:
            why = (
                f"{fname} is a preview: the correction determination (boz_Ia) did not finish "
                f"its non-linearity fit (killed, time limit?), so it holds no Fnl and would "
                f"apply the identity non-linearity"
            )
            if not allow_incomplete:
                raise ToolBoxValueError(
                    f"{why}; rerun boz_Ia (or `scs-nb submit boz-correction`), or pass "
                    f"allow_incomplete=True to look at the flat field only"
                )
            warnings.warn(why, IncompleteParametersWarning, stacklevel=2)
        p = cls(
            d["proposal"],
            d["darkrun"],
            d["run"],
            d["module"],
            d["gain"],
            d.get("drop_intra_darks", True),
        )
        for k in _FIELDS:
            if k in d and k not in (
                "proposal",
                "darkrun",
                "run",
                "module",
                "gain",
                "drop_intra_darks",
            ):
                setattr(p, k, d[k])
        if d.get("mask") is not None:
            p.set_mask(d["mask"])
        if d.get("Fnl") is not None:
            p.set_Fnl(d["Fnl"])
        if p.nl_domain is not None:
            p.nl_domain = np.asarray(p.nl_domain, int)
        return p

    def __str__(self):
        f = "none (incomplete: identity)" if self.Fnl is None else "set"
        return (
            f"BOZ parameters: proposal {self.proposal}, dark run {self.darkrun}, run "
            f"{self.run}, module {self.module}, gain {self.gain} ph/bin, drop intra-darks "
            f"{self.drop_intra_darks}\n  mask: {len(self.get_mask_idx())} bad pixels\n"
            f"  rois (threshold {self.rois_th}): {self.rois}\n"
            f"  flat field ({self.ff_type}, prod_th {self.ff_prod_th}, ratio_th "
            f"{self.ff_ratio_th}): {self.flat_field}\n"
            f"  refinement alpha {self.ff_alpha}, max iter {self.ff_max_iter}\n"
            f"  non-linearity: {f} (alpha {self.nl_alpha}, sat level {self.sat_level}, "
            f"max iter {self.nl_max_iter})"
        )


#: required fields of a parameters file and their types
_REQUIRED = {"proposal": int, "darkrun": int, "run": int, "module": int, "gain": (int, float)}


def check_fields(d, fname):
    """The fields of a parameters file, checked: a JSON object with the required numbers.

    Parameters
    ----------
    d : object
        The decoded JSON.
    fname : str
        The file, for messages.

    Returns
    -------
    dict
        ``d``.

    Raises
    ------
    ToolBoxValueError
        Not an object, a required field missing or not a number, or a mask / ROIs / Fnl of
        the wrong shape.
    """
    if not isinstance(d, dict):
        raise ToolBoxValueError(
            f"{fname} is not a BOZ parameters file: a JSON object expected, got a "
            f"{type(d).__name__}"
        )
    missing = [k for k in _REQUIRED if k not in d]
    if missing:
        raise ToolBoxValueError(f"{fname} is not a BOZ parameters file: missing {missing}")
    for k, kind in _REQUIRED.items():
        if isinstance(d[k], bool) or not isinstance(d[k], kind):
            raise ToolBoxValueError(
                f"{fname}: {k} must be a number, got {d[k]!r}; is it a BOZ parameters file?"
            )
    if d.get("mask") is not None and not isinstance(d["mask"], list):
        raise ToolBoxValueError(f"{fname}: mask must be a list of [y, x] bad pixels")
    if d.get("rois") is not None and not isinstance(d["rois"], dict):
        raise ToolBoxValueError(f"{fname}: rois must be an object of ROIs, got {d['rois']!r}")
    return d
