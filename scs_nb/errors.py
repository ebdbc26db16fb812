"""Errors raised by scs_nb.

The names mirror ``toolbox_scs.util.exceptions`` so that notebooks catching
``ToolBoxError`` keep working. Every message says what was asked, what exists
and what to pass instead.
"""

__all__ = [
    "ToolBoxError",
    "ToolBoxPathError",
    "ToolBoxTypeError",
    "ToolBoxValueError",
    "ToolBoxFileError",
]


class ToolBoxError(Exception):
    """Base class of every error raised by scs_nb."""


class ToolBoxPathError(ToolBoxError, FileNotFoundError):
    """A proposal, run or output path does not exist or is not allowed."""


class ToolBoxTypeError(ToolBoxError, TypeError):
    """An argument has the wrong type."""


class ToolBoxValueError(ToolBoxError, ValueError):
    """An argument has a value that does not fit the data (unknown mnemonic, module, ...)."""


class ToolBoxFileError(ToolBoxError, OSError):
    """A data file is unreadable, truncated or inconsistent."""
