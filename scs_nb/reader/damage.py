"""Damaged runs: name the damaged file and its cause, process the rest.

* ``unreadable_files(folder)``: the run files that cannot be opened for reading
  (permissions, I/O errors), with the cause.
* ``sequence_gaps(folder)``: the sequence files missing before the last one present,
  per aggregator (``RAW-R0012-DA01-S00001.h5`` deleted while S00000 and S00002 remain).
* ``check_run(run, folder, where)`` (open_run): warns naming missing sequence files,
  and ``drop_unreadable``: a DataCollection without the unreadable
  files, each named in a warning (so no read fails later with a raw h5py error).
* ``describe(folder)`` / ``hint(run)``: one sentence naming both kinds of damage, for
  messages about missing trains or sources.

Used by run discovery (open_run), ``load``, the lookup (missing-source errors)
and the DSSC binning.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import warnings

from ..errors import ToolBoxFileError
from .warn import user_stacklevel

__all__ = [
    "probe",
    "unreadable_files",
    "sequence_gaps",
    "describe",
    "hint",
    "drop_unreadable",
    "check_run",
    "unreadable_error",
    "check_readable",
]

_SEQ = re.compile(r"(?P<kind>[A-Z]+)-R(?P<run>\d+)-(?P<agg>[A-Za-z0-9]+)-S(?P<seq>\d+)\.h5$")


def probe(path) -> str | None:
    """Why ``path`` cannot be read, or None if it can."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except PermissionError:
        try:
            st = os.stat(path)
            return (
                f"permission denied (mode {stat.filemode(st.st_mode)}, owner uid "
                f"{st.st_uid}, gid {st.st_gid})"
            )
        except OSError:
            return "permission denied"
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        os.read(fd, 8)
    except OSError as exc:
        return f"read error: {exc.strerror or exc}"
    finally:
        os.close(fd)
    return None


def unreadable_files(folder, pattern="*.h5") -> dict:
    """``{path: cause}`` of the files of ``folder`` matching ``pattern`` that cannot be
    read."""
    out = {}
    for path in sorted(glob.glob(os.path.join(str(folder), pattern))):
        cause = probe(path)
        if cause:
            out[path] = cause
    return out


def unreadable_error(path, cause, what="run file") -> ToolBoxFileError:
    """The ToolBoxFileError for a file that cannot be read, naming it, the cause and the remedy."""
    return ToolBoxFileError(
        f"cannot read {what} {path}: {cause}. Ask the data owner to make it readable "
        "(chmod a+r), or copy the run again"
    )


def check_readable(folder, pattern="*.h5", what="run file"):
    """Raise ToolBoxFileError naming the first unreadable file (and how many)."""
    bad = unreadable_files(folder, pattern)
    if bad:
        path, cause = next(iter(bad.items()))
        err = unreadable_error(path, cause, what)
        if len(bad) > 1:
            err = ToolBoxFileError(
                f"{err} ({len(bad) - 1} more unreadable: "
                f"{', '.join(os.path.basename(p) for p in list(bad)[1:])})"
            )
        raise err


def sequence_gaps(folder) -> dict:
    """``{aggregator: [missing file names]}``: sequence numbers absent between S00000
    and the last one present of an aggregator (a deleted last file leaves no gap)."""
    seqs = {}
    for name in os.listdir(str(folder)) if os.path.isdir(str(folder)) else ():
        m = _SEQ.match(name)
        if m:
            key = (m.group("kind"), m.group("run"), m.group("agg"))
            seqs.setdefault(key, set()).add(int(m.group("seq")))
    out = {}
    for (kind, run, agg), have in sorted(seqs.items()):
        width = 5
        missing = sorted(set(range(max(have) + 1)) - have)  # the DAQ starts at S00000
        if missing:
            out[agg] = [f"{kind}-R{run}-{agg}-S{s:0{width}d}.h5" for s in missing]
    return out


def describe(folder, sources=None) -> str:
    """A sentence naming the missing sequence files and the unreadable files of a run
    folder, or '' when there are none. ``sources``: {aggregator: [source names]} to say
    what the missing files held."""
    parts = []
    for agg, names in sequence_gaps(folder).items():
        held = (sources or {}).get(agg)
        parts.append(
            f"sequence file{'s' if len(names) > 1 else ''} {', '.join(names)} "
            f"{'are' if len(names) > 1 else 'is'} missing from {folder}"
            + (
                f" (aggregator {agg}: {', '.join(sorted(held)[:5])}"
                + (", ..." if len(held) > 5 else "")
                + ")"
                if held
                else ""
            )
        )
    for path, cause in unreadable_files(folder).items():
        parts.append(f"file {os.path.basename(path)} cannot be read: {cause}")
    return "; ".join(parts)


def _folders(run):
    return sorted({os.path.dirname(f.filename) for f in getattr(run, "files", ())})


def _sources_by_aggregator(run) -> dict:
    out = {}
    for f in getattr(run, "files", ()):
        m = _SEQ.match(os.path.basename(f.filename))
        if m:
            srcs = set(getattr(f, "control_sources", ())) | set(
                getattr(f, "instrument_sources", ())
            )
            out.setdefault(m.group("agg"), set()).update(srcs)
    return out


def hint(run) -> str:
    """'' or ' Damaged run: ...' naming the missing and unreadable files of the run's
    folder(s) (for an error about a missing source or missing trains)."""
    try:
        by_agg = _sources_by_aggregator(run)
        text = "; ".join(t for t in (describe(d, by_agg) for d in _folders(run)) if t)
    except OSError:  # pragma: no cover - the hint must never hide the real error
        return ""
    return f" Damaged run: {text}." if text else ""


def drop_unreadable(run, folder, where):
    """``run`` without its files that cannot be read, each named in a warning (with a
    run-map cache extra_data opens files only when reading: a raw h5py error then)."""
    hit = {}
    for f in run.files:  # (files extra_data could not open are not here)
        path = os.path.abspath(f.filename)
        cause = probe(path)
        if cause:
            hit[path] = cause
    if not hit:
        return run
    for path, cause in hit.items():
        warnings.warn(
            f"file {path} of {where} cannot be read: {cause}; its sources and "
            "trains are missing from the run. Ask the data owner to make it "
            "readable (chmod a+r).",
            UserWarning,
            stacklevel=_stacklevel(),
        )
    keep = [f for f in run.files if os.path.abspath(f.filename) not in hit]
    if len(keep) == len(run.files):
        return run
    if not keep:
        path, cause = next(iter(hit.items()))
        raise unreadable_error(path, cause)
    return type(run)(
        keep,
        is_single_run=getattr(run, "is_single_run", False),
        inc_suspect_trains=getattr(run, "inc_suspect_trains", True),
    )


def _stacklevel():
    """The stacklevel of the first frame outside scs_nb (for warnings.warn)."""
    return user_stacklevel(1)


def check_run(run, folder, where):
    """What ``open_run`` does with a run: warn about missing sequence files (naming
    them), and drop the unreadable files (naming them and their cause)."""
    for agg, names in sequence_gaps(folder).items():
        warnings.warn(
            f"{where}: sequence file{'s' if len(names) > 1 else ''} "
            f"{', '.join(names)} {'are' if len(names) > 1 else 'is'} missing "
            f"(aggregator {agg}); the trains {'they' if len(names) > 1 else 'it'} "
            "held are absent from the run. Copy the run again or ask the facility.",
            UserWarning,
            stacklevel=_stacklevel(),
        )
    return drop_unreadable(run, folder, where)
