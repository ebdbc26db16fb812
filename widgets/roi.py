"""ROISelector: draw rectangular regions of interest on a detector image."""

from __future__ import annotations

import math
import re

import numpy as np
from extra_data import by_index

from scs_nb.errors import ToolBoxValueError
from scs_nb.facility import DSSC_MODULE_SHAPE, DSSC_NMODULES, dssc_geometry
from scs_nb.reader import lookup

from ._base import Tool, as_dataarray, make_figure


def _pixel_slice(lo, hi, size):
    """Pixels whose centres lie in [lo, hi] (imshow: pixel i spans i-0.5..i+0.5)."""
    a = max(int(math.ceil(lo)), 0)
    b = min(int(math.floor(hi)) + 1, size)
    return a, max(b, a)


class ROISelector(Tool):
    """A detector image with rectangular ROIs drawn with the mouse.

    Drag a rectangle on the image (RectangleSelector), type a name and press
    *add / update*; pick an ROI in the list to edit or delete it. From
    Python: ``add_roi(name, rows=(r0, r1), cols=(c0, c1))`` or set
    ``selector.extents`` and call ``add_roi(name)``.

    ``value`` is the ROI dict that ``scs_nb.load(rois=...)`` takes::

        {mnemonic: {name: {'roi': by_index[r0:r1, c0:c1],
                           'dim': [f'{name}_<dim0>', f'{name}_<dim1>']}}}

    (without the ``mnemonic`` level when no mnemonic was given);
    ``bounds`` the same ROIs as ``{name: {'yl', 'yh', 'xl', 'xh'}}`` (rows y,
    columns x, half-open) as the detector routines (BOZ) take them.

    Parameters
    ----------
    image : xarray.DataArray or array_like
        A 2D image (rows, columns).
    rois : dict, optional
        Initial ROIs ``{name: spec}``, ``spec`` a load-style
        ``{'roi': by_index[...], 'dim': [...]}``, a bounds dict
        ``{'yl', 'yh', 'xl', 'xh'}`` or ``(r0, r1, c0, c1)`` (pixels).
    mnemonic : str, optional
        The camera mnemonic ``value`` is keyed by.
    dims : list of str, optional
        Names of the image's two dimensions (for the ROI dims).
    log : bool, optional
        Log colour scale.
    interactive : bool, optional
        Force live controls or the static figure (default: detected).
    """

    title = "Regions of interest"

    def __init__(self, image, rois=None, mnemonic=None, dims=None, log=False, interactive=None):
        super().__init__(interactive)
        import ipywidgets as w  # heavy: only when a widget is created

        img = as_dataarray(image, name=mnemonic or "image")
        if img.ndim != 2:
            raise ToolBoxValueError(
                f"ROISelector needs a 2D image, got dims {img.dims} with shape {img.shape}; "
                "average over trains/pulses first (e.g. data.mean('trainId')), or use "
                "ROISelector.from_dssc(modules) for a (16, 128, 512) DSSC stack"
            )
        self.image = img
        self.mnemonic = mnemonic
        self.dims = (
            list(dims)
            if dims
            else (["y", "x"] if all(d.startswith("dim_") for d in img.dims) else list(img.dims))
        )
        self.title = f"Regions of interest on {mnemonic or img.name or 'image'}"
        self._rois: dict = {}
        self._pending = None
        self.name_box = w.Text(value="roi1", description="name", layout=w.Layout(width="14em"))
        self.add_btn = w.Button(
            description="add / update",
            icon="plus",
            tooltip="store the drawn rectangle under this name",
        )
        self.roi_list = w.Select(
            options=[], description="ROIs", rows=4, layout=w.Layout(width="22em")
        )
        self.del_btn = w.Button(description="delete", icon="trash")
        self.log_box = w.Checkbox(value=bool(log), description="log scale", indent=False)
        self.status = w.HTML()

        self.fig, self.ax, self.canvas = make_figure(self.interactive, figsize=(6.5, 5.5))
        self._artists = []
        self._draw_image()
        from matplotlib.widgets import RectangleSelector  # heavy: only when a widget draws

        self.selector = RectangleSelector(
            self.ax,
            self.guard(self._on_select),
            useblit=False,
            interactive=True,
            button=[1],
            props=dict(facecolor="none", edgecolor="C3", linewidth=1.5),
        )
        self.add_btn.on_click(self.guard(lambda _b: self.add_roi(self.name_box.value)))
        self.del_btn.on_click(self.guard(lambda _b: self.delete_roi(self.roi_list.value)))
        self.roi_list.observe(self.guard(self._on_pick), names="value")
        self.log_box.observe(self.guard(lambda _c: self._draw_image()), names="value")
        for name, spec in (rois or {}).items():
            self._rois[self._check_name(name)] = self._from_spec(spec)
        self._refresh()

    # -- constructors ------------------------------------------------------
    @classmethod
    def from_dssc(cls, modules, geom=None, **kwargs):
        """Assemble a (16, 128, 512) DSSC module stack with extra_geom (default
        geometry: ``scs_nb.facility.dssc_geometry()``, quadrants at
        ``DSSC_QUAD_POS``); ROIs are in assembled-image pixels.

        Parameters
        ----------
        modules : array_like or xarray.DataArray
            DSSC images per module, shape (16, 128, 512); a shorter stack of
            modules is padded with NaN.
        geom : extra_geom geometry, optional
            The detector geometry (default ``dssc_geometry()``).
        **kwargs
            Passed to ``ROISelector``.

        Returns
        -------
        ROISelector
            The selector on the assembled image, with ``geometry`` and
            ``centre`` attributes.
        """
        arr = np.asarray(getattr(modules, "values", modules), dtype=float)
        full_shape = (DSSC_NMODULES,) + DSSC_MODULE_SHAPE
        if arr.shape[-3:] != full_shape and arr.shape[-2:] == DSSC_MODULE_SHAPE:
            full = np.full(full_shape, np.nan)
            full[: arr.shape[0]] = arr
            arr = full
        if geom is None:
            geom = dssc_geometry()
        img, centre = geom.position_modules(arr)
        sel = cls(img, **kwargs)
        sel.geometry, sel.centre = geom, centre
        return sel

    @classmethod
    def from_run(cls, run, mnemonic, ntrains=20, **kwargs):
        """The average of ``ntrains`` images of a camera mnemonic (e.g. 'fastccd').

        Parameters
        ----------
        run : extra_data.DataCollection
            The opened run.
        mnemonic : str
            A camera mnemonic.
        ntrains : int, optional
            Number of trains, spread over the run, averaged (0 or None: all).
        **kwargs
            Passed to ``ROISelector``.

        Returns
        -------
        ROISelector
            The selector on the average image.
        """
        _, alt = lookup(run, mnemonic)
        kd = run[alt["source"], alt["key"]]
        n = len(kd.train_ids)
        if ntrains and n > ntrains:
            kd = kd.select_trains(by_index[np.unique(np.linspace(0, n - 1, ntrains).astype(int))])
        arr = kd.ndarray().astype(float)
        img = arr.reshape((-1,) + arr.shape[-2:]).mean(axis=0)
        dims = (alt.get("dim") or ["y", "x"])[-2:]
        return cls(img, mnemonic=mnemonic, dims=dims, **kwargs)

    # -- the result --------------------------------------------------------
    @property
    def rois(self) -> dict:
        """``{name: {'roi': by_index[r0:r1, c0:c1], 'dim': [...]}}``."""
        return {
            name: {
                "roi": by_index[r0:r1, c0:c1],
                "dim": [f"{name}_{self.dims[0]}", f"{name}_{self.dims[1]}"],
            }
            for name, (r0, r1, c0, c1) in self._rois.items()
        }

    @property
    def value(self) -> dict:
        """The ROIs as ``load(rois=...)`` takes them, keyed by the mnemonic if given."""
        return {self.mnemonic: self.rois} if self.mnemonic else self.rois

    @property
    def bounds(self) -> dict:
        """``{name: {'yl': r0, 'yh': r1, 'xl': c0, 'xh': c1}}``: rows y, columns x."""
        return {
            name: {"yl": r0, "yh": r1, "xl": c0, "xh": c1}
            for name, (r0, r1, c0, c1) in self._rois.items()
        }

    def roi_means(self) -> dict:
        """Mean of the image in each ROI (NaN outside the detector ignored).

        Returns
        -------
        dict
            ``{name: mean}`` in the image's unit (NaN for an empty ROI).
        """
        img = np.asarray(self.image.values, dtype=float)
        return {
            name: float(np.nanmean(img[r0:r1, c0:c1])) if r1 > r0 and c1 > c0 else float("nan")
            for name, (r0, r1, c0, c1) in self._rois.items()
        }

    def add_roi(self, name, rows=None, cols=None):
        """Store an ROI: from ``rows``/``cols`` (half-open pixel ranges) or
        from the rectangle currently drawn.

        Parameters
        ----------
        name : str
            ROI name (an identifier: it becomes a dimension name); an
            existing ROI of that name is replaced.
        rows, cols : tuple of int, optional
            Half-open pixel ranges ``(start, stop)``; a missing one spans the
            whole image.

        Returns
        -------
        dict
            ``{'roi': by_index[r0:r1, c0:c1], 'dim': [...]}`` of the ROI.
        """
        name = self._check_name(name)
        if rows is not None or cols is not None:
            nr, nc = self.image.shape
            r0, r1 = rows if rows is not None else (0, nr)
            c0, c1 = cols if cols is not None else (0, nc)
            box = (int(r0), int(r1), int(c0), int(c1))
            self._set_extents(box)
        else:
            box = self._pending or self._box_from_extents(self.selector.extents)
        if box[1] <= box[0] or box[3] <= box[2]:
            raise ToolBoxValueError(
                f"ROI {name!r} would be empty (rows {box[0]}:{box[1]}, "
                f"columns {box[2]}:{box[3]}); draw a rectangle first"
            )
        self._rois[name] = box
        self._pending = None
        self._refresh(select=name)
        self._notify()
        return self.rois[name]

    def delete_roi(self, name):
        """Remove an ROI (nothing happens for an unknown name).

        Parameters
        ----------
        name : str
            The ROI's name.
        """
        if name in self._rois:
            del self._rois[name]
            self._refresh()
            self._notify()

    def summary(self):
        """The ROIs as pixel ranges (rows, columns).

        Returns
        -------
        str
            One line.
        """
        if not self._rois:
            return "no ROIs defined"
        return "ROIs (rows, columns): " + "; ".join(
            f"{n}: [{r0}:{r1}, {c0}:{c1}]" for n, (r0, r1, c0, c1) in self._rois.items()
        )

    # -- internals ---------------------------------------------------------
    def _control_rows(self):
        import ipywidgets as w  # heavy: only when a widget is shown

        return [
            w.HBox([self.name_box, self.add_btn, self.log_box]),
            w.HBox([self.roi_list, self.del_btn]),
            self.status,
        ]

    @staticmethod
    def _check_name(name):
        name = str(name).strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ToolBoxValueError(
                f"ROI name {name!r} must be an identifier (letters, digits, "
                "underscore; it becomes a dimension name)"
            )
        return name

    def _from_spec(self, spec):
        """(r0, r1, c0, c1) from a load-style spec or a bounds dict."""
        if isinstance(spec, dict) and "roi" in spec:
            roi = spec["roi"]
            sl = getattr(roi, "value", roi)
            rs, cs = sl
            nr, nc = self.image.shape
            r = rs.indices(nr)
            c = cs.indices(nc)
            return (r[0], r[1], c[0], c[1])
        if isinstance(spec, dict) and {"yl", "yh", "xl", "xh"} <= set(spec):
            return (int(spec["yl"]), int(spec["yh"]), int(spec["xl"]), int(spec["xh"]))
        if isinstance(spec, (tuple, list)) and len(spec) == 4:
            return tuple(int(v) for v in spec)
        raise ToolBoxValueError(
            f"cannot read ROI {spec!r}: give {{'roi': by_index[r0:r1, "
            "c0:c1], 'dim': [...]}}, {'yl','yh','xl','xh'} "
            "or (r0, r1, c0, c1)"
        )

    def _box_from_extents(self, extents):
        xmin, xmax, ymin, ymax = extents
        nr, nc = self.image.shape
        c0, c1 = _pixel_slice(xmin, xmax, nc)
        r0, r1 = _pixel_slice(ymin, ymax, nr)
        return (r0, r1, c0, c1)

    def _set_extents(self, box):
        r0, r1, c0, c1 = box
        self.selector.extents = (c0 - 0.5, c1 - 0.5, r0 - 0.5, r1 - 0.5)

    def _on_select(self, eclick, erelease):
        self._pending = self._box_from_extents(self.selector.extents)
        r0, r1, c0, c1 = self._pending
        self.status.value = (
            f"drawn: rows {r0}:{r1}, columns {c0}:{c1} &mdash; name it and "
            "press <i>add / update</i>"
        )

    def _on_pick(self, change):
        name = change["new"]
        if name in self._rois:
            self.name_box.value = name
            self._set_extents(self._rois[name])

    def _draw_image(self):
        from matplotlib.colors import LogNorm, Normalize  # heavy: only when a widget draws

        img = np.asarray(self.image.values, dtype=float)
        finite = img[np.isfinite(img)]
        if self.log_box.value:
            pos = finite[finite > 0]
            lo, hi = np.percentile(pos, [1, 99.8]) if pos.size else (1, 10)
            norm = LogNorm(vmin=max(lo, 1e-12), vmax=max(hi, lo * 10))
        else:
            lo, hi = np.percentile(finite, [1, 99.8]) if finite.size else (0, 1)
            norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
        if getattr(self, "_im", None) is None:
            self._im = self.ax.imshow(img, norm=norm, cmap="viridis", interpolation="nearest")
            self.ax.set_xlabel(f"{self.dims[1]} (pixel)")
            self.ax.set_ylabel(f"{self.dims[0]} (pixel)")
        else:
            self._im.set_norm(norm)
        self._draw()

    def _refresh(self, select=None):
        from matplotlib.patches import Rectangle  # heavy: only when a widget draws

        for a in self._artists:
            a.remove()
        self._artists = []
        for i, (name, (r0, r1, c0, c1)) in enumerate(self._rois.items()):
            color = f"C{(i + 1) % 10}"
            rect = Rectangle(
                (c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, edgecolor=color, linewidth=1.2
            )
            self.ax.add_patch(rect)
            txt = self.ax.text(c0 - 0.5, r0 - 0.5, name, color=color, va="bottom", fontsize=9)
            self._artists += [rect, txt]
        names = list(self._rois)
        self.roi_list.options = names
        if select in names:
            self.roi_list.value = select
        self.status.value = self.summary()
        self._draw()
