"""PeakWindowTuner: pulse and baseline windows on an average digitizer trace."""

from __future__ import annotations

import numpy as np

from scs_nb.errors import ToolBoxValueError
from scs_nb.pulses.digitizer_channels import SAMPLES_PER_SLOT, get_dig_avg_trace
from scs_nb.pulses.peak_integration import find_integ_params

from ._base import Tool, as_dataarray, make_figure

KEYS = ("pulseStart", "pulseStop", "baseStart", "baseStop", "period", "npulses")


def guess_integ_params(trace) -> dict:
    """Rough integration parameters from an average trace: pulses are the
    excursions beyond half the largest deviation from the median.

    Parameters
    ----------
    trace : array_like
        One average digitizer trace (1D, samples).

    Returns
    -------
    dict
        ``integParams``: pulseStart, pulseStop, baseStart, baseStop, period,
        npulses (samples, except npulses).
    """
    y = np.asarray(trace, dtype=float)
    n = y.size
    dev = y - np.median(y)
    sign = 1.0 if dev.max() >= -dev.min() else -1.0
    dev = sign * dev
    above = dev > 0.5 * dev.max()
    edges = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    if above[0]:
        edges = np.r_[0, edges]
    ends = np.flatnonzero(~above[1:] & above[:-1]) + 1
    if edges.size == 0:
        return {
            "pulseStart": 0,
            "pulseStop": max(n // 10, 1),
            "baseStart": 0,
            "baseStop": 0,
            "period": n,
            "npulses": 1,
        }
    period = int(np.median(np.diff(edges))) if edges.size > 1 else n
    # widen the first pulse to where it rises above 5 % of the largest deviation
    low = dev > 0.05 * dev.max()
    start = int(edges[0])
    while start > 0 and low[start - 1]:
        start -= 1
    stop = int(ends[ends > edges[0]][0]) if np.any(ends > edges[0]) else n
    while stop < n and low[stop]:
        stop += 1
    margin = max((stop - start) // 8, 1)
    start, stop = max(start - margin, 0), min(stop + margin, n)
    blen = max(min(stop - start, start), 0)
    base_stop = start
    base_start = max(base_stop - blen, 0)
    return {
        "pulseStart": start,
        "pulseStop": stop,
        "baseStart": base_start,
        "baseStop": base_stop,
        "period": max(period, 1),
        "npulses": int(edges.size),
    }


def polarity_of(trace) -> int:
    """-1 for negative-going pulses (MCP), +1 for positive ones (photodiodes).

    Parameters
    ----------
    trace : array_like
        One average digitizer trace (1D).

    Returns
    -------
    int
        -1 or +1: the sign of the largest deviation from the median.
    """
    y = np.asarray(trace, dtype=float)
    dev = y - np.median(y)
    return -1 if -dev.min() > dev.max() else 1


def auto_params(trace, kind=None) -> dict:
    """Integration parameters found on the average trace: the pulses area's
    ``find_integ_params`` (with the digitizer's samples per slot), or a simple
    threshold guess where it finds no clear pulse.

    Parameters
    ----------
    trace : array_like
        One average digitizer trace (1D, samples).
    kind : str, optional
        The digitizer kind (a key of ``SAMPLES_PER_SLOT``), for the pulse period.

    Returns
    -------
    dict
        ``integParams``: pulseStart, pulseStop, baseStart, baseStop, period,
        npulses (samples, except npulses).
    """
    try:
        params, _ = find_integ_params(np.asarray(trace, dtype=float), SAMPLES_PER_SLOT.get(kind))
        return {k: int(params[k]) for k in KEYS}
    except Exception:  # no clear pulse: fall back to the guess
        return guess_integ_params(trace)


def integrate_trace(trace, params, polarity=1) -> np.ndarray:
    """Pulse integrals of one trace with ``integParams``: ``polarity`` x the
    baseline-subtracted sum over the pulse window (as ``get_peaks``), one per
    pulse; NaN past the trace's end.

    Parameters
    ----------
    trace : array_like
        One digitizer trace (1D, samples).
    params : dict
        ``integParams`` (pulseStart, pulseStop, baseStart, baseStop, period,
        npulses; samples).
    polarity : int, optional
        +1, or -1 for negative-going pulses.

    Returns
    -------
    numpy.ndarray
        One integral per pulse (arbitrary digitizer units x samples).
    """
    y = np.asarray(trace, dtype=float)
    p = {k: int(params[k]) for k in KEYS}
    out = np.full(p["npulses"], np.nan)
    for k in range(p["npulses"]):
        off = k * p["period"]
        a, b = p["pulseStart"] + off, p["pulseStop"] + off
        if b > y.size:
            break
        base = (
            y[p["baseStart"] + off : p["baseStop"] + off].mean()
            if p["baseStop"] > p["baseStart"]
            else 0.0
        )
        out[k] = polarity * (y[a:b] - base).sum()
    return out


class PeakWindowTuner(Tool):
    """An average digitizer trace with the pulse and baseline windows.

    Windows are set with the range sliders, by dragging spans on the trace
    (the toggle chooses which window a drag sets), or from Python with
    ``set_params``. ``period`` and ``npulses`` repeat the windows; the lower
    panel shows the integral of the average trace per pulse, a preview of
    what ``get_peaks(..., integParams=tuner.value)`` extracts.

    ``value`` is the ``integParams`` dict: pulseStart, pulseStop, baseStart,
    baseStop, period, npulses (samples).

    Parameters
    ----------
    trace : xarray.DataArray or array_like
        One average trace (1D); its ``digitizer`` attribute, if any, helps
        the first guess of the windows.
    integParams : dict, optional
        Initial windows (keys of ``integParams``; missing ones are guessed).
    label : str, optional
        Name of the trace (title, axis label).
    polarity : int, optional
        +1 or -1 (default: found on the trace).
    interactive : bool, optional
        Force live controls or the static figure (default: detected).
    """

    title = "Peak integration windows"

    def __init__(self, trace, integParams=None, label=None, polarity=None, interactive=None):
        super().__init__(interactive)
        import ipywidgets as w  # heavy: only when a widget is created

        self.trace = as_dataarray(trace, name=label or "trace")
        if self.trace.ndim != 1:
            raise ToolBoxValueError(
                f"PeakWindowTuner needs one average trace (1D), got dims "
                f"{self.trace.dims}; average over trains first, e.g. "
                "scs_nb.get_dig_avg_trace(run, mnemonic)"
            )
        self.label = label or self.trace.name or "trace"
        self.title = f"Peak integration windows: {self.label}"
        self._y = np.asarray(self.trace.values, dtype=float)
        n = self._y.size
        self.polarity = int(polarity) if polarity else polarity_of(self._y)
        params = dict(auto_params(self._y, self.trace.attrs.get("digitizer")))
        params.update({k: int(v) for k, v in (integParams or {}).items() if k in KEYS})
        self._params = params
        self.pulse_slider = w.IntRangeSlider(
            value=(params["pulseStart"], params["pulseStop"]),
            min=0,
            max=n,
            description="pulse",
            continuous_update=False,
            layout=w.Layout(width="70%"),
        )
        self.base_slider = w.IntRangeSlider(
            value=(params["baseStart"], params["baseStop"]),
            min=0,
            max=n,
            description="baseline",
            continuous_update=False,
            layout=w.Layout(width="70%"),
        )
        self.period_box = w.BoundedIntText(
            value=params["period"],
            min=1,
            max=max(n, 1),
            description="period",
            layout=w.Layout(width="12em"),
        )
        self.npulses_box = w.BoundedIntText(
            value=params["npulses"],
            min=1,
            max=10000,
            description="npulses",
            layout=w.Layout(width="12em"),
        )
        self.drag_mode = w.ToggleButtons(
            options=["pulse", "baseline"],
            value="pulse",
            description="drag sets",
            style={"button_width": "6em"},
        )
        self.status = w.HTML()
        self._syncing = False

        self.fig, (self.ax, self.ax_peaks), self.canvas = make_figure(
            self.interactive, figsize=(8, 4.5), nrows=2
        )
        self._plot_static()
        from matplotlib.widgets import SpanSelector  # heavy: only when a widget draws

        self.pulse_span = SpanSelector(
            self.ax,
            self.guard(self._on_pulse_span),
            "horizontal",
            useblit=False,
            interactive=True,
            props=dict(alpha=0.2, facecolor="C1"),
        )
        self.base_span = SpanSelector(
            self.ax,
            self.guard(self._on_base_span),
            "horizontal",
            useblit=False,
            interactive=True,
            props=dict(alpha=0.2, facecolor="C2"),
        )
        self.base_span.set_active(False)
        for widget in (self.pulse_slider, self.base_slider, self.period_box, self.npulses_box):
            widget.observe(self.guard(self._on_controls), names="value")
        self.drag_mode.observe(self.guard(self._on_mode), names="value")
        self._apply(params, notify=False)

    # -- constructors ------------------------------------------------------
    @classmethod
    def from_run(cls, run, mnemonic, ntrains=200, integParams=None, **kwargs):
        """The average raw trace of ``mnemonic`` (e.g. 'MCP2raw', 'FastADC4raw')
        over ``ntrains`` trains spread over the run (``get_dig_avg_trace``).

        Parameters
        ----------
        run : extra_data.DataCollection
            The opened run.
        mnemonic : str
            A raw digitizer mnemonic.
        ntrains : int, optional
            Number of trains averaged.
        integParams : dict, optional
            Initial windows.
        **kwargs
            Passed to ``PeakWindowTuner``.

        Returns
        -------
        PeakWindowTuner
            The tuner on the average trace.
        """
        trace = get_dig_avg_trace(run, mnemonic, ntrains=ntrains)
        return cls(trace, integParams=integParams, label=mnemonic, **kwargs)

    # -- the result --------------------------------------------------------
    @property
    def value(self) -> dict:
        """``integParams`` for ``get_peaks`` / ``get_digitizer_peaks``."""
        return {k: int(self._params[k]) for k in KEYS}

    integParams = value

    @property
    def preview(self) -> np.ndarray:
        """Integral of the average trace per pulse with the current windows."""
        return integrate_trace(self._y, self._params, self.polarity)

    def set_params(self, **params):
        """Set any of the integParams keys from Python (as the controls would).

        Parameters
        ----------
        **params
            pulseStart, pulseStop, baseStart, baseStop, period, npulses
            (samples); others raise ToolBoxValueError.
        """
        unknown = set(params) - set(KEYS)
        if unknown:
            raise ToolBoxValueError(
                f"unknown integParams {sorted(unknown)}; known: {', '.join(KEYS)}"
            )
        new = dict(self._params)
        new.update({k: int(v) for k, v in params.items()})
        self._apply(new)

    def summary(self):
        """The current ``integParams``.

        Returns
        -------
        str
            One line.
        """
        return "integParams = dict(" + ", ".join(f"{k}={v}" for k, v in self.value.items()) + ")"

    # -- internals ---------------------------------------------------------
    def _control_rows(self):
        import ipywidgets as w  # heavy: only when a widget is shown

        return [
            self.pulse_slider,
            self.base_slider,
            w.HBox([self.period_box, self.npulses_box, self.drag_mode]),
            self.status,
        ]

    def _plot_static(self):
        x = np.arange(self._y.size)
        self.ax.plot(x, self._y, lw=0.8, color="k", label=str(self.label))
        self.ax.set_xlabel("sample")
        self.ax.set_ylabel("average trace [ADC counts]")
        self._zoom_first_pulse()
        self._patches = []
        (self._peak_line,) = self.ax_peaks.plot([], [], "o-", ms=3, color="C1")
        self.ax_peaks.set_xlabel("pulse index")
        self.ax_peaks.set_ylabel("integral [ADC counts x samples]")

    def _zoom_first_pulse(self):
        """Show the first pulse with its windows (pan/zoom for the others)."""
        p = self._params
        lo = min(
            p["pulseStart"], p["baseStart"] if p["baseStop"] > p["baseStart"] else p["pulseStart"]
        )
        hi = max(p["pulseStop"], p["baseStop"])
        margin = max((hi - lo) // 2, 5)
        self.ax.set_xlim(max(lo - margin, 0), min(hi + margin, self._y.size))
        self.ax.set_title("first pulse (pan/zoom for the others)", fontsize=9)

    def _on_pulse_span(self, vmin, vmax):
        if vmax > vmin:
            self.set_params(pulseStart=int(round(vmin)), pulseStop=int(round(vmax)))

    def _on_base_span(self, vmin, vmax):
        if vmax > vmin:
            self.set_params(baseStart=int(round(vmin)), baseStop=int(round(vmax)))

    def _on_mode(self, change):
        self.pulse_span.set_active(change["new"] == "pulse")
        self.base_span.set_active(change["new"] == "baseline")

    def _on_controls(self, change):
        if self._syncing:
            return
        new = dict(self._params)
        new["pulseStart"], new["pulseStop"] = self.pulse_slider.value
        new["baseStart"], new["baseStop"] = self.base_slider.value
        new["period"], new["npulses"] = self.period_box.value, self.npulses_box.value
        self._apply(new)

    def _check(self, p):
        n = self._y.size
        if not 0 <= p["pulseStart"] < p["pulseStop"] <= n:
            raise ToolBoxValueError(
                f"pulse window {p['pulseStart']}..{p['pulseStop']} must "
                f"satisfy 0 <= pulseStart < pulseStop <= {n}"
            )
        if not 0 <= p["baseStart"] <= p["baseStop"] <= n:
            raise ToolBoxValueError(
                f"baseline window {p['baseStart']}..{p['baseStop']} must "
                f"satisfy 0 <= baseStart <= baseStop <= {n}"
            )
        if p["period"] < 1 or p["npulses"] < 1:
            raise ToolBoxValueError("period and npulses must be at least 1")

    def _apply(self, params, notify=True):
        params = {k: int(params[k]) for k in KEYS}
        self._check(params)
        self._params = params
        self._syncing = True
        try:
            self.pulse_slider.value = (params["pulseStart"], params["pulseStop"])
            self.base_slider.value = (params["baseStart"], params["baseStop"])
            self.period_box.value = params["period"]
            self.npulses_box.value = params["npulses"]
            self.pulse_span.extents = (params["pulseStart"], params["pulseStop"])
            if params["baseStop"] > params["baseStart"]:
                self.base_span.extents = (params["baseStart"], params["baseStop"])
        finally:
            self._syncing = False
        self._update_plot()
        if notify:
            self._notify()

    def _update_plot(self):
        p = self._params
        for patch in self._patches:
            patch.remove()
        self._patches = []
        n = self._y.size
        beyond = 0
        for k in range(p["npulses"]):
            off = k * p["period"]
            if p["pulseStop"] + off > n:
                beyond = p["npulses"] - k
                break
            if k == 0:
                continue  # the first pulse's windows are the span selectors
            self._patches.append(
                self.ax.axvspan(
                    p["pulseStart"] + off, p["pulseStop"] + off, color="C1", alpha=0.12, lw=0
                )
            )
            if p["baseStop"] > p["baseStart"]:
                self._patches.append(
                    self.ax.axvspan(
                        p["baseStart"] + off, p["baseStop"] + off, color="C2", alpha=0.12, lw=0
                    )
                )
        peaks = self.preview
        self._peak_line.set_data(np.arange(peaks.size), peaks)
        self.ax_peaks.relim()
        self.ax_peaks.autoscale_view()
        msg = f"{p['npulses']} pulses every {p['period']} samples"
        if beyond:
            msg += f"; <b style='color:#b00'>{beyond} pulse windows run past the trace</b>"
        self.status.value = msg
        self._draw()
