"""ThresholdTuner: pick low/high thresholds on a histogram, get a pulse mask."""

from __future__ import annotations

import numpy as np

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError

from ._base import Tool, as_dataarray, make_figure


class ThresholdTuner(Tool):
    """Histogram of a pulse-resolved quantity (XGM energy by default) with a
    low and a high threshold.

    ``value`` is the threshold tuple ``(low, high)`` as ``create_pulsemask``
    takes it; ``mask`` the boolean DataArray (same shape and coordinates as
    the data) that is True where ``low <= x <= high`` — the semantics of
    ``DSSCBinner.create_pulsemask``. Thresholds are set with the range
    slider, the two text boxes, or by dragging a span on the histogram.

    >>> tuner = ThresholdTuner(xgm)              # doctest: +SKIP
    >>> tuner.set_thresholds(200, 900)           # doctest: +SKIP
    >>> binner.create_pulsemask('xgm', threshold=tuner.value)  # doctest: +SKIP

    Parameters
    ----------
    data : xarray.DataArray or array_like
        The pulse-resolved quantity (e.g. XGM pulse energy in uJ).
    low, high : float, optional
        Initial thresholds, in the unit of ``data`` (default: the data's
        range, slightly padded).
    bins : int, optional
        Number of histogram bins.
    label : str, optional
        Name of the quantity (axis label; default: the data's name).
    log : bool, optional
        Log scale for the counts.
    interactive : bool, optional
        Force live controls or the static figure (default: detected).
    """

    title = "Threshold"

    def __init__(
        self, data, low=None, high=None, bins=100, label=None, log=False, interactive=None
    ):
        super().__init__(interactive)
        import ipywidgets as w  # heavy: only when a widget is created

        self.data = as_dataarray(data, name=label or "data")
        values = np.asarray(self.data.values, dtype=float).ravel()
        self._finite = values[np.isfinite(values)]
        if self._finite.size == 0:
            raise ToolBoxValueError(
                f"{self.data.name or 'data'} holds no finite values to "
                "threshold; check the mnemonic and the run"
            )
        self.label = label or self.data.name or "value"
        vmin, vmax = float(self._finite.min()), float(self._finite.max())
        pad = 0.02 * (vmax - vmin) or 1.0
        self._range = (vmin - pad, vmax + pad)
        self._bins = int(bins)
        low = self._range[0] if low is None else float(low)
        high = self._range[1] if high is None else float(high)
        self.title = f"Threshold on {self.label}"

        step = (self._range[1] - self._range[0]) / 1000
        self.slider = w.FloatRangeSlider(
            value=(max(low, self._range[0]), min(high, self._range[1])),
            min=self._range[0],
            max=self._range[1],
            step=step,
            description="range",
            continuous_update=False,
            readout_format=".4g",
            layout=w.Layout(width="60%"),
        )
        self.low_box = w.FloatText(
            value=low, description="low", layout=w.Layout(width="12em"), continuous_update=False
        )
        self.high_box = w.FloatText(
            value=high, description="high", layout=w.Layout(width="12em"), continuous_update=False
        )
        self.log_box = w.Checkbox(value=bool(log), description="log counts", indent=False)
        self.status = w.HTML()
        for widget, css in (
            (self.low_box, "scs-threshold-low"),
            (self.high_box, "scs-threshold-high"),
            (self.slider, "scs-threshold-range"),
            (self.status, "scs-threshold-status-box"),
        ):
            widget.add_class(css)
        self._low, self._high = low, high
        self._syncing = False

        self.fig, self.ax, self.canvas = make_figure(self.interactive, figsize=(7, 3.2))
        self._plot_histogram()
        self._build_selector()

        self.slider.observe(self.guard(self._on_slider), names="value")
        self.low_box.observe(self.guard(self._on_boxes), names="value")
        self.high_box.observe(self.guard(self._on_boxes), names="value")
        self.log_box.observe(self.guard(lambda change: self._plot_histogram()), names="value")
        self._apply(low, high, notify=False)

    # -- constructors ------------------------------------------------------
    @classmethod
    def from_run(cls, run, mnemonic="SCS_SA3", low=None, high=None, **kwargs):
        """Load ``mnemonic`` (pulse-resolved XGM by default) of ``run`` with
        ``scs_nb.get_xgm`` (or ``scs_nb.get_array`` for other mnemonics).

        Parameters
        ----------
        run : extra_data.DataCollection
            The opened run.
        mnemonic : str, optional
            The quantity to threshold (default 'SCS_SA3', XGM pulse energy in uJ).
        low, high : float, optional
            Initial thresholds, in the unit of the data.
        **kwargs
            Passed to ``ThresholdTuner``.

        Returns
        -------
        ThresholdTuner
            The tuner on the loaded data.
        """
        xgm_like = "XGM" in mnemonic.upper() or mnemonic.endswith(("_SA3", "_SA1"))
        if xgm_like:
            data = tb.get_xgm(run, mnemonic)
            if hasattr(data, "data_vars"):
                data = data[mnemonic]
        else:
            data = tb.get_array(run, mnemonic)
        return cls(data, low=low, high=high, label=mnemonic, **kwargs)

    # -- the result --------------------------------------------------------
    @property
    def value(self):
        """``(low, high)``: the ``threshold`` argument of ``create_pulsemask``."""
        return (self._low, self._high)

    @property
    def threshold(self):
        """Same as ``value``: ``(low, high)``."""
        return self.value

    @property
    def mask(self):
        """Boolean DataArray: True where ``low <= data <= high`` (NaN is False)."""
        m = (self.data >= self._low) & (self.data <= self._high)
        m.name = "pulsemask"
        m.attrs = {"threshold": [self._low, self._high], "source": str(self.label)}
        return m

    @property
    def nselected(self) -> int:
        """Number of values (pulses) inside the thresholds."""
        return int(self.mask.sum())

    def apply_to(self, binner, use_data="xgm"):
        """Set the same mask on a DSSC binner (``binner.create_pulsemask``).

        Parameters
        ----------
        binner : DSSCBinner
            The binner whose pulse mask is set.
        use_data : str, optional
            The binner's data the thresholds apply to (default 'xgm').

        Returns
        -------
        object
            What ``binner.create_pulsemask`` returns.
        """
        return binner.create_pulsemask(use_data, threshold=self.value)

    def set_thresholds(self, low=None, high=None):
        """Set thresholds from Python (as the controls would).

        Parameters
        ----------
        low, high : float, optional
            New thresholds, in the unit of the data (None keeps the current
            one; swapped when ``high < low``).
        """
        low = self._low if low is None else float(low)
        high = self._high if high is None else float(high)
        self._apply(low, high)

    def summary(self):
        """The thresholds and how many pulses they select.

        Returns
        -------
        str
            One line.
        """
        n, total = self.nselected, int(np.isfinite(np.asarray(self.data, float)).sum())
        return (
            f"threshold on {self.label}: low={self._low:.6g}, high={self._high:.6g}; "
            f"{n} of {total} pulses selected"
        )

    # -- internals ---------------------------------------------------------
    def _control_rows(self):
        import ipywidgets as w  # heavy: only when a widget is shown

        return [w.HBox([self.low_box, self.high_box, self.log_box]), self.slider, self.status]

    def _plot_histogram(self):
        ax = self.ax
        ax.clear()
        self.counts, self.edges = np.histogram(self._finite, bins=self._bins, range=self._range)
        ax.stairs(self.counts, self.edges, fill=True, color="0.7", label="all")
        self._sel_stairs = None
        self._lines = (ax.axvline(self._low, color="C3"), ax.axvline(self._high, color="C3"))
        ax.set_xlabel(tb.axis_label(str(self.label)))
        ax.set_ylabel("count")
        if self.log_box.value:
            ax.set_yscale("log")
        ax.set_xlim(*self._range)
        self._text = ax.text(0.01, 0.97, "", transform=ax.transAxes, va="top", fontsize=9)
        if hasattr(self, "span"):
            self.span.disconnect_events()
            self._build_selector()
        if hasattr(self, "_low"):
            self._update_plot()

    def _build_selector(self):
        from matplotlib.widgets import SpanSelector  # heavy: only when a widget draws

        self.span = SpanSelector(
            self.ax,
            self.guard(self._on_span),
            "horizontal",
            useblit=False,
            interactive=True,
            drag_from_anywhere=True,
            props=dict(alpha=0.15, facecolor="C3"),
        )

    def _on_span(self, vmin, vmax):
        if vmax <= vmin:
            return
        self._apply(vmin, vmax)

    def _on_slider(self, change):
        if not self._syncing:
            self._apply(*change["new"])

    def _on_boxes(self, change):
        if not self._syncing:
            self._apply(self.low_box.value, self.high_box.value)

    def _apply(self, low, high, notify=True):
        low, high = float(low), float(high)
        if high < low:
            low, high = high, low
        self._low, self._high = low, high
        self._syncing = True
        try:
            self.low_box.value = low
            self.high_box.value = high
            self.slider.value = (
                min(max(low, self.slider.min), self.slider.max),
                max(min(high, self.slider.max), self.slider.min),
            )
            lo, hi = max(low, self._range[0]), min(high, self._range[1])
            if hi > lo:
                self.span.extents = (lo, hi)
        finally:
            self._syncing = False
        self._update_plot()
        if notify:
            self._notify()

    def _update_plot(self):
        total = self._finite.size
        n = int(((self._finite >= self._low) & (self._finite <= self._high)).sum())
        keep = (self.edges[:-1] >= self._low) & (self.edges[1:] <= self._high)
        sel = np.where(keep, self.counts, 0)
        if self._sel_stairs is not None:
            self._sel_stairs.remove()
        self._sel_stairs = self.ax.stairs(sel, self.edges, fill=True, color="C0", label="selected")
        self.selected_counts = sel
        for line, x in zip(self._lines, (self._low, self._high)):
            line.set_xdata([x, x])
        text = f"{n} of {total} selected ({100 * n / total:.1f} %)"
        self._text.set_text(text)
        self.status.value = (
            f"<span class='scs-threshold-status'>{n} of {total} pulses "
            f"selected ({100 * n / total:.1f} %)</span>"
        )
        self._draw()
