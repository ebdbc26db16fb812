"""What every widget shares: front-end detection, figures, error output.

A widget is a small Python object holding ipywidgets controls and (most of
the time) a matplotlib figure. With a front end (JupyterLab, Notebook,
Voila) the figure is an interactive ipympl canvas; without one (papermill,
nbconvert, plain Python, tests) it is an Agg figure, and ``display()`` shows
it as a static PNG and prints the widget's value, so a headless run of the
same notebook keeps a record of the parameters used.
"""

from __future__ import annotations

import io
import os
import traceback

import numpy as np
import xarray as xr

from scs_nb.errors import ToolBoxError, ToolBoxTypeError

_ENV = "SCS_NB_INTERACTIVE"


def interactive_available() -> bool:
    """Tell whether widgets will be rendered by a front end.

    Decided in this order:

    1. ``$SCS_NB_INTERACTIVE`` = ``1``/``0`` forces the answer (the batch runner
       and tests may set it);
    2. outside an IPython kernel (plain Python, pytest, IPython terminal): False;
    3. a notebook front end (JupyterLab, Notebook 7) sends cell metadata
       (``cellId``) with each execute request; papermill and nbconvert send
       none: True when there is such metadata;
    4. Voila executes without metadata but sets ``SERVER_SOFTWARE=voila/...``
       in the kernel's environment: True there.

    Returns
    -------
    bool
        True when a front end renders widgets, False for a headless run.
    """
    forced = os.environ.get(_ENV, "").strip().lower()
    if forced in ("1", "true", "yes", "on"):
        return True
    if forced in ("0", "false", "no", "off"):
        return False
    try:
        from IPython import get_ipython  # heavy, and optional here: only to find a front end
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None or getattr(ip, "kernel", None) is None:
        return False
    parent = _parent_message(ip)
    if parent.get("metadata"):
        return True
    return os.environ.get("SERVER_SOFTWARE", "").lower().startswith("voila")


def _parent_message(ip) -> dict:
    """The execute request being handled by the kernel (empty dict if unknown)."""
    kernel = ip.kernel
    try:
        parent = kernel.get_parent("shell")
    except TypeError:  # older ipykernel: no channel argument
        parent = kernel.get_parent()
    except Exception:  # any other kernel flavour
        parent = None
    if not parent:
        parent = {"header": getattr(ip, "parent_header", {}) or {}}
    return parent if isinstance(parent, dict) else {}


def make_figure(interactive: bool, figsize=(7, 3.5), nrows=1, ncols=1, **subplot_kw):
    """A figure that no pyplot state knows about, and its axes.

    Parameters
    ----------
    interactive : bool
        True for an ipympl canvas widget (a front end renders it), False for
        an Agg canvas (static PNG).
    figsize : tuple of float, optional
        Figure size (width, height) in inches.
    nrows, ncols : int, optional
        Grid of subplots.
    **subplot_kw
        Passed to ``Figure.subplots`` as ``subplot_kw``.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure.
    axes : Axes or numpy.ndarray of Axes
        One Axes, or an array of them for a grid (``squeeze=True``).
    canvas_widget : ipympl Canvas or None
        With ``interactive`` the canvas widget to place in a layout, otherwise
        ``None`` (Agg canvas).
    """
    from matplotlib.figure import Figure  # heavy: only when a widget draws

    fig = Figure(figsize=figsize, layout="constrained")
    canvas_widget = None
    if interactive:
        from ipympl.backend_nbagg import Canvas, FigureManager  # heavy: only with a front end

        canvas_widget = Canvas(fig)
        canvas_widget.header_visible = False
        canvas_widget.toolbar_position = "right"
        manager = FigureManager(canvas_widget, 0)
        canvas_widget.manager = manager
    else:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # heavy: only when drawn

        FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=True, subplot_kw=subplot_kw or None)
    return fig, axes, canvas_widget


def figure_png(fig) -> bytes:
    """Render a figure as PNG (what ``display()`` shows without a front end).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to render (at 90 dpi).

    Returns
    -------
    bytes
        The PNG image.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


class Tool:
    """Base class: an ``ipywidgets`` layout, an error area, a value.

    Subclasses build ``self.controls`` (a list of widgets) and implement
    ``value`` and ``_redraw()``. ``display()`` shows the widget, or its
    static figure and value when there is no front end.

    Parameters
    ----------
    interactive : bool, optional
        Force live controls (True) or the static figure (False); by default
        ``interactive_available()`` decides.
    """

    title = ""

    def __init__(self, interactive=None):
        import ipywidgets as w  # heavy: only when a widget is created

        self.interactive = interactive_available() if interactive is None else bool(interactive)
        self.errors = w.Output(layout=w.Layout(max_height="12em", overflow="auto"))
        self.last_error: BaseException | None = None
        self._callbacks = []
        self.fig = None
        self.canvas = None
        self._layout = None

    # -- callbacks ---------------------------------------------------------
    def guard(self, func):
        """Wrap a callback so that an exception is shown in the cell output
        (``self.errors``) instead of disappearing into the kernel log.

        Without a front end the exception is raised again after being shown.

        Parameters
        ----------
        func : callable
            The callback (of a widget event, a button, a selector).

        Returns
        -------
        callable
            The wrapped callback; it returns ``func``'s result, or None after
            an exception.
        """

        def wrapped(*args, **kwargs):
            try:
                result = func(*args, **kwargs)
            except Exception as exc:  # shown to the user
                if self.last_error is not None:
                    self.errors.clear_output()
                self.last_error = exc
                with self.errors:
                    print(f"{type(exc).__name__}: {exc}")
                    if not _is_toolbox_error(exc):
                        traceback.print_exc()
                if not self.interactive:
                    raise
                return None
            if self.last_error is not None:
                self.last_error = None
                self.errors.clear_output()
            return result

        wrapped.__name__ = getattr(func, "__name__", "callback")
        return wrapped

    def observe(self, callback):
        """Call ``callback(self)`` whenever the value changes.

        Parameters
        ----------
        callback : callable
            Called with this tool as its only argument; its exceptions are
            shown in the error area (see ``guard``).

        Returns
        -------
        callable
            ``callback`` itself, so ``observe`` can be used as a decorator.
        """
        self._callbacks.append(callback)
        return callback

    def _notify(self):
        for cb in list(self._callbacks):
            self.guard(cb)(self)

    # -- display -----------------------------------------------------------
    @property
    def value(self):
        """The parameters this tool tunes (defined by each subclass)."""
        raise NotImplementedError

    def _redraw(self):
        pass

    def widget(self):
        """The ipywidgets layout of this tool (built once, then reused).

        Returns
        -------
        ipywidgets.Widget
            The layout: title, controls, canvas and error area.
        """
        if self._layout is None:
            self._layout = self._build_layout()
        return self._layout

    def _build_layout(self):
        import ipywidgets as w  # heavy: only when a widget is shown

        parts = []
        if self.title:
            parts.append(w.HTML(f"<b>{self.title}</b>"))
        parts.extend(self._control_rows())
        if self.canvas is not None:
            parts.append(self.canvas)
        parts.append(self.errors)
        box = w.VBox(parts)
        box.add_class(f"scs-{type(self).__name__.lower()}")
        return box

    def _control_rows(self):
        return []

    def summary(self) -> str:
        """What ``display()`` prints without a front end.

        Returns
        -------
        str
            The tool's name and value.
        """
        return f"{type(self).__name__}.value = {self.value!r}"

    def display(self):
        """Show the interactive widget, or (headless) the static figure and
        the current value."""
        from IPython.display import Image, display  # heavy: only when shown

        if self.interactive:
            display(self.widget())
            return
        if self.fig is not None:
            self._redraw()
            display(Image(data=figure_png(self.fig)))
        print(self.summary())

    def _ipython_display_(self):
        self.display()

    def _draw(self):
        if self.fig is not None:
            self.fig.canvas.draw_idle()


def _is_toolbox_error(exc) -> bool:
    return isinstance(exc, ToolBoxError)


def as_dataarray(data, name="data"):
    """``data`` as an xarray.DataArray (numpy arrays get default dims).

    Parameters
    ----------
    data : xarray.DataArray or array_like
        The data; a Dataset is refused (ToolBoxTypeError): pick one variable.
    name : str, optional
        Name of the DataArray made from an array.

    Returns
    -------
    xarray.DataArray
        ``data`` itself, or the array with dims ``dim_0``, ``dim_1``, ...
    """
    if isinstance(data, xr.DataArray):
        return data
    if isinstance(data, xr.Dataset):
        raise ToolBoxTypeError(
            f"expected one variable (a DataArray), got a Dataset with {list(data.data_vars)}; "
            "pass e.g. ds['SCS_SA3']"
        )
    arr = np.asarray(data)
    return xr.DataArray(arr, dims=[f"dim_{i}" for i in range(arr.ndim)], name=name)
