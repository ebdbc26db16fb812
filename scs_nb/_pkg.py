"""Package information (the ToolBox's ``toolbox_scs.util.pkg``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._version import __version__

__all__ = ["get_version"]


def get_version() -> str:
    """The installed version of scs_nb.

    Returns
    -------
    str
        The distribution's version, or the source tree's when scs_nb runs
        uninstalled.
    """
    try:
        return version("scs-nb")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return __version__
