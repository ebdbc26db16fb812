"""The parameters of a spectrometer analysis object, and their JSON file.

``SpectrometerParams`` is the base of ``hRIXS`` (and ``MaranaX``) and
``Viking``: ``set_params`` / ``get_params`` as in the ToolBox, and (beyond
the ToolBox) ``save_params`` / ``load_params`` to keep the settings and fits
of an analysis in a JSON file. It is shared by the spectrometers, not a device
of its own: the device modules import it, never each other.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic import json_default, write_atomic
from ..errors import ToolBoxPathError, ToolBoxValueError

__all__ = ["SpectrometerParams", "save_json", "load_json"]


def _from_json(value):
    """The inverse of ``atomic.json_default`` for one parameter: ``{"slice": [...]}`` -> slice."""
    if isinstance(value, dict) and set(value) == {"slice"}:
        return slice(*value["slice"])
    return value


def save_json(path, obj, overwrite=False):
    """Write ``obj`` as JSON to ``path`` atomically (temporary file + rename).

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write.
    obj : dict
        The object to write; slices, numpy arrays and numpy scalars are
        converted (a slice becomes ``{"slice": [start, stop, step]}``).
    overwrite : bool
        Replace an existing file; otherwise an existing file is an error.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ToolBoxPathError
        ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ToolBoxPathError(
            f"{path} exists; pass overwrite=True to replace it, or another path"
        )
    return write_atomic(path, json.dumps(obj, indent=1, default=json_default))


def load_json(path):
    """Read a parameter file written by ``save_json``.

    Parameters
    ----------
    path : str or pathlib.Path
        The JSON file.

    Returns
    -------
    dict
        The decoded JSON (slices still as ``{"slice": [...]}``).

    Raises
    ------
    ToolBoxPathError
        There is no file ``path``.
    ToolBoxValueError
        The file is not JSON.
    """
    path = Path(path)
    if not path.is_file():
        raise ToolBoxPathError(f"no parameter file {path}; save one with save_params()")
    try:
        with open(path) as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ToolBoxValueError(
            f"{path} is not a parameter file written by save_params(): {e}"
        ) from None


def _kind(value):
    """The kind of a parameter value that a loaded value must match (None: any)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, slice):
        return "a slice"
    if isinstance(value, (list, tuple)):
        return "a list"
    return None


class SpectrometerParams:
    """Parameters of a spectrometer analysis: get, set, save and load them.

    ``set_params`` / ``get_params`` work on the upper-case attributes named
    (in lower case) in ``_PARAMS``; ``save_params`` / ``load_params`` (beyond
    the ToolBox) keep them in a JSON file, written atomically, with the fits
    named in ``_FITS``. Shared by hRIXS and Viking.

    Attributes
    ----------
    _NAME : str
        The spectrometer's name in error messages.
    _PARAMS : tuple of str
        The parameter names, lower case.
    _FITS : tuple of str
        The attributes holding fit results saved with the parameters.
    """

    _NAME = ""
    _PARAMS: tuple = ()
    _FITS: tuple = ()

    def set_params(self, **params):
        """Set parameters by name (case-insensitive).

        Parameters
        ----------
        **params
            ``name=value`` for names of ``_PARAMS``, e.g. ``curve_a=0.024``.

        Raises
        ------
        ToolBoxValueError
            A name is not a parameter.
        """
        for key, value in params.items():
            if key.lower() not in self._PARAMS:
                raise ToolBoxValueError(
                    f"unknown {self._NAME} parameter {key!r}; parameters: "
                    f"{', '.join(self._PARAMS)}"
                )
            setattr(self, key.upper(), value)

    def get_params(self, *params):
        """The values of some parameters, or of all.

        Parameters
        ----------
        *params : str
            Parameter names (case-insensitive); none: every parameter.

        Returns
        -------
        dict
            Name (as passed) -> value.

        Raises
        ------
        ToolBoxValueError
            A name is not a parameter.
        """
        if not params:
            params = self._PARAMS
        bad = [p for p in params if p.lower() not in self._PARAMS]
        if bad:
            raise ToolBoxValueError(
                f"unknown {self._NAME} parameter(s) {bad}; parameters: {', '.join(self._PARAMS)}"
            )
        return {p: getattr(self, p.upper()) for p in params}

    def save_params(self, path, overwrite=False):
        """Save the parameters and the fits (with their inputs) as JSON, atomically.

        Parameters
        ----------
        path : str or pathlib.Path
            The JSON file to write.
        overwrite : bool
            Replace an existing file; otherwise an existing file is an error.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        return save_json(
            path,
            {
                "class": type(self).__name__,
                "params": self.get_params(),
                **{fit: getattr(self, fit) for fit in self._FITS},
            },
            overwrite,
        )

    def load_params(self, path):
        """Set the parameters and fits saved by ``save_params``.

        Parameters
        ----------
        path : str or pathlib.Path
            A file written by ``save_params``.

        Returns
        -------
        SpectrometerParams
            ``self``, so that ``hRIXS(p).load_params(path)`` is one expression.
        """
        saved = load_json(path)
        values = self._checked(saved, path)
        self.set_params(**values)
        for fit in self._FITS:
            setattr(self, fit, saved.get(fit))
        return self

    def _checked(self, saved, path):
        """The parameters of a decoded file, each of the kind of the current value."""
        what = f"{path} is not a {self._NAME} parameter file written by save_params()"
        if not isinstance(saved, dict) or not isinstance(saved.get("params"), dict):
            raise ToolBoxValueError(f"{what}: no object 'params' in it")
        cls = saved.get("class")
        if cls is not None and cls != type(self).__name__:
            raise ToolBoxValueError(
                f"{what}: it holds the parameters of {cls}; load it with {cls}.load_params"
            )
        for fit in self._FITS:
            if saved.get(fit) is not None and not isinstance(saved[fit], dict):
                raise ToolBoxValueError(f"{what}: {fit} must be an object, got {saved[fit]!r}")
        values = {}
        for key, raw in saved["params"].items():
            value = _from_json(raw)
            if key.lower() in self._PARAMS:
                want = _kind(getattr(self, key.upper(), None))
                have = _kind(value)
                ok = want is None or value is None or have == want
                if want == "a number" and have == "a number":
                    ok = bool(np.isfinite(value))
                if not ok:
                    raise ToolBoxValueError(
                        f"{path}: parameter {key} = {raw!r} must be {want}; fix the file or "
                        f"set it with set_params({key}=...)"
                    )
            values[key] = value
        return values
