"""Progress bars of long work: shown where someone watches (a terminal, a notebook, a
headless report), quiet in batch jobs; in a report as text its saved output keeps."""

import io
import sys

import pytest

import scs_nb.detectors.dssc.binning.run as dssc_run
from scs_nb import progress


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


@pytest.fixture
def watched(monkeypatch):
    """``watched(tty, report)``: stderr a terminal or not, in a headless report or not
    (this test process is no Jupyter kernel)."""

    def set_(tty, report=False):
        monkeypatch.setattr(sys, "stderr", _Stream(tty))
        if report:
            monkeypatch.setenv(progress.REPORT_ENV, "1")
        else:
            monkeypatch.delenv(progress.REPORT_ENV, raising=False)

    return set_


@pytest.mark.parametrize(
    "tty, report, expected", [(True, False, True), (False, False, False), (False, True, True)]
)
def test_interactive_when_someone_watches(watched, tty, report, expected):
    watched(tty, report)
    assert progress.interactive() is expected
    assert progress.resolve(None) is expected
    assert progress.resolve(True) is True and progress.resolve(False) is False


def test_report_bar_is_text_on_stderr_with_its_final_state(watched):
    watched(False, report=True)
    with progress.bar(range(30), desc="fit", mininterval=0) as it:
        for _ in it:
            pass
    text = sys.stderr.getvalue()
    # the last frame (after the last carriage return) is the complete bar
    assert "fit: 100%" in text.split("\r")[-1] and "30/30" in text


@pytest.mark.parametrize("tty, expected", [(True, True), (False, False)])
def test_bin_dssc_shows_progress_by_default_when_interactive(
    simulated, watched, monkeypatch, tmp_path, tty, expected
):
    data = simulated("dssc_delay_scan", modules="0,1", trains=4, npulses=4)
    seen = {}

    def spy(task, modules, kwargs_of, **kw):
        seen["modules bar"] = kw["progress"]
        seen["chunk bars"] = kwargs_of(modules[0])["progress"]
        return []

    monkeypatch.setattr(dssc_run, "process_modules", spy)
    watched(tty)
    dssc_run.bin_dssc(data.proposal, data.run, modules=[0, 1], path=tmp_path, backend="sequential")
    assert seen == {"modules bar": expected, "chunk bars": expected}
    # asked explicitly, whatever the terminal
    dssc_run.bin_dssc(
        data.proposal,
        data.run,
        modules=[0, 1],
        path=tmp_path,
        backend="sequential",
        progress=not expected,
    )
    assert seen["modules bar"] is (not expected)
    # dask workers draw no bars of their own (their stderr is not this one)
    dssc_run.bin_dssc(
        data.proposal, data.run, modules=[0, 1], path=tmp_path, backend="dask", progress=True
    )
    assert seen == {"modules bar": True, "chunk bars": False}
