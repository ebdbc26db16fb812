"""The outputs of an execution: its state file, the claim on it, writing them together.

* ``<stem>.state.json`` beside the notebook records the template (path and SHA-256),
  parameters, status and message of the last execution into the folder;
  :func:`read_state` trusts it for a complete notebook only when it describes that very
  notebook (its size and time), so a later failed attempt cannot pass the old notebook
  off as its own.
* :func:`claim_output` holds an ``fcntl`` lock on ``.<stem>.lock`` while a template
  executes: two executions into one output cannot silently replace each other.
* The notebook and report are written under temporary names and renamed together; a
  full disk leaves no file under a final name, names the path, and the executed
  notebook is kept as ``<stem>.failed.ipynb``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..atomic import file_mode, json_default, part_name, part_tag, write_atomic
from ..errors import ToolBoxPathError, ToolBoxValueError
from .templates import Template

__all__ = [
    "failed_paths",
    "state_path",
    "read_state",
    "parameter_changes",
    "output_changes",
    "record_state",
    "claim_output",
    "check_seconds",
    "write_together",
    "write_failure",
    "template_digest",
]


def failed_paths(notebook_path):
    """The notebook and report written when a cell fails.

    Parameters
    ----------
    notebook_path : str or Path
        The notebook of a complete execution.

    Returns
    -------
    tuple of Path
        ``(<stem>.failed.ipynb, <stem>.failed.html)``.
    """
    p = Path(notebook_path)
    return p.with_suffix(".failed.ipynb"), p.with_suffix(".failed.html")


def state_path(notebook_path) -> Path:
    """The per-output state file ``<stem>.state.json`` beside the notebook: template,
    parameters, status and message of the last execution into this folder."""
    p = Path(notebook_path)
    return p.with_name(p.stem + ".state.json")


def _stat_key(path):
    """``[size, mtime_ns]`` of a file, or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def read_state(notebook_path) -> dict | None:
    """The recorded state of an output, or None.

    A complete notebook is described by its state file only when that file says
    ``done`` for this very notebook (its size and modification time): a later attempt
    that failed or was interrupted rewrites the state file but leaves the notebook of
    the earlier one, whose own metadata then tells what made it. Without a notebook
    the state file tells how the last attempt ended.

    Parameters
    ----------
    notebook_path : str or Path
        The notebook of a complete execution.

    Returns
    -------
    dict or None
        ``status``, ``parameters``, ``template_path``, ``template_sha256``, ... .
    """
    sp = state_path(notebook_path)
    nb = Path(notebook_path)
    data = None
    try:
        with open(sp) as f:
            data = json.load(f)
        if not (isinstance(data, dict) and isinstance(data.get("parameters"), dict)):
            data = None
    except (OSError, ValueError):
        pass
    if data is not None:
        if not nb.is_file():
            return data
        stat = _stat_key(nb)
        if data.get("status") == "done" and stat and data.get("notebook_stat") == stat:
            return data
    try:
        with open(nb, encoding="utf-8") as f:
            meta = json.load(f).get("metadata", {}).get("scs_nb")
        if isinstance(meta, dict) and isinstance(meta.get("parameters"), dict):
            return {"status": "done", "notebook": str(nb), **meta}
    except (OSError, ValueError, AttributeError):
        pass
    return None


def parameter_changes(old: dict, new: dict) -> list:
    """``['bin_width: 0.5 -> 0.1', ...]`` for the parameters that differ."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "(absent)"), new.get(k, "(absent)")
        if a != b:
            out.append(f"{k}: {a!r} -> {b!r}")
    return out


def output_changes(record: dict, template: Template, values: dict) -> list:
    """What differs between a recorded output and an execution about to run.

    Parameters
    ----------
    record : dict
        From :func:`read_state`.
    template : Template
        The template about to run.
    values : dict
        Its validated parameters.

    Returns
    -------
    list of str
        ``['template: /a/t.ipynb -> /b/t.ipynb (other content)', 'bin_width: 0.5 ->
        0.1', ...]``; empty when the output is this execution's. Another path with the
        same content is the same template (a moved environment); outputs recorded
        before the content was are compared by path.
    """
    out = []
    old_path, old_hash = record.get("template_path"), record.get("template_sha256")
    new_hash = template.digest() if (old_path or old_hash) else None
    if old_hash and old_hash != new_hash:
        where = f"{old_path} -> {template.path}" if old_path else str(template.path)
        out.append(f"template: {where} (other content)")
    elif old_path and not old_hash and str(old_path) != str(template.path):
        out.append(f"template: {old_path} -> {template.path}")
    return out + parameter_changes(record.get("parameters", {}), values)


def record_state(prep, status, message, notebook=None):
    """Write the state file of an output (see :func:`state_path`); a failure to write
    it is ignored (the outputs are written; the state is a convenience).

    Parameters
    ----------
    prep : Prepared
        The execution.
    status : str
        ``done``, ``failed`` or ``interrupted``.
    message : str
        What happened.
    notebook : str or Path, optional
        The notebook written.
    """
    state = {
        "template": prep.template.name,
        "template_path": str(prep.template.path),
        "template_sha256": template_digest(prep),
        "parameters": prep.values,
        "kernel": prep.kernel,
        "status": status,
        "message": message,
        "notebook": str(notebook) if notebook else None,
        # which notebook this state describes (read_state)
        "notebook_stat": _stat_key(notebook) if notebook else None,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    try:
        write_atomic(
            state_path(prep.notebook_path), json.dumps(state, indent=1, default=json_default)
        )
    except OSError:  # the outputs are written; the state is a convenience
        pass


def template_digest(prep):
    """The SHA-256 of the template of ``prep``, or None if it is gone.

    Parameters
    ----------
    prep : Prepared

    Returns
    -------
    str or None
    """
    try:
        return prep.template.digest()
    except ToolBoxPathError:  # the template was removed while it ran
        return None


def _write_text(path, text):
    """Write ``text`` into the file ``path`` (the one writer of the outputs' content)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_together(items):
    """Write every ``(path, text)`` under a temporary name first, then rename them all:
    when one cannot be written (a full disk), no final name is touched. An OSError
    names the file it was writing (``filename``)."""
    staged = []
    try:
        for path, text in items:
            fd, tmp = tempfile.mkstemp(
                dir=path.parent, prefix=part_name("." + path.name), suffix=".part"
            )
            os.close(fd)
            staged.append((tmp, path))
            try:
                _write_text(tmp, text)
            except OSError as exc:
                exc.filename = str(path)
                raise
            os.chmod(tmp, file_mode())
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def write_failure(prep, exc, tmp):
    """What to say when the outputs of ``prep`` could not be written; keeps the
    executed notebook ``tmp`` as ``<stem>.failed.ipynb`` (a rename needs no space).

    Parameters
    ----------
    prep : Prepared
        The execution.
    exc : OSError
        The error (``filename``: the file being written).
    tmp : str or None
        papermill's executed notebook.

    Returns
    -------
    tuple
        ``(message, kept notebook or None)``.
    """
    path = exc.filename or prep.out_dir
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = f"{shutil.disk_usage(prep.out_dir).free / 2**20:.1f} MiB free"
        except OSError:
            free = "free space unknown"
        msg = f"no space left on the file system of {prep.out_dir} ({free}) writing {path}"
    else:
        msg = f"cannot write {path}: {exc.strerror or exc}"
    fnb = failed_paths(prep.notebook_path)[0]
    try:
        if not (tmp and os.path.getsize(tmp)):
            raise OSError("empty")
        os.replace(tmp, fnb)
        msg += f"\n    the executed notebook is kept as {fnb}"
        kept = fnb
    except OSError:
        msg += "\n    the executed notebook could not be kept"
        kept = None
    msg += "\n    no output under its final name was written; free space, then rerun"
    return msg, kept


def check_seconds(value, what):
    """Refuse a time limit that is not a finite number > 0 (None: no limit).

    Parameters
    ----------
    value : float or None
    what : str
        What the limit is, for the message.

    Raises
    ------
    ToolBoxValueError
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ToolBoxValueError(f"{what} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ToolBoxValueError(
            f"{what} must be a finite number of seconds > 0, got {value!r}; "
            "leave it out for no limit"
        )


@contextlib.contextmanager
def claim_output(prep):
    """Hold the output of ``prep`` (an ``fcntl`` lock on ``.<stem>.lock`` in its folder)
    while the block runs.

    Parameters
    ----------
    prep : Prepared
        The execution.

    Raises
    ------
    ToolBoxPathError
        Another execution holds it, or (without ``prep.overwrite``) a complete output
        appeared since :func:`prepare` checked.
    """
    import fcntl  # POSIX only, like scs_nb.atomic.locked

    lock = prep.out_dir / f".{prep.notebook_path.stem}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, file_mode())
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise ToolBoxPathError(
                f"{prep.notebook_path} is being written by another execution ({holder}); "
                "wait for it to finish, or choose another --out folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"scs-nb{part_tag().rstrip('.')}".encode(), 0)
        if not prep.overwrite and prep.notebook_path.exists():
            old = read_state(prep.notebook_path)
            diff = output_changes(old, prep.template, prep.values) if old else []
            raise ToolBoxPathError(
                f"{prep.notebook_path} was written by another execution meanwhile"
                + (f" (with other parameters: {'; '.join(diff)})" if diff else "")
                + "; pass --overwrite to replace it, or choose another --out folder"
            )
        yield
    finally:
        os.close(fd)  # closing releases the lock
