"""RunTable: the run table of a proposal in Jupyter (``scs_nb.beamtime.table``).

One row per run: metadata, the status of each template the watcher ran, the recorded
results (value, error, unit) with links to the reports, and DAMNIT's variables where a
DAMNIT database exists. Sort by any column, filter rows with a pandas query or text,
plot any column against another or against the run number, select a run to load it
into a :class:`RunPicker` (and so into the explore widgets). It refreshes every
``refresh`` seconds while runs arrive.
"""

from __future__ import annotations

import html
import threading

import numpy as np

from scs_nb.beamtime.table import run_table, units
from scs_nb.errors import ToolBoxValueError
from scs_nb.facility import validate_proposal

from ._base import Tool, make_figure
from .run_picker import RunPicker

__all__ = ["RunTable"]


class RunTable(Tool):
    """The run table of a proposal.

    ``value`` is the selected run number; ``table`` the DataFrame shown (sorted and
    filtered); ``picker`` the :class:`RunPicker` the selected run is loaded into.

    Parameters
    ----------
    proposal : int
        The proposal.
    refresh : float or None
        Seconds between automatic refreshes in a front end (None: only on request).
    picker : RunPicker, optional
        Where a selected run is loaded (default: one made on first selection).
    damnit : bool
        Show DAMNIT's variables where a database exists.
    interactive : bool, optional
        Force live controls or the headless summary.
    """

    title = "Run table"

    def __init__(self, proposal, refresh=10.0, picker=None, damnit=True, interactive=None):
        super().__init__(interactive)
        import ipywidgets as w  # heavy: only when a widget is created

        self.proposal = validate_proposal(proposal)
        self.damnit = damnit
        self.picker = picker
        self._full = None
        self.sort_dd = w.Dropdown(description="sort", layout=w.Layout(width="18em"))
        self.desc_cb = w.Checkbox(description="descending", value=True, indent=False)
        self.filter_txt = w.Text(
            description="filter",
            placeholder="e.g. `explore_run.status == 'failed'` or text",
            layout=w.Layout(width="30em"),
        )
        self.run_dd = w.Dropdown(description="load run", layout=w.Layout(width="14em"))
        self.x_dd = w.Dropdown(description="x", layout=w.Layout(width="18em"))
        self.y_dd = w.Dropdown(description="y", layout=w.Layout(width="18em"))
        self.refresh_btn = w.Button(description="refresh", icon="refresh")
        self.table_html = w.HTML()
        self.table_html.add_class("scs-runtable-rows")
        self.fig, self.ax, self.canvas = make_figure(self.interactive, figsize=(6, 3))
        self.refresh()
        for c in (self.sort_dd, self.desc_cb, self.filter_txt):
            c.observe(self.guard(lambda _c: self._render()), names="value")
        for c in (self.x_dd, self.y_dd):
            c.observe(self.guard(lambda _c: self._redraw()), names="value")
        self.run_dd.observe(self.guard(self._on_run), names="value")
        self.refresh_btn.on_click(self.guard(lambda _b: self.refresh()))
        self._stop = threading.Event()
        if refresh and self.interactive:
            threading.Thread(target=self._loop, args=(float(refresh),), daemon=True).start()

    # -- data ------------------------------------------------------------------
    def refresh(self):
        """Read the table again from disk (new runs, new results, status changes)."""
        self._full = run_table(self.proposal, with_damnit=self.damnit)
        cols = ["run", *self._full.columns]
        numeric = ["run"] + [c for c in self._full.columns if _numeric(self._full[c])]
        _keep(self.sort_dd, cols, "run")
        _keep(self.x_dd, numeric, "run")
        _keep(self.y_dd, numeric, numeric[1] if len(numeric) > 1 else "run")
        runs = [int(r) for r in self._full.index]
        _keep(self.run_dd, [None, *runs], self.run_dd.value)
        self._render()
        self._redraw()
        return self

    def _loop(self, every):
        while not self._stop.wait(every):
            try:
                self.refresh()
            except Exception:  # shown on the next manual refresh; the loop must go on
                pass

    def close(self):
        """Stop the automatic refresh."""
        self._stop.set()

    @property
    def table(self):
        """The rows shown: sorted and filtered (pandas DataFrame, index run)."""
        df = self._full
        if df is None or df.empty:
            return df
        q = self.filter_txt.value.strip()
        if q:
            try:
                df = df.query(q)
            except Exception:  # not a query: plain text anywhere in the row
                mask = df.astype(str).apply(lambda r: r.str.contains(q, regex=False)).any(axis=1)
                df = df[mask]
        key = self.sort_dd.value or "run"
        df = df.sort_index() if key == "run" else df.sort_values(key, na_position="last")
        if self.desc_cb.value:
            df = df.iloc[::-1]
        return df

    @property
    def value(self):
        """The selected run number (None if none)."""
        return self.run_dd.value

    def select(self, run):
        """Load a run into the picker (as choosing it in ``load run`` does).

        Parameters
        ----------
        run : int
            A run of the table.

        Returns
        -------
        RunPicker
        """
        runs = [int(r) for r in self._full.index]
        if int(run) not in runs:
            raise ToolBoxValueError(
                f"run {run} is not in the table of proposal {self.proposal} (runs: "
                f"{', '.join(map(str, runs)) or 'none'}); refresh() after it is written"
            )
        self.run_dd.value = int(run)
        return self.picker

    def _on_run(self, _change):
        run = self.run_dd.value
        if run is None:
            return
        if self.picker is None:
            self.picker = RunPicker(self.proposal, run, rates=False, interactive=self.interactive)
        else:
            self.picker.select(self.proposal, run)
        self._notify()

    def xy(self):
        """The plotted columns as arrays ``(x, y)`` (rows with both values)."""
        df = self.table
        if df is None or df.empty:
            return np.array([]), np.array([])
        full = df.reset_index()
        x = full[self.x_dd.value or "run"].to_numpy(dtype=float, na_value=np.nan)
        y = full[self.y_dd.value or "run"].to_numpy(dtype=float, na_value=np.nan)
        ok = np.isfinite(x) & np.isfinite(y)
        return x[ok], y[ok]

    # -- display -----------------------------------------------------------------
    def _render(self):
        df = self.table
        u = units()
        if df is None or df.empty:
            self.table_html.value = f"<i>proposal {self.proposal}: no runs yet</i>"
            return
        cols = list(df.columns)
        head = "".join(
            f"<th>{html.escape(c)}" + (f" ({html.escape(u[c])})" if c in u else "") + "</th>"
            for c in ["run", *cols]
        )
        rows = []
        for run, row in df.iterrows():
            cells = "".join(f"<td>{_cell(c, row[c])}</td>" for c in cols)
            rows.append(
                f'<tr class="scs-run" data-run="{int(run)}"><td>{int(run)}</td>{cells}</tr>'
            )
        self.table_html.value = (
            '<div style="max-height:24em;overflow:auto"><table class="scs-runtable">'
            f"<tr>{head}</tr>{''.join(rows)}</table></div>"
        )

    def _redraw(self):
        x, y = self.xy()
        self.ax.clear()
        self.ax.plot(x, y, "o")
        u = units()
        xl, yl = self.x_dd.value or "run", self.y_dd.value or "run"
        self.ax.set_xlabel(xl + (f" ({u[xl]})" if xl in u else ""))
        self.ax.set_ylabel(yl + (f" ({u[yl]})" if yl in u else ""))
        self._draw()

    def _control_rows(self):
        import ipywidgets as w  # heavy: only when a widget is shown

        return [
            w.HBox([self.sort_dd, self.desc_cb, self.filter_txt, self.refresh_btn]),
            self.table_html,
            w.HBox([self.run_dd, self.x_dd, self.y_dd]),
        ]

    def summary(self):
        """The table as text (headless display)."""
        df = self.table
        if df is None or df.empty:
            return f"proposal {self.proposal}: no runs yet"
        return df.to_string()


def _numeric(series) -> bool:
    try:
        vals = series.dropna().astype(float)
    except (TypeError, ValueError):
        return False
    return len(vals) > 0


def _keep(dd, options, value):
    opts = list(dict.fromkeys(options))
    dd.options = opts
    dd.value = value if value in opts else (opts[0] if opts else None)


def _cell(col, value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    if col.endswith(".report"):
        return f'<a href="file://{html.escape(text)}" target="_blank">report</a>'
    if col.endswith(".status"):
        color = {"failed": "#b00", "done": "#070", "running": "#05a"}.get(text, "#555")
        return f'<span style="color:{color}">{html.escape(text)}</span>'
    return html.escape(text)
