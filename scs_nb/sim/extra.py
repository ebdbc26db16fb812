"""Any mnemonic of the table, on request: ``-o extra_mnemonics=transmission,VSLIT,newton``
(any scenario) or ``extra_mnemonics=all``; the scenario ``all_mnemonics`` carries
every one.

Each requested mnemonic's source is written as its table entry says (``kind``,
source, key, dimensions), with plausible values: a slow value per train
(a set-point with encoder noise; the set-point is the ground truth in
``truth['extra_mnemonics']``), images of the camera's shape (offset + read
noise), digitizer traces and on-board integrals (baseline + noise), Gotthard II
strips. Sources the scenario already writes are left as they are; a CONTROL
source of the scenario gets the missing keys added. All keys of a source that
the table knows are written together, so the device is complete.
"""

from __future__ import annotations

import difflib

import numpy as np

from ..errors import ToolBoxValueError
from ..facility import SLOTS_PER_TRAIN
from ..facility import sources as S
from ..mnemonics import alternatives, kind_of, mnemonics
from .pes import trace_length as pes_trace_length
from .writer import ControlSource, InstrumentSource

#: length of simulated raw traces per train (samples) and on-board integrals
TRACE_LEN = {"ADQ412": 20000, "FastADC": 2000}
NPEAKS = 1000


def requested(value) -> list:
    """The mnemonic names of an ``extra_mnemonics`` option.

    Parameters
    ----------
    value : str, list of str or None
        ``'a,b'``, ``['a', 'b']`` or ``'all'``; None or empty: none.

    Returns
    -------
    list of str
        Names of the mnemonic table.

    Raises
    ------
    ToolBoxValueError
        If a name is not in the table (the message suggests close ones).
    """
    if value in (None, "", []):
        return []
    names = (
        list(mnemonics)
        if value == "all"
        else (
            [v.strip() for v in value.split(",") if v.strip()]
            if isinstance(value, str)
            else list(value)
        )
    )
    unknown = [n for n in names if n not in mnemonics]
    if unknown:
        hints = {n: difflib.get_close_matches(n, list(mnemonics), n=3) for n in unknown}
        raise ToolBoxValueError(
            f"extra_mnemonics: unknown mnemonic(s) {', '.join(unknown)} "
            f"(close: {hints}); pass names of the mnemonic table (tb.mnemonics) or 'all'"
        )
    return names


def _keys_by_source(names):
    """source -> {key (without '.value'): (kind, dim, digitizer)} of the first alternatives."""
    out: dict = {}
    for name in names:
        alt = alternatives(name)[0]
        out.setdefault(alt["source"], {})[alt["key"]] = (
            kind_of(alt),
            alt.get("dim"),
            alt.get("digitizer"),
        )
    # complete each source with every other key the table gives it
    for name in mnemonics:
        alt = alternatives(name)[0]
        if alt["source"] in out:
            out[alt["source"]].setdefault(
                alt["key"], (kind_of(alt), alt.get("dim"), alt.get("digitizer"))
            )
    return out


def add_mnemonics(run, names):
    """Write the sources of mnemonics that the scenario did not write.

    Parameters
    ----------
    run : SimRun
        The run being built.
    names : str or list of str
        Mnemonic names, or ``'all'`` (see ``requested``).

    Returns
    -------
    None
        The values written go to ``run.truth['extra_mnemonics']``.
    """
    names = requested(names)
    if not names:
        return
    existing = {s.name: s for s in run.sources}
    truth = run.truth.setdefault("extra_mnemonics", {})
    for source, keys in _keys_by_source(names).items():
        rng = run.rng_for(f"extra {source}")
        if ":" not in source:
            _control(run, source, keys, existing.get(source), rng, truth)
        elif source not in existing:
            run.add(_instrument(run, source, keys, rng))
        else:
            _extend(existing[source], keys, rng)
    for name in names:
        alt = alternatives(name)[0]
        if kind_of(alt) == "slow" and alt["key"] in truth.get(alt["source"], {}):
            truth[name] = truth[alt["source"]][alt["key"]]
    for source in [s for s in truth if "/" in s]:
        truth.pop(source)


def _control(run, source, keys, have, rng, truth):
    values = {}
    n = run.ntrains
    for key, (kind, _dim, _) in keys.items():
        k = key[: -len(".value")] if key.endswith(".value") else key
        if have is not None and k in have.values:
            continue
        if kind == "timing":
            if k.endswith(".nPulses"):
                values[k] = np.zeros(n, np.int32)
            else:
                values[k] = _timing_table(run, k)
        else:
            setpoint = float(np.round(rng.uniform(0.5, 5.0), 2))
            values[k] = (setpoint + 1e-4 * rng.standard_normal(n)).astype(np.float32)
            truth.setdefault(source, {})[key] = setpoint
    if not values:
        return
    if have is not None:
        have.values.update(values)
    else:
        run.add(ControlSource(source, "SimulatedDevice", values))


def _timing_table(run, key):
    """Pulse ids of another location (zero: no pulses), or a copy of the bunch
    pattern table for the timeserver's table key."""
    n = run.ntrains
    if key.endswith(".pulseIds"):
        return np.zeros((n, SLOTS_PER_TRAIN), np.int32)
    pattern = getattr(run, "pattern", None)
    return (
        pattern.tables().astype(np.uint32)
        if pattern is not None
        else np.zeros((n, SLOTS_PER_TRAIN), np.uint32)
    )


def _entry(source, key, kind, digitizer):
    """(shape, dtype, generator(rng, ntrains) -> array) of one instrument key."""
    if kind == "camera":
        shape = S.CAMERA_SHAPE.get(source, (512, 512))
        return (
            shape,
            np.uint16,
            lambda rng, m: np.clip(100 + 3 * rng.standard_normal((m,) + shape), 0, 65535).astype(
                np.uint16
            ),
        )
    if kind == "detector":
        shape = S.GOTTHARD2_SHAPE
        return (
            shape,
            np.uint16,
            lambda rng, m: np.clip(2000 + 20 * rng.standard_normal((m,) + shape), 0, 65535).astype(
                np.uint16
            ),
        )
    if key.endswith(("raw.samples", "rawData")):
        length = TRACE_LEN[digitizer or "ADQ412"]
        dtype = np.int16 if key.endswith("raw.samples") else np.uint16
        base = 0 if dtype == np.int16 else 2000
        return (
            (length,),
            dtype,
            lambda rng, m: (base + np.round(3 * rng.standard_normal((m, length)))).astype(dtype),
        )
    return (
        (NPEAKS,),
        np.float32,
        lambda rng, m: (rng.standard_normal((m, NPEAKS))).astype(np.float32),
    )


def _instrument(run, source, keys, rng):
    groups, gens = {}, {}
    for key, (kind, _dim, digitizer) in keys.items():
        shape, dtype, gen = _entry(source, key, kind, digitizer)
        if kind == "timing":
            # a pipeline copy of the timeserver's table: the run's bunch pattern, uint32
            # per slot as the CONTROL key (not a float trace)
            table = _timing_table(run, key)
            shape, dtype = table.shape[1:], table.dtype
            gen = _rows(table)
        elif source == S.PES_ADQ + ":network" and key.endswith("raw.samples"):
            length = pes_trace_length(getattr(run, "pattern", None))
            shape = (length,)
            gen = _noise_trace(length)
        group = key.split(".")[0]
        groups.setdefault(group, {})[key] = (shape, dtype)
        gens[key] = gen
    seed = int(rng.integers(2**31))

    def fill(group, tix):
        r = np.random.default_rng([seed, int(tix[0]) if len(tix) else 0])
        return {
            k: gens[k](r, tix) if getattr(gens[k], "by_train", False) else gens[k](r, len(tix))
            for k in groups[group]
        }

    counts = {g: np.ones(run.ntrains, np.uint64) for g in groups}
    return InstrumentSource(source, "SimulatedDevice", groups, counts, fill, chunk_trains=8)


def _rows(table):
    """A generator of the rows of ``table`` for the trains ``tix`` being written."""

    def gen(_rng, tix):
        return table[np.asarray(tix, np.int64)]

    gen.by_train = True
    return gen


def _noise_trace(length):
    """int16 raw traces of ``length`` samples: a baseline of 0 with 3 counts of noise."""

    def gen(rng, m):
        return np.round(3 * rng.standard_normal((m, length))).astype(np.int16)

    return gen


def _extend(src, keys, rng):
    """Add the keys ``src`` (a scenario's instrument source) lacks, in its index groups."""
    have = {k for g in src.groups.values() for k in g}
    gens = {}
    for key, (kind, _dim, digitizer) in keys.items():
        group = key.split(".")[0]
        if key in have or group not in src.groups:
            continue
        shape, dtype, gen = _entry(src.name, key, kind, digitizer)
        src.groups[group][key] = (shape, dtype)
        gens[key] = (group, gen)
    if not gens:
        return
    seed = int(rng.integers(2**31))
    old_fill = src.fill

    def fill(group, tix):
        out = old_fill(group, tix)
        m = int(np.sum(np.asarray(src.counts[group], np.int64)[tix]))
        r = np.random.default_rng([seed, int(tix[0]) if len(tix) else 0])
        out.update({k: gen(r, m) for k, (g, gen) in gens.items() if g == group})
        return out

    src.fill = fill
