"""ScanExplorer: a signal binned against one or two scan variables."""

from __future__ import annotations

import numpy as np
import xarray as xr

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError
from scs_nb.pulses.digitizer_channels import peaks_name

from ._base import Tool, make_figure

NONE = "(none)"
NORM_MODES = ("per shot", "ratio of sums")


def auto_bin_width(x) -> float:
    """A step scan's step (smallest gap between its distinct set points), or
    1/50 of the range for a continuous scan.

    Parameters
    ----------
    x : array_like
        Values of the scan variable (non-finite values are ignored).

    Returns
    -------
    float
        Bin width, in the unit of ``x``; 1.0 when ``x`` has no spread.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 1.0
    span = float(x.max() - x.min())
    if span == 0:
        return 1.0
    levels = np.unique(np.round(x / (span * 1e-4)) * span * 1e-4)
    if levels.size <= 200:
        gaps = np.diff(levels)
        gaps = gaps[gaps > span * 1e-3]
        if gaps.size:
            return float(gaps.min())
    return span / 50


def _centres(v, width, origin=None):
    """Bin centres of ``v``: ``origin + round((v - origin) / width) * width``, the
    origin being the lowest value unless given, so a step scan whose set points
    are not multiples of its step still gets one bin per set point."""
    o = float(np.min(v)) if origin is None else float(origin)
    return o + np.round((v - o) / width) * width


def bin_scan(signal, x, width, norm=None, mode="per shot", y=None, width_y=None):
    """Mean of ``signal`` (optionally normalised by ``norm``) in bins of ``x``
    (and ``y``). All inputs are broadcast against each other first, so a
    per-pulse signal can be binned against a per-train scan variable.

    Returns an xarray Dataset with ``signal`` (the mean), ``error`` (standard
    error of the mean), ``counts``; dims ``<x name>`` (and ``<y name>``) with
    bin centres ``x0 + round((x - x0) / width) * width``, ``x0`` the lowest x.

    Parameters
    ----------
    signal : xarray.DataArray
        The signal to average.
    x : xarray.DataArray
        The scan variable; its name names the first dimension.
    width : float
        Bin width along ``x``, in the unit of ``x`` (> 0).
    norm : xarray.DataArray, optional
        Normaliser (e.g. XGM pulse energy).
    mode : {'per shot', 'ratio of sums'}, optional
        With ``norm``: mean of ``signal / norm`` per shot, or
        ``sum(signal) / sum(norm)`` per bin.
    y : xarray.DataArray, optional
        Second scan variable, for a 2D map.
    width_y : float, optional
        Bin width along ``y``, in the unit of ``y`` (> 0; required with ``y``).

    Returns
    -------
    xarray.Dataset
        ``signal``, ``error`` and ``counts`` per bin; attrs ``signal``,
        ``norm``, ``mode``, ``bin_width`` (and ``bin_width_y``).
    """
    if width is None or not width > 0:
        raise ToolBoxValueError(f"bin width must be > 0, got {width!r}")
    if y is not None and (width_y is None or not width_y > 0):
        raise ToolBoxValueError(f"bin width of {y.name!r} must be > 0, got {width_y!r}")
    arrays = [a for a in (signal, x, norm, y) if a is not None]
    arrays = xr.broadcast(*arrays)
    sig, xs = arrays[0], arrays[1]
    nrm = arrays[2] if norm is not None else None
    ys = arrays[-1] if y is not None else None
    xname = str(x.name or "x")
    flat = {"s": sig.values.ravel().astype(float), "x": xs.values.ravel().astype(float)}
    if nrm is not None:
        flat["n"] = nrm.values.ravel().astype(float)
    if ys is not None:
        flat["y"] = ys.values.ravel().astype(float)
    ok = np.ones(flat["s"].size, bool)
    for v in flat.values():
        ok &= np.isfinite(v)
    flat = {k: v[ok] for k, v in flat.items()}
    if ok.sum() == 0:
        raise ToolBoxValueError("no finite (signal, scan) pairs to bin; check the data")
    keys = [_centres(flat["x"], width)]
    names = [xname]
    if ys is not None:
        keys.append(_centres(flat["y"], width_y))
        names.append(str(y.name or "y"))
    centres = [np.unique(k) for k in keys]
    index = [np.searchsorted(c, k) for c, k in zip(centres, keys)]
    shape = tuple(c.size for c in centres)
    lin = np.ravel_multi_index(index, shape)
    nbins = int(np.prod(shape))
    counts = np.bincount(lin, minlength=nbins).astype(float)
    s = flat["s"]
    with np.errstate(invalid="ignore", divide="ignore"):
        if nrm is not None and mode == "ratio of sums":
            ssum = np.bincount(lin, s, nbins)
            nsum = np.bincount(lin, flat["n"], nbins)
            mean = ssum / nsum
            # error of a ratio of sums, from the per-shot ratio's scatter
            r = s / flat["n"]
            rvar = (
                np.bincount(lin, r * r, nbins) / counts
                - (np.bincount(lin, r, nbins) / counts) ** 2
            )
            err = np.sqrt(np.maximum(rvar, 0) / counts)
        else:
            if nrm is not None:
                s = s / flat["n"]
            mean = np.bincount(lin, s, nbins) / counts
            var = np.bincount(lin, s * s, nbins) / counts - mean**2
            err = np.sqrt(np.maximum(var, 0) / counts)
    coords = {n: c for n, c in zip(names, centres)}
    ds = xr.Dataset(
        {
            "signal": (names, mean.reshape(shape)),
            "error": (names, err.reshape(shape)),
            "counts": (names, counts.reshape(shape)),
        },
        coords=coords,
    )
    ds.attrs.update(
        signal=str(signal.name),
        norm=str(norm.name) if norm is not None else "",
        mode=mode if norm is not None else "",
        bin_width=float(width),
    )
    if ys is not None:
        ds.attrs["bin_width_y"] = float(width_y)
    return ds


class ScanExplorer(Tool):
    """A signal binned against a scan variable (delay, photon energy, ...),
    with bin width and normalisation controls; a second scan variable gives a
    2D map.

    ``data`` is an xarray Dataset (e.g. from ``scs_nb.load``); ``signal``,
    ``scan`` (and ``scan2``, ``norm``) name its variables or coordinates.
    ``value`` is the binned Dataset (``signal``, ``error``, ``counts``);
    ``params`` the choices as a dict.

    Parameters
    ----------
    data : xarray.Dataset or xarray.DataArray
        The loaded data (a DataArray becomes a one-variable Dataset).
    signal, scan : str
        Names of the signal and of the scan variable.
    norm, scan2 : str, optional
        Names of a normaliser and of a second scan variable (2D map).
    bin_width, bin_width2 : float, optional
        Bin widths in the units of ``scan`` and ``scan2`` (default:
        ``auto_bin_width``).
    mode : {'per shot', 'ratio of sums'}, optional
        Normalisation mode (see ``bin_scan``).
    interactive : bool, optional
        Force live controls or the static figure (default: detected).
    """

    title = "Scan"

    def __init__(
        self,
        data,
        signal,
        scan,
        norm=None,
        scan2=None,
        bin_width=None,
        bin_width2=None,
        mode="per shot",
        interactive=None,
    ):
        super().__init__(interactive)
        import ipywidgets as w  # heavy: only when a widget is created

        if isinstance(data, xr.DataArray):
            data = data.to_dataset(name=data.name or "signal")
        self.data = data
        names = sorted(set(data.data_vars) | {c for c in data.coords if c != "trainId"})
        for what, name in (("signal", signal), ("scan", scan), ("norm", norm), ("scan2", scan2)):
            if name is not None and name not in names:
                raise ToolBoxValueError(
                    f"{what} {name!r} is not in the data; variables: {', '.join(names)}"
                )
        lay = w.Layout(width="18em")
        self.signal_dd = w.Dropdown(options=names, value=signal, description="signal", layout=lay)
        self.scan_dd = w.Dropdown(options=names, value=scan, description="scan", layout=lay)
        self.norm_dd = w.Dropdown(
            options=[NONE] + names, value=norm or NONE, description="normalise", layout=lay
        )
        self.mode_dd = w.Dropdown(
            options=NORM_MODES, value=mode, description="norm mode", layout=lay
        )
        self.scan2_dd = w.Dropdown(
            options=[NONE] + names, value=scan2 or NONE, description="scan 2", layout=lay
        )
        self.width_box = w.BoundedFloatText(
            value=1.0,
            min=0,
            max=1e12,
            description="bin width",
            layout=w.Layout(width="14em"),
            continuous_update=False,
        )
        self.width2_box = w.BoundedFloatText(
            value=1.0,
            min=0,
            max=1e12,
            description="bin width 2",
            layout=w.Layout(width="14em"),
            continuous_update=False,
        )
        self.status = w.HTML()
        self._result = None
        self._syncing = False
        self.width_box.value = float(bin_width or auto_bin_width(self._var(scan)))
        if scan2:
            self.width2_box.value = float(bin_width2 or auto_bin_width(self._var(scan2)))
        self.fig, self.ax, self.canvas = make_figure(self.interactive, figsize=(7, 4))
        self._cbar = None
        for widget in (
            self.signal_dd,
            self.norm_dd,
            self.mode_dd,
            self.width_box,
            self.width2_box,
        ):
            widget.observe(self.guard(self._on_change), names="value")
        self.scan_dd.observe(self.guard(self._on_scan), names="value")
        self.scan2_dd.observe(self.guard(self._on_scan), names="value")
        self._update(notify=False)

    # -- constructors ------------------------------------------------------
    @classmethod
    def from_run(cls, run, signal, scan, norm=None, scan2=None, **kwargs):
        """Load the mnemonics with ``scs_nb.load`` (pulse-resolved ones
        aligned on the bunch pattern) and explore them.

        Parameters
        ----------
        run : extra_data.DataCollection
            The opened run.
        signal, scan : str
            Mnemonics of the signal and of the scan variable.
        norm, scan2 : str, optional
            Mnemonics of a normaliser and of a second scan variable.
        **kwargs
            Passed to ``ScanExplorer``.

        Returns
        -------
        ScanExplorer
            The explorer on the loaded Dataset.
        """
        fields = [f for f in (signal, scan, norm, scan2) if f]
        _, ds = tb.load(run, fields=fields)
        names = [_loaded_name(ds, f) if f else None for f in (signal, scan, norm, scan2)]
        return cls(ds, names[0], names[1], norm=names[2], scan2=names[3], **kwargs)

    # -- the result --------------------------------------------------------
    @property
    def value(self):
        """The binned Dataset: ``signal`` (mean), ``error`` (s.e.m.), ``counts``."""
        return self._result

    @property
    def params(self) -> dict:
        """The choices: signal, scan, norm, mode, bin_width (and scan2, bin_width2)."""
        norm = None if self.norm_dd.value == NONE else self.norm_dd.value
        scan2 = None if self.scan2_dd.value == NONE else self.scan2_dd.value
        out = {
            "signal": self.signal_dd.value,
            "scan": self.scan_dd.value,
            "norm": norm,
            "mode": self.mode_dd.value if norm else None,
            "bin_width": float(self.width_box.value),
        }
        if scan2:
            out.update(scan2=scan2, bin_width2=float(self.width2_box.value))
        return out

    def set(self, **params):
        """Set controls from Python: signal, scan, norm, mode, scan2,
        bin_width, bin_width2 (one update at the end).

        Parameters
        ----------
        **params
            New values by name; an unknown name or variable raises
            ToolBoxValueError. ``norm=None`` or ``scan2=None`` clears them.
        """
        boxes = {
            "signal": self.signal_dd,
            "scan": self.scan_dd,
            "norm": self.norm_dd,
            "mode": self.mode_dd,
            "scan2": self.scan2_dd,
            "bin_width": self.width_box,
            "bin_width2": self.width2_box,
        }
        unknown = set(params) - set(boxes)
        if unknown:
            raise ToolBoxValueError(
                f"unknown parameters {sorted(unknown)}; known: {', '.join(boxes)}"
            )
        for k in ("signal", "scan", "norm", "scan2"):
            v = params.get(k)
            if v is not None and v not in self.signal_dd.options:
                raise ToolBoxValueError(
                    f"{k} {v!r} is not in the data; variables: {', '.join(self.signal_dd.options)}"
                )
        self._syncing = True
        try:
            for k, v in params.items():
                boxes[k].value = NONE if v is None and k in ("norm", "scan2") else v
        finally:
            self._syncing = False
        self._update()

    def summary(self):
        """The choices and the number of bins per dimension.

        Returns
        -------
        str
            Two lines.
        """
        r = self._result
        dims = ", ".join(f"{d}: {n} bins" for d, n in r.sizes.items()) if r is not None else ""
        p = self.params
        what = p["signal"] + (f" / {p['norm']}" if p.get("norm") else "")
        scans = [(p["scan"], p.get("bin_width"))]
        if p.get("scan2"):
            scans.append((p["scan2"], p.get("bin_width2")))
        against = " and ".join(
            f"{s} (bin width {w:.4g}{' ' + tb.unit_of(s) if tb.unit_of(s) else ''})"
            if isinstance(w, (int, float))
            else s
            for s, w in scans
        )
        mode = f" ({p['mode']})" if p.get("mode") else ""
        return f"ScanExplorer: {what}{mode} against {against}\nresult: {dims}"

    # -- internals ---------------------------------------------------------
    def _control_rows(self):
        import ipywidgets as w  # heavy: only when a widget is shown

        return [
            w.HBox([self.signal_dd, self.norm_dd, self.mode_dd]),
            w.HBox([self.scan_dd, self.width_box]),
            w.HBox([self.scan2_dd, self.width2_box]),
            self.status,
        ]

    def _var(self, name):
        v = self.data[name]
        v.name = name
        return v

    def _on_scan(self, change):
        if self._syncing:
            return
        self._syncing = True
        try:
            self.width_box.value = auto_bin_width(self._var(self.scan_dd.value))
            if self.scan2_dd.value != NONE:
                self.width2_box.value = auto_bin_width(self._var(self.scan2_dd.value))
        finally:
            self._syncing = False
        self._update()

    def _on_change(self, change):
        if not self._syncing:
            self._update()

    def _update(self, notify=True):
        p = self.params
        self._result = bin_scan(
            self._var(p["signal"]),
            self._var(p["scan"]),
            p["bin_width"],
            norm=self._var(p["norm"]) if p["norm"] else None,
            mode=p["mode"] or "per shot",
            y=self._var(p["scan2"]) if p.get("scan2") else None,
            width_y=p.get("bin_width2"),
        )
        self._plot()
        n = int(self._result["counts"].sum())
        self.status.value = f"{n} values in {int((self._result['counts'] > 0).sum())} bins"
        if notify:
            self._notify()

    def _plot(self):
        r, p = self._result, self.params
        ax = self.ax
        if self._cbar is not None:
            self._cbar.remove()
            self._cbar = None
        ax.clear()
        label = p["signal"] + (f" / {p['norm']}" if p["norm"] else "")
        units = [tb.unit_of(p["signal"])] + ([tb.unit_of(p["norm"])] if p["norm"] else [])
        if units[0] and (len(units) == 1 or units[1]):
            label += f" [{' / '.join(units)}]"
        if r["signal"].ndim == 1:
            x = r[p["scan"]].values
            ax.errorbar(x, r["signal"].values, yerr=r["error"].values, fmt="o-", ms=3, capsize=2)
            ax.set_xlabel(tb.axis_label(p["scan"]))
            ax.set_ylabel(label)
        else:
            xs, ys = r[p["scan"]].values, r[p["scan2"]].values
            mesh = ax.pcolormesh(ys, xs, r["signal"].values, shading="nearest")
            ax.set_xlabel(tb.axis_label(p["scan2"]))
            ax.set_ylabel(tb.axis_label(p["scan"]))
            self._cbar = self.fig.colorbar(mesh, ax=ax, label=label)
        self._draw()


def _loaded_name(ds, field):
    """The variable ``load`` made of ``field`` (digitizer 'MCP2apd' and
    'MCP2raw' become 'MCP2peaks', as in the ToolBox)."""
    if field in ds.variables:
        return field
    alt = peaks_name(field)
    return alt if alt in ds.variables else field
