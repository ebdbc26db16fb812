"""Reliable outputs: atomic writes with shared permissions, file locks, temporary
names owned by a process, and the cleaning of stale ones, and writable-path checks.

* ``write_atomic(path, data)`` writes a temporary file in the same folder and renames
  it: a file with the final name is always complete. It gets the permissions of an
  ordinary new file (0666 less the umask), so proposal members can read it.
  ``replacing(path)`` does the same for writers that want a file name (h5py, xarray).
* ``json_default`` is the one converter of values JSON does not know (numpy
  scalars and arrays, paths, slices): ``json.dumps(obj, default=json_default)``.
* ``locked(path)`` holds an exclusive ``fcntl`` lock on ``.<name>.lock`` beside it for a
  read-modify-write of ``path`` by concurrent processes.
* ``part_name(stem)`` is a temporary name carrying the host and process id of its
  writer; ``clean_stale(folder, stem)`` removes the ones of processes that no longer
  exist (older than this process), left by a kill.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
import time
import unicodedata
from pathlib import Path, PurePath

import numpy as np

from .errors import ToolBoxPathError, ToolBoxValueError

__all__ = [
    "umask",
    "file_mode",
    "write_atomic",
    "json_default",
    "replacing",
    "locked",
    "part_name",
    "clean_stale",
    "is_stale",
    "check_name",
    "check_writable_dir",
    "PROCESS_START",
]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
#: wall-clock time this process started (files older than this and owned by no live
#: process are leftovers of a killed one)
PROCESS_START = time.time()
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0])[:32] or "host"
#: leftovers of another host (shared file system) are removed after this many seconds
OTHER_HOST_AGE = 24 * 3600


def umask() -> int:
    """The umask of this process, read once at import.

    Returns
    -------
    int
    """
    return _UMASK


def file_mode(executable=False) -> int:
    """The mode of an ordinary new file.

    Parameters
    ----------
    executable : bool
        A script (0777) rather than a data file (0666).

    Returns
    -------
    int
        0666 (0777 if executable) less the umask.
    """
    return (0o777 if executable else 0o666) & ~_UMASK


def set_file_mode(path, executable=False):
    """Give ``path`` the mode of an ordinary new file (see :func:`file_mode`).

    Parameters
    ----------
    path : str or Path
    executable : bool
    """
    os.chmod(path, file_mode(executable))


@contextlib.contextmanager
def replacing(path, executable=False):
    """Yield a temporary file name beside ``path`` (``.<name>.pid<pid>@<host>.*.part``,
    which ``clean_stale`` recognises) for a writer to fill; when the block ends,
    give it the mode of an ordinary new file and rename it to ``path``; on an
    error remove it. A file with the final name is always complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=part_name("." + path.name), suffix=".part")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, file_mode(executable))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(path, data, mode=None, executable=False):
    """Write text or bytes to ``path`` via a temporary file in the same folder.

    The temporary file is renamed to ``path`` once complete, so a file with the
    final name is never half-written; it gets the mode of an ordinary new file
    (0666 less the umask: proposal members can read it).

    Parameters
    ----------
    path : str or Path
        The file to write; its folder is created.
    data : str or bytes
        The content.
    mode : str, optional
        ``open`` mode; default ``'wb'`` for bytes, ``'w'`` for text.
    executable : bool
        Give the file the mode of a script (0777 less the umask).

    Returns
    -------
    Path
        ``path``.
    """
    if mode is None:
        mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    with replacing(path, executable) as tmp, open(tmp, mode) as f:
        f.write(data)
    return Path(path)


def json_default(obj):
    """Convert what ``json`` cannot write: ``json.dumps(obj, default=json_default)``.

    Parameters
    ----------
    obj : object
        A value ``json`` met and does not know.

    Returns
    -------
    object
        numpy scalar -> Python number/bool; numpy array -> nested list; path -> str;
        slice -> ``{"slice": [start, stop, step]}``; anything else -> ``str(obj)``.

    Examples
    --------
    >>> json.dumps({"a": np.arange(2), "x": np.float32(0.5)}, default=json_default)
    '{"a": [0, 1], "x": 0.5}'
    """
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (PurePath, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, slice):
        return {"slice": [obj.start, obj.stop, obj.step]}
    return str(obj)


@contextlib.contextmanager
def locked(path, timeout=600.0):
    """Exclusive lock (``fcntl.flock``) on ``.<name>.lock`` beside ``path`` while the
    block runs (the lock file stays: removing it would race with a waiting process)."""
    import fcntl  # POSIX only: the rest of this module also works without it

    path = Path(path)
    lock = path.with_name("." + path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, file_mode())
    try:
        t0 = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() - t0 > timeout:
                    raise ToolBoxPathError(
                        f"{lock} has been locked by another process for {timeout:.0f} s; "
                        "is another batch still running on this folder?"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# -- temporary names owned by a process ------------------------------------------
_TAG = re.compile(r"\.pid(\d+)@([A-Za-z0-9-]+)\.")


def part_tag() -> str:
    """The owner tag of this process's temporary names: ``.pid<pid>@<host>.``.

    Returns
    -------
    str
    """
    return f".pid{os.getpid()}@{_HOST}."


def part_name(stem) -> str:
    """A prefix for ``tempfile.mkstemp/mkdtemp``: ``<stem>.pid<pid>@<host>.``."""
    return f"{stem}{part_tag()}"


def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(path) -> bool:
    """A temporary file/folder left by a process that no longer runs: older than this
    process and owned by no live process of this host (another host's: older than a
    day; one without an owner tag: older than this process)."""
    path = Path(path)
    try:
        mtime = path.lstat().st_mtime
    except OSError:
        return False
    if mtime >= PROCESS_START:
        return False
    m = _TAG.search(path.name)
    if m is None:
        return True
    pid, host = int(m.group(1)), m.group(2)
    if host != _HOST:
        return time.time() - mtime > OTHER_HOST_AGE
    return pid != os.getpid() and not _alive(pid)


def clean_stale(folder, prefix, suffix=".part", echo=None, owned_only=False) -> list:
    """Remove stale temporary entries ``<prefix>*<suffix>`` of ``folder``; returns them.

    Parameters
    ----------
    folder : str or Path
        The folder to clean.
    prefix, suffix : str
        What the names of the temporary entries start and end with.
    echo : callable, optional
        Called with a line for each removed entry.
    owned_only : bool
        Remove only files whose name carries an owner tag (``.pid<pid>@<host>.``, see
        :func:`part_name`): in a folder shared with other programs (an output folder),
        their hidden ``.*.part`` files and folders are not ours to remove.

    Returns
    -------
    list of Path
    """
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for p in entries:
        if not (p.name.startswith(prefix) and p.name.endswith(suffix)):
            continue
        if owned_only and (_TAG.search(p.name) is None or p.is_symlink() or not p.is_file()):
            continue
        if is_stale(p):
            try:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
                removed.append(p)
                if echo:
                    echo(f"removed {p}, left by a process that no longer runs")
            except OSError:
                pass
    return removed


# -- names and paths ---------------------------------------------------------------
def check_name(text, what="name") -> str:
    """Refuse text with control characters (newline, tab, NUL, escape, ...): such a name
    must never reach a script, a comment, a path or an identifier."""
    s = str(text)
    bad = [c for c in s if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    if bad:
        raise ToolBoxValueError(
            f"{what} {s!r} contains the control character {bad[0]!r}; rename it with "
            "letters, digits, '_', '-', '.' only"
        )
    return s


def _writable(folder) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def check_writable_dir(path, what="output folder", option="--out") -> Path:
    """``path`` is (or can be created as) a writable folder; else ToolBoxPathError
    naming the path and the option to pass."""
    path = Path(path)
    check_name(path, what)
    if path.exists() and not path.is_dir():
        raise ToolBoxPathError(
            f"{what} {str(path)!r} exists and is not a folder; pass {option} with a folder"
        )
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ToolBoxPathError(
            f"{what} {str(path)!r} cannot be created: {str(probe)!r} is a "
            f"file; pass {option} with a folder"
        )
    if not _writable(probe):
        raise ToolBoxPathError(
            f"{what} {str(path)!r} is not writable (no write permission in "
            f"{str(probe)!r}); pass {option} with a folder you can write"
        )
    return path
