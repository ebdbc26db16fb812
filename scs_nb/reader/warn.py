"""Warnings that point at the user's code, not at scs_nb's insides.

A warning raised deep in the library (a skipped file, missing trains) is only
useful if Python reports it at the line of the notebook or script that called
scs_nb. ``user_stacklevel()`` counts the frames between the caller of
``warnings.warn`` and the first frame outside the ``scs_nb`` package.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

__all__ = ["user_stacklevel", "warn_user"]

#: frames in these folders are the library's (contextlib: ``with`` blocks around calls)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SKIP_DIRS = (_PACKAGE_DIR, os.path.dirname(contextlib.__file__))


def user_stacklevel(skip: int = 0) -> int:
    """The ``stacklevel`` for ``warnings.warn`` that points at the user's code.

    Parameters
    ----------
    skip : int
        Extra frames between the caller of ``warnings.warn`` and this function
        (a helper that calls ``user_stacklevel`` on behalf of its caller passes 1).

    Returns
    -------
    int
        Counted from the function that calls ``warnings.warn``: 1 is that
        function, 2 its caller, and so on up to the first frame outside scs_nb.
    """
    frame = sys._getframe(1 + skip)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_SKIP_DIRS):
        frame = frame.f_back
        level += 1
    return level


def warn_user(message: str, category=UserWarning) -> None:
    """Issue ``message`` as a warning attributed to the user's code.

    Parameters
    ----------
    message : str
        What happened and what to do about it.
    category : type
        The warning class (default ``UserWarning``).
    """
    warnings.warn(message, category, stacklevel=user_stacklevel())
