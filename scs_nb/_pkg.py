"""Package information (the ToolBox's ``toolbox_scs.util.pkg``)."""
from __future__ import annotations

__all__ = ["get_version"]


def get_version() -> str:
    """The installed version of scs_nb."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("scs-nb")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        from . import __version__
        return __version__
