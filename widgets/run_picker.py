"""RunPicker: choose a proposal and a run in the data root, see what it holds."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np

import scs_nb as tb
from scs_nb.errors import ToolBoxValueError
from scs_nb.facility import data_root as default_data_root
from scs_nb.facility import validate_proposal

from ._base import Tool

TRAIN_RATE_HZ = 10.0


def list_proposals(data_root) -> dict:
    """Proposal number -> proposal folder, for ``<root>/<instrument>/<cycle>/p######``.

    Parameters
    ----------
    data_root : str or Path
        The data root (``<root>/<instrument>/<cycle>/p<proposal>``).

    Returns
    -------
    dict
        ``{proposal number: Path}``, sorted by path; the first folder of a
        proposal found in several cycles wins.
    """
    root = Path(data_root)
    found = {}
    for path in sorted(root.glob("*/*/p[0-9][0-9][0-9][0-9][0-9][0-9]")):
        if path.is_dir():
            found.setdefault(int(path.name[1:]), path)
    return found


def list_runs(proposal_path) -> list:
    """Run numbers with a folder ``raw/r####`` holding at least one file.

    Parameters
    ----------
    proposal_path : str or Path
        The proposal folder.

    Returns
    -------
    list of int
        Run numbers whose folder holds at least one ``.h5`` file, ascending.
    """
    raw = Path(proposal_path) / "raw"
    runs = []
    for path in sorted(raw.glob("r[0-9][0-9][0-9][0-9]")):
        if re.fullmatch(r"r\d{4}", path.name) and any(path.glob("*.h5")):
            runs.append(int(path.name[1:]))
    return runs


def run_info(run, rates=True) -> dict:
    """What a run holds: trains, duration, sources, mnemonics and, with
    ``rates``, the fraction of trains with data per mnemonic.

    Parameters
    ----------
    run : extra_data.DataCollection
        The opened run.
    rates : bool, optional
        Also compute the data rate of each mnemonic (reads the data).

    Returns
    -------
    dict
        ``trains``, ``first_train``, ``last_train``, ``duration_s`` (s, at
        10 Hz train rate), ``control_sources``, ``instrument_sources``,
        ``sources``, ``mnemonics`` (``mnemonics_for_run``) and ``data_rate``
        (``{mnemonic: fraction}``, empty without ``rates``).
    """
    tids = np.asarray(run.train_ids)
    info = {
        "trains": int(len(tids)),
        "first_train": int(tids[0]) if len(tids) else None,
        "last_train": int(tids[-1]) if len(tids) else None,
        "duration_s": float((tids[-1] - tids[0] + 1) / TRAIN_RATE_HZ) if len(tids) else 0.0,
        "control_sources": sorted(run.control_sources),
        "instrument_sources": sorted(run.instrument_sources),
    }
    info["sources"] = info["control_sources"] + info["instrument_sources"]
    mnems = tb.mnemonics_for_run(run)
    info["mnemonics"] = mnems
    info["data_rate"] = data_rates(run, list(mnems)) if rates and mnems else {}
    return info


def data_rates(run, fields) -> dict:
    """Fraction of the run's trains holding data, per mnemonic
    (``scs_nb.check_data_rate``).

    Parameters
    ----------
    run : extra_data.DataCollection
        The opened run.
    fields : list of str
        Mnemonics to check.

    Returns
    -------
    dict
        ``{mnemonic: fraction of trains with data}`` (0 to 1).
    """
    return {k: float(v) for k, v in tb.check_data_rate(run, fields=fields).items()}


class RunPicker(Tool):
    """Proposal and run selection from the data root, with run information.

    The data root is ``data_root``, else ``$EXTRA_DATA_DATA_ROOT``, else the
    simulator's default (``scs_nb.facility.data_root()``). Selecting a run
    shows its trains, duration, sources and the mnemonics it holds with the
    fraction of trains that have data (data rate).

    ``value`` is ``{'proposal': int, 'run': int}``; ``run`` the opened
    DataCollection; ``info`` the run information as a dict. ``observe(f)``
    calls ``f(picker)`` when the selection changes.

    Parameters
    ----------
    proposal, run : int, optional
        Initial selection (default: the first proposal, its latest run).
    data_root : str or Path, optional
        Where proposals are listed (default ``scs_nb.facility.data_root()``).
    rates : bool, optional
        Compute each mnemonic's data rate when a run is selected.
    interactive : bool, optional
        Force live controls or the headless summary (default: detected).
    """

    title = "Run"

    def __init__(self, proposal=None, run=None, data_root=None, rates=True, interactive=None):
        super().__init__(interactive)
        import ipywidgets as w  # heavy: only when a widget is created

        self.data_root = Path(data_root) if data_root else default_data_root()
        self.rates = rates
        self._run = None
        self._info = None
        self.proposal_dd = w.Dropdown(description="proposal", layout=w.Layout(width="18em"))
        self.run_dd = w.Dropdown(description="run", layout=w.Layout(width="12em"))
        self.refresh_btn = w.Button(
            description="refresh",
            icon="refresh",
            tooltip="scan the data root again",
            layout=w.Layout(width="8em"),
        )
        self.info_html = w.HTML()
        self.rates_html = w.HTML()
        self._proposals = {}
        self._scan(proposal, run)
        self.proposal_dd.observe(self.guard(self._on_proposal), names="value")
        self.run_dd.observe(self.guard(self._on_run), names="value")
        self.refresh_btn.on_click(
            self.guard(lambda _b: self._scan(self.proposal_dd.value, self.run_dd.value))
        )
        self._load()

    # -- the result --------------------------------------------------------
    @property
    def value(self):
        """``{'proposal': int, 'run': int}`` (None where nothing is selected)."""
        return {"proposal": self.proposal_dd.value, "run": self.run_dd.value}

    @property
    def proposal(self):
        """The selected proposal number (None if none)."""
        return self.proposal_dd.value

    @property
    def run_number(self):
        """The selected run number (None if none)."""
        return self.run_dd.value

    @property
    def run(self):
        """The selected run as an extra_data DataCollection (None if none)."""
        return self._run

    @property
    def info(self) -> dict:
        """The selected run's information (``run_info``), with ``proposal`` and ``run``."""
        return self._info or {}

    def select(self, proposal=None, run=None):
        """Select a proposal and/or run from Python (as the dropdowns would).

        Parameters
        ----------
        proposal : int or str, optional
            Proposal number (or 'p002780'); it must be in the data root.
        run : int, optional
            Run number of the (selected) proposal.

        Returns
        -------
        RunPicker
            This picker, with the run opened.
        """
        if proposal is not None:
            proposal = validate_proposal(proposal)
            if proposal not in self._proposals:
                self._scan(self.proposal_dd.value, self.run_dd.value)
            self._check_choice("proposal", proposal, list(self._proposals))
        self._syncing = True
        try:
            if proposal is not None:
                self.proposal_dd.value = proposal
                self._fill_runs(run)
            if run is not None:
                self._check_choice("run", int(run), [v for _, v in self.run_dd.options])
                self.run_dd.value = int(run)
        finally:
            self._syncing = False
        self._load()
        return self

    def summary(self):
        """The selected run: trains, duration, sources, mnemonics, partial data rates.

        Returns
        -------
        str
            A few lines of text.
        """
        if not self._info:
            return f"no run selected (data root {self.data_root})"
        i = self._info
        lines = [
            f"proposal {self.proposal} run {self.run_number}: {i['trains']} trains, "
            f"{i['duration_s']:.1f} s, {len(i['control_sources'])} control and "
            f"{len(i['instrument_sources'])} instrument sources",
            f"mnemonics: {', '.join(sorted(i['mnemonics'])) or '(none)'}",
        ]
        partial = {k: v for k, v in i["data_rate"].items() if v < 1}
        if partial:
            lines.append(
                "data rate < 100 %: "
                + ", ".join(f"{k} {100 * v:.0f} %" for k, v in sorted(partial.items()))
            )
        return "\n".join(lines)

    # -- internals ---------------------------------------------------------
    def _control_rows(self):
        import ipywidgets as w  # heavy: only when a widget is shown

        return [
            w.HBox([self.proposal_dd, self.run_dd, self.refresh_btn]),
            self.info_html,
            w.Accordion(children=[self.rates_html], titles=("mnemonics and data rate",)),
        ]

    @staticmethod
    def _check_choice(what, value, options):
        if value not in options:
            raise ToolBoxValueError(
                f"{what} {value} is not in the data root; available: "
                f"{', '.join(map(str, options)) or '(none)'}"
            )

    def _scan(self, proposal=None, run=None):
        self._proposals = list_proposals(self.data_root)
        options = [(f"p{p:06d} ({path.parent.name})", p) for p, path in self._proposals.items()]
        self._syncing = True
        try:
            self.proposal_dd.options = options
            if proposal is not None and int(proposal) in self._proposals:
                self.proposal_dd.value = int(proposal)
            elif options:
                self.proposal_dd.value = options[0][1]
            self._fill_runs(run)
        finally:
            self._syncing = False
        if not options:
            self.info_html.value = (
                f"No proposals under {html.escape(str(self.data_root))}. "
                "Set EXTRA_DATA_DATA_ROOT, or simulate a run with "
                "<code>scs-nb simulate basic --run 1</code>."
            )

    def _fill_runs(self, run=None):
        p = self.proposal_dd.value
        runs = list_runs(self._proposals[p]) if p in self._proposals else []
        self.run_dd.options = [(f"r{r:04d}", r) for r in runs]
        if run is not None and int(run) in runs:
            self.run_dd.value = int(run)
        elif runs:
            self.run_dd.value = runs[-1]  # the latest run

    def _on_proposal(self, change):
        if getattr(self, "_syncing", False):
            return
        self._syncing = True
        try:
            self._fill_runs()
        finally:
            self._syncing = False
        self._load()

    def _on_run(self, change):
        if not getattr(self, "_syncing", False):
            self._load()

    def _open(self, proposal, run):
        """Open the run in this picker's data root (which may differ from
        $EXTRA_DATA_DATA_ROOT, where ``tb.open_run`` looks)."""
        return tb.run_by_path(str(Path(self._proposals[proposal]) / "raw" / f"r{run:04d}"))

    def _load(self):
        p, r = self.proposal_dd.value, self.run_dd.value
        self._run, self._info = None, None
        self.rates_html.value = ""
        if p is None or r is None:
            if p is not None:
                self.info_html.value = f"proposal {p} has no runs"
            self._notify()
            return
        self.info_html.value = f"opening p{p:06d} r{r:04d} ..."
        self._run = self._open(p, r)
        self._info = run_info(self._run, rates=self.rates)
        self._info.update(proposal=p, run=r)
        self._render()
        self._notify()

    def _render(self):
        i = self._info
        self.info_html.value = (
            f"<span class='scs-run-info'><b>p{self.proposal:06d} r{self.run_number:04d}</b>: "
            f"{i['trains']} trains ({i['first_train']} &ndash; {i['last_train']}), "
            f"{i['duration_s']:.1f} s, {len(i['control_sources'])} control / "
            f"{len(i['instrument_sources'])} instrument sources, "
            f"{len(i['mnemonics'])} mnemonics</span>"
        )
        rows = []
        for name in sorted(i["mnemonics"]):
            m = i["mnemonics"][name]
            rate = i["data_rate"].get(name)
            rate_txt = "" if rate is None else f"{100 * rate:.0f} %"
            style = "" if rate is None or rate >= 1 else " style='color:#b00'"
            rows.append(
                f"<tr{style}><td>{html.escape(name)}</td><td>{rate_txt}</td>"
                f"<td><code>{html.escape(m['source'])}</code></td>"
                f"<td><code>{html.escape(m['key'])}</code></td></tr>"
            )
        self.rates_html.value = (
            "<table class='scs-run-rates'><tr><th>mnemonic</th><th>data rate</th>"
            "<th>source</th><th>key</th></tr>" + "".join(rows) + "</table>"
        )
