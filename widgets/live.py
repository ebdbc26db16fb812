"""LiveView: the panels a scientist looks at while a run is recorded.

Data come from a karabo-bridge endpoint through ``scs_nb.live.Stream`` and are
analysed by the same functions as a run (``get_xgm``, ``get_peaks``,
``LiveBinner``). With a front end a background thread refreshes the figure
(start / pause / reset buttons); headless (papermill) ``run(duration)``
receives for that many seconds and leaves a static figure.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from scs_nb.detectors.dssc.binning import LiveBinner
from scs_nb.detectors.dssc.binning.run import bin_labels, xaxis_from
from scs_nb.detectors.dssc.plot import assemble
from scs_nb.errors import ToolBoxValueError
from scs_nb.facility import dssc_geometry
from scs_nb.live import Stream
from scs_nb.pulses import get_tim_peaks, get_xgm
from scs_nb.pulses.digitizer_channels import peaks_name
from scs_nb.reader.summary import unit_of

from ._base import Tool, make_figure

__all__ = ["LiveView"]


class LiveView(Tool):
    """Live panels of a karabo-bridge endpoint during a run.

    Panels: XGM pulse energy per pulse (last train and mean) and its rolling
    trend per train; TIM/MCP integral against the XGM; the signal (MCP / XGM,
    or the DSSC with ``dssc_modules``) binned against the scan variable as the
    scan proceeds; the DSSC image (modules assembled); the hRIXS spectrum
    accumulating where the endpoint sends the hRIXS camera.

    Parameters
    ----------
    endpoint : str
        Bridge address, e.g. ``'tcp://127.0.0.1:45000'`` (``scs-nb live-replay``).
    xgm : str
        XGM mnemonic (pulse-resolved), e.g. 'SCS_SA3'.
    tim : str or None
        Digitizer mnemonic of the TIM/MCP (raw traces are integrated with windows
        found once), e.g. 'MCP2raw'; shown where the endpoint sends it.
    scan : str
        Scan variable: 'delay' (ps, from PP800_DelayLine and the BAM), 'nrj' or
        another slow mnemonic; shown where the endpoint sends it.
    bin_width : float
        Bin width of the scan variable.
    dssc_modules : list of int, optional
        DSSC modules to show and bin (``LiveBinner``); None: no DSSC panel.
    dark : optional
        DSSC dark (``LiveBinner``).
    hrixs : str or None
        hRIXS camera mnemonic; its spectrum (image summed over the
        non-dispersive axis) accumulates where the endpoint sends it.
    max_trains : int
        Trains held for the per-pulse panels.
    trend_trains : int
        Trains in the rolling trend.
    interval : float
        Seconds between refreshes (0.4 s: 2.5 Hz).
    sock, timeout : as ``Stream``
    interactive : bool, optional
        Force the front-end (True) or headless (False) mode.

    Attributes
    ----------
    stream : scs_nb.live.Stream
    binner : LiveBinner or None
    refreshes : int
        Refreshes done; ``refresh_rate`` their rate (Hz).

    Examples
    --------
    >>> view = LiveView('tcp://127.0.0.1:45000', tim='MCP2raw')
    >>> view.display()        # live, with start / pause / reset
    >>> view.run(30)          # headless: 30 s, then a static figure
    """

    title = "Live view"

    def __init__(
        self,
        endpoint,
        xgm="SCS_SA3",
        tim="MCP2raw",
        scan="delay",
        bin_width=0.1,
        dssc_modules=None,
        dark=None,
        hrixs="hRIXS_det",
        max_trains=200,
        trend_trains=2000,
        interval=0.4,
        sock="REQ",
        timeout=5.0,
        interactive=None,
        bam="BAM1932M",
    ):
        super().__init__(interactive)
        if not float(interval) > 0:
            raise ToolBoxValueError(f"interval must be > 0 seconds, got {interval!r}")
        self.xgm, self.tim, self.scan, self.hrixs = xgm, tim, scan, hrixs
        self.bam = bam
        self.bin_width = float(bin_width)
        bin_labels([0.0], self.bin_width)
        self.interval = float(interval)
        self.binner = None
        frames = None
        fields = [xgm]
        if dssc_modules is not None:
            self.binner = LiveBinner(
                dssc_modules, xaxis=scan, bin_width=bin_width, dark=dark, bam=bam
            )
            fields += [f for f in self.binner.fields if f not in fields]
            frames = self.binner.frames
        optional = [tim] if tim else []
        optional += ["PP800_DelayLine", bam] if scan == "delay" else [scan]
        optional += [hrixs] if hrixs else []
        optional = [f for f in dict.fromkeys(optional) if f and f not in fields]
        self.stream = Stream(
            endpoint,
            fields,
            max_trains=max_trains,
            timeout=timeout,
            sock=sock,
            frames=frames,
            optional=optional,
            start=False,
        )
        self.trend = deque(maxlen=int(trend_trains))  # (train id, XGM sum per train)
        self._bins = {}  # scan bin -> [sum of MCP/XGM, count]
        self._spectrum = None
        self._last_seen = None
        self.refreshes = 0
        self._t_refresh = deque(maxlen=20)
        self._thread = None
        self._paused = threading.Event()
        self._quit = threading.Event()
        self._build_figure()
        self._status = None

    # -- data ------------------------------------------------------------------
    def refresh(self):
        """Analyse the trains received since the last refresh and update the panels.

        Returns
        -------
        bool
            Whether there was something new.
        """
        s = self.stream
        tids = s.train_ids
        if not len(tids) or (self._last_seen is not None and tids[-1] == self._last_seen):
            self._show_status()
            return False
        ds = s.dataset()
        new = tids > (self._last_seen if self._last_seen is not None else 0)
        new_ids = tids[new]
        self._last_seen = int(tids[-1])
        xgm = get_xgm(ds, self.xgm)[self.xgm]
        pdim = [d for d in xgm.dims if d != "trainId"][0]
        xv = xgm.values
        for t, v in zip(new_ids, np.nansum(xv[new], axis=1)):
            self.trend.append((int(t), float(v)))
        tim = None
        if self.tim and peaks_name(self.tim) in ds or (self.tim and self.tim in ds):
            tim = get_tim_peaks(ds, self.tim)[peaks_name(self.tim)]
        x = self._scan_values(s, new_ids)
        if x is not None and tim is not None and not self.binner:
            ratio = np.nanmean(
                tim.sel(trainId=new_ids).values / xgm.sel(trainId=new_ids).values, axis=1
            )
            for lab, r in zip(bin_labels(x, self.bin_width), ratio):
                if np.isfinite(lab) and np.isfinite(r):
                    acc = self._bins.setdefault(float(lab), [0.0, 0])
                    acc[0] += r
                    acc[1] += 1
        if self.binner is not None:
            self.binner.update(s)
        if self.hrixs and self.hrixs in ds:
            img = ds[self.hrixs].sel(trainId=new_ids).values.astype(float)
            spec = img.sum(axis=(0, 1)) if img.ndim == 3 else img.sum(axis=0)
            self._spectrum = spec if self._spectrum is None else self._spectrum + spec
        self._draw_panels(xgm, pdim, tim)
        self.refreshes += 1
        self._t_refresh.append(time.monotonic())
        self._show_status()
        return True

    def _scan_values(self, s, new_ids):
        mem = s.live_data()
        need = ["PP800_DelayLine"] if self.scan == "delay" else [self.scan]
        if not all(n in mem.data for n in need):
            return None
        bam = self.bam if self.bam in mem.data else None
        x = xaxis_from(lambda n: mem.data[n], self.scan, bam).reindex(trainId=new_ids)
        return x.values

    @property
    def refresh_rate(self) -> float:
        """Refreshes per second over the last 20."""
        t = list(self._t_refresh)
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0

    # -- figure ----------------------------------------------------------------
    def _build_figure(self):
        self.fig, axes, self.canvas = make_figure(
            self.interactive, figsize=(11, 6.5), nrows=2, ncols=3
        )
        self.ax = dict(zip(("pulses", "trend", "tim", "scan", "image", "spectrum"), axes.flat))
        a = self.ax
        a["pulses"].set(xlabel="pulse id", ylabel=f"{self.xgm} [µJ]", title="XGM per pulse")
        a["trend"].set(xlabel="train id", ylabel="XGM sum per train [µJ]", title="XGM trend")
        a["tim"].set(xlabel=f"{self.xgm} [µJ]", ylabel=f"{self.tim} integral", title="TIM vs XGM")
        what = "DSSC mean" if self.binner else f"{self.tim} / XGM"
        unit = {"delay": "ps", "nrj": "eV"}.get(self.scan) or unit_of(self.scan)
        xlabel = f"{self.scan} [{unit}]" if unit else self.scan
        a["scan"].set(xlabel=xlabel, ylabel=what, title=f"{what} vs {self.scan}")
        a["image"].set_title("DSSC (assembled)" if self.binner else "DSSC: not shown")
        a["spectrum"].set(xlabel="pixel (dispersive)", ylabel="counts", title="hRIXS spectrum")
        (self._l_last,) = a["pulses"].plot([], [], ".-", lw=0.8, label="last train")
        (self._l_mean,) = a["pulses"].plot([], [], "k-", lw=1.2, label="mean")
        a["pulses"].legend(fontsize="small")
        (self._l_trend,) = a["trend"].plot([], [], "-", lw=0.8)
        (self._l_tim,) = a["tim"].plot([], [], ".", ms=2, alpha=0.5)
        self._l_scan = {}
        (self._l_spec,) = a["spectrum"].plot([], [], "-", lw=0.8)
        self._img = None
        self._geom = None

    def _draw_panels(self, xgm, pdim, tim):
        a = self.ax
        pids = xgm[pdim].values
        self._l_last.set_data(pids, xgm.values[-1])
        self._l_mean.set_data(pids, np.nanmean(xgm.values, axis=0))
        t = np.array(self.trend)
        self._l_trend.set_data(t[:, 0] - t[0, 0], t[:, 1])
        a["trend"].set_xlabel(f"train id - {int(t[0, 0])}")
        if tim is not None:
            tx = xgm.reindex_like(tim)
            self._l_tim.set_data(tx.values.ravel(), tim.values.ravel())
        if self.binner is not None:
            res = self.binner.result()
            sig = res["data"].mean(("module", "x", "y")) if res else res
            for lab in sig["pulse"].values if res else []:
                if lab not in self._l_scan:
                    (self._l_scan[lab],) = a["scan"].plot([], [], ".-", label=str(lab))
                    a["scan"].legend(fontsize="small")
                line = sig.sel(pulse=lab)
                self._l_scan[lab].set_data(line[self.scan].values, line.values)
            self._draw_image(res)
        elif self._bins:
            if "ratio" not in self._l_scan:
                (self._l_scan["ratio"],) = a["scan"].plot([], [], ".-")
            xs = np.array(sorted(self._bins))
            self._l_scan["ratio"].set_data(xs, [self._bins[x][0] / self._bins[x][1] for x in xs])
        if self._spectrum is not None:
            self._l_spec.set_data(np.arange(len(self._spectrum)), self._spectrum)
        elif self.hrixs:
            a["spectrum"].set_title(f"hRIXS: {self.hrixs} not in the stream")
        for ax in a.values():
            if ax is not a["image"]:
                ax.relim()
                ax.autoscale_view()
        if self.interactive:
            self._draw()

    def _draw_image(self, res):
        if not res:
            return
        img = res["data"].mean((self.scan, "pulse")).values
        full = assemble(img, res["module"].values)
        if self._geom is None:
            self._geom = dssc_geometry()
        pic, _ = self._geom.position_modules(full)
        if self._img is None:
            self._img = self.ax["image"].imshow(pic, origin="lower", cmap="viridis")
            self.ax["image"].set_axis_off()
        else:
            self._img.set_data(pic)
            self._img.autoscale()

    def _show_status(self):
        s = self.stream
        text = (
            f"{len(s.train_ids)} trains held, {s.rate:.1f} trains/s received, "
            f"{s.dropped} dropped, {s.incomplete} incomplete, refresh {self.refresh_rate:.1f} Hz"
        )
        if s.problem:
            text += f" | {s.problem}"
        self.fig.suptitle(text, fontsize="small")
        if self._status is not None:
            self._status.value = text

    # -- control ---------------------------------------------------------------
    def start(self):
        """Start (or resume) receiving and refreshing."""
        self.stream.start()
        self._paused.clear()
        if self.interactive and (self._thread is None or not self._thread.is_alive()):
            self._quit.clear()
            self._thread = threading.Thread(target=self._loop, daemon=True, name="scs_nb-liveview")
            self._thread.start()

    def pause(self):
        """Stop refreshing (and receiving); what is shown stays."""
        self._paused.set()
        self.stream.stop(wait=False)

    def reset(self):
        """Forget the trains, the trend, the binned signal and the spectrum."""
        self.stream.reset()
        self.trend.clear()
        self._bins.clear()
        self._spectrum = None
        self._last_seen = None
        if self.binner is not None:
            self.binner.reset()

    def close(self):
        """Stop everything (the thread and the connection)."""
        self._quit.set()
        self.pause()
        self.stream.stop()

    def _loop(self):
        while not self._quit.is_set():
            t0 = time.monotonic()
            if not self._paused.is_set():
                self.guard(self.refresh)()
            self._quit.wait(max(0.0, self.interval - (time.monotonic() - t0)))

    def run(self, duration):
        """Receive and refresh for ``duration`` seconds in this thread (headless),
        then stop receiving; ``display()`` shows the last figure.

        Parameters
        ----------
        duration : float
            Seconds.

        Returns
        -------
        LiveView
            self.
        """
        if not float(duration) > 0:
            raise ToolBoxValueError(f"duration must be > 0 seconds, got {duration!r}")
        self.stream.start()
        end = time.monotonic() + float(duration)
        while time.monotonic() < end:
            t0 = time.monotonic()
            self.refresh()
            time.sleep(max(0.0, min(self.interval - (time.monotonic() - t0), end - t0)))
        self.stream.stop()
        self.refresh()
        return self

    @property
    def value(self):
        """What is shown: trains held, rate, dropped trains, refreshes."""
        s = self.stream
        return {
            "trains": len(s.train_ids),
            "rate": round(s.rate, 2),
            "dropped": s.dropped,
            "refreshes": self.refreshes,
            "problem": s.problem,
        }

    def summary(self) -> str:
        """What ``display()`` prints without a front end: one line on what arrived.

        Returns
        -------
        str
            Trains held, rate, dropped trains, refreshes and any problem.
        """
        v = self.value
        text = (
            f"received: {v['trains']} trains held, {v['rate']} trains/s, "
            f"{v['dropped']} dropped, {v['refreshes']} refreshes"
        )
        return text + (f"; problem: {v['problem']}" if v["problem"] else "")

    def _control_rows(self):
        import ipywidgets as w  # heavy: only when shown

        buttons = []
        for label, func in (("start", self.start), ("pause", self.pause), ("reset", self.reset)):
            b = w.Button(description=label, layout=w.Layout(width="6em"))
            b.on_click(self.guard(lambda _b, f=func: f()))
            buttons.append(b)
        self._status = w.HTML("")
        return [w.HBox(buttons), self._status]

    def display(self):
        """Show the live widget (and start it), or headless the static figure."""
        if self.interactive:
            super().display()
            self.start()
            return
        super().display()
