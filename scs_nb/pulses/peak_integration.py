"""Peak integration of digitizer traces: the windows, their check, the numba kernel.

For pulse k of a trace ``x``::

    peak_k = polarity * (sum(x[pulseStart + o_k : pulseStop + o_k])
                         - mean(x[baseStart + o_k : baseStop + o_k]) * (pulseStop - pulseStart))

Stops are exclusive; ``o_k`` is the sample offset of pulse k relative to the
first pulse. ``find_integ_params`` finds the windows on an average trace
(``autoFind``). The kernel reads only the windows of every (train, pulse) of a
chunk of traces: no Python loop over trains or pulses. ``scs_nb.pulses.digitizers``
reads the traces and aligns the peaks on the bunch pattern.
"""

from __future__ import annotations

import numpy as np

from ..errors import ToolBoxValueError

__all__ = ["find_integ_params", "peaks_from_raw_trace", "check_params", "PARAM_KEYS"]

#: the keys of a complete set of integration parameters
PARAM_KEYS = ("pulseStart", "pulseStop", "baseStart", "baseStop", "period", "npulses")


def find_integ_params(trace, samples_per_slot=None, min_distance=None):
    """Integration parameters from an average trace: the first pulse's
    window, a baseline window just before it, the period and the number of
    pulses seen. Also returns the polarity (+1/-1) as a second value.
    """
    x = np.asarray(trace, float)
    base = np.median(x)
    s = x - base
    polarity = -1 if abs(s.min()) > abs(s.max()) else 1
    s = polarity * s
    noise = 1.4826 * np.median(np.abs(s - np.median(s)))
    top = s.max()
    thr = max(0.1 * top, 6 * noise)
    if top <= 0 or top < 6 * noise:
        raise ToolBoxValueError(
            "no pulse found in the average trace (signal below 6 x noise); pass "
            "integParams={'pulseStart', 'pulseStop', 'baseStart', 'baseStop', 'period', "
            "'npulses'} explicitly"
        )
    from scipy.signal import find_peaks

    dist = min_distance or (max(1, samples_per_slot // 2) if samples_per_slot else 1)
    peaks, _ = find_peaks(s, height=thr, distance=dist)
    p = int(peaks[0])
    half = s[p] / 2

    def crossing(direction):
        i = p
        while 0 < i < len(s) - 1 and s[i] > half:
            i += direction
        # linear interpolation between i and the previous sample
        a, b = s[i], s[i - direction]
        frac = (b - half) / (b - a) if b != a else 0.0
        return abs((i - direction) + direction * frac - p)

    hw_left, hw_right = crossing(-1), crossing(1)
    start = int(np.floor(p - 4 * hw_left))
    stop = int(np.ceil(p + 4 * hw_right)) + 1
    if len(peaks) > 1:
        period = int(np.round(np.median(np.diff(peaks))))
        if samples_per_slot:
            period = max(
                samples_per_slot, int(np.round(period / samples_per_slot)) * samples_per_slot
            )
    else:
        period = samples_per_slot or (stop - start) * 2
    width = stop - start
    room = period - width - 2
    blen = int(max(1, min(max(1, (samples_per_slot or period) // 4), room)))
    base_stop = start - 1
    base_start = max(0, base_stop - blen)
    params = {
        "pulseStart": max(start, 0),
        "pulseStop": stop,
        "baseStart": base_start,
        "baseStop": base_stop,
        "period": int(period),
        "npulses": int(len(peaks)),
    }
    return params, polarity


def check_params(params, need=PARAM_KEYS):
    """Integration parameters checked and completed.

    Parameters
    ----------
    params : dict
        ``pulseStart``, ``pulseStop``, ``baseStart``, ``baseStop`` (samples),
        ``period`` (samples between pulses) and ``npulses``.
    need : tuple of str
        The keys that must be present.

    Returns
    -------
    dict
        The parameters as integers.

    Raises
    ------
    ToolBoxValueError
        Not a dict, a key missing, or an empty window (each Stop must exceed its Start).
    """
    if not isinstance(params, dict):
        raise ToolBoxValueError(
            f"integParams must be a dict with keys {PARAM_KEYS}, got {type(params).__name__}"
        )
    lower = {k.lower(): k for k in params}
    out = {}
    for k in need:
        if k in params:
            out[k] = params[k]
        elif k.lower() in lower:  # tolerate 'pulsestop' spelling
            out[k] = params[lower[k.lower()]]
    missing = [k for k in need if k not in out]
    if missing:
        raise ToolBoxValueError(
            f"integParams lacks {missing}; give all of {list(need)} "
            "(sample indices, stops exclusive) or use autoFind=True"
        )
    for k in ("pulseStart", "pulseStop", "baseStart", "baseStop", "period", "npulses"):
        if k in out:
            out[k] = _sample_index(k, out[k], positive=k in ("period", "npulses"))
        elif k.lower() in lower:  # not needed here (the bunch pattern gives it): still sane
            _sample_index(k, params[lower[k.lower()]], positive=k in ("period", "npulses"))
    if out.get("pulseStop", 1) <= out.get("pulseStart", 0) or out.get("baseStop", 1) <= out.get(
        "baseStart", 0
    ):
        raise ToolBoxValueError(
            f"empty integration window in {out}: each Stop must be larger than its Start"
        )
    if "polarity" in params:
        p = params["polarity"]
        out["polarity"] = -1 if p in (-1, "negative", "neg") else 1
    return out


def _sample_index(name, value, positive=False) -> int:
    """A window bound, period or pulse count as an int (as the ToolBox's ``int()``): a
    NaN, an infinity or a text is refused with the key's name."""
    try:
        v = float(value)
        ok = not isinstance(value, (bool, str, bytes)) and bool(np.isfinite(v))
    except (TypeError, ValueError):
        ok = False
    if not ok or (positive and v < 1):
        raise ToolBoxValueError(
            f"integParams[{name!r}] must be a finite number of samples"
            + (" >= 1" if positive else "")
            + f", got {value!r}; pass sample indices (or use autoFind=True)"
        )
    return int(v)


# -- integration -------------------------------------------------------------
def peaks_from_raw_trace(traces, pulseStart, pulseStop, baseStart, baseStop, offsets, polarity=1):
    """Integrated peaks (ntrains, len(offsets)) of traces (ntrains, nsamples),
    one window set per sample offset. Vectorised over trains and pulses.
    """
    traces = np.asarray(traces)
    offsets = np.asarray(offsets, np.int64)
    pw = np.arange(pulseStart, pulseStop)
    bw = np.arange(baseStart, baseStop)
    pidx = offsets[:, None] + pw
    bidx = offsets[:, None] + bw
    lo = min(pidx.min(initial=0), bidx.min(initial=0))
    hi = max(pidx.max(initial=0), bidx.max(initial=0))
    if lo < 0 or hi >= traces.shape[-1]:
        raise ToolBoxValueError(
            f"integration windows span samples {lo}..{hi} but the trace has "
            f"{traces.shape[-1]} samples (pulseStart={pulseStart}, pulseStop={pulseStop}, "
            f"baseStart={baseStart}, baseStop={baseStop}, {len(offsets)} pulses up to offset "
            f"{offsets.max(initial=0)}); pass windows inside the trace (check_peak_params "
            "shows them) or fewer pulses"
        )
    out = np.empty((traces.shape[0], len(offsets)), np.float64)
    if traces.dtype.kind not in "iuf":
        traces = traces.astype(np.float64)
    _kernel()(
        np.ascontiguousarray(traces),
        offsets,
        int(pulseStart),
        int(pulseStop),
        int(baseStart),
        int(baseStop),
        float(polarity),
        out,
    )
    return out


_KERNEL = None
prange = range  # numba.prange once the kernel is compiled


def _kernel():
    """The numba integration kernel, compiled (or loaded from cache) on first
    use so that ``import scs_nb`` does not import numba. Trains are shared
    among the cores (``prange``): the loop is bound by memory latency, one
    window of a long trace after another."""
    global _KERNEL, prange
    if _KERNEL is None:
        import numba

        prange = numba.prange
        _KERNEL = numba.njit(cache=True, nogil=True, fastmath=True, parallel=True)(_integrate)
    return _KERNEL


def _integrate(traces, offsets, ps, pe, bs, be, polarity, out):
    """Window sums of every (train, pulse): reads only the windows."""
    width = pe - ps
    blen = be - bs
    for t in prange(traces.shape[0]):
        for k in range(offsets.shape[0]):
            o = offsets[k]
            s = traces[t, 0] * 0  # integer accumulation for integer traces
            for i in range(ps + o, pe + o):
                s += traces[t, i]
            b = traces[t, 0] * 0
            for i in range(bs + o, be + o):
                b += traces[t, i]
            out[t, k] = polarity * (s - b / blen * width)
