"""The widgets in a real browser: JupyterLab on 127.0.0.1 driven by Playwright
with the system Chromium (Debian ``chromium``; no browser download).

A notebook with a RunPicker and a ThresholdTuner on a simulated run is run
in JupyterLab; the test types a new low threshold into the tuner and checks
that the pulse count shown, the ipympl figure and the mask in the kernel
change as the ground truth says. A screenshot goes to test-artifacts/.
``.ci/run`` installs chromium, jupyterlab and playwright so that CI runs it
(and sets SCS_NB_REQUIRE_BROWSER=1: then a missing piece fails instead of
skipping).
"""

import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest

CHROMIUM = os.environ.get("SCS_NB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PROPOSAL, RUN = 900007, 1

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def _missing():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} not found (Debian: apt-get install chromium)"
    for mod in ("playwright", "jupyterlab"):
        if importlib.util.find_spec(mod) is None:
            return (
                f"python package {mod} not installed (pip install -e '.[browser]' with "
                "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1)"
            )
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(path):
    cells = [
        "from scs_nb import widgets as tw\nprint('INTERACTIVE', tw.interactive_available())",
        "picker = tw.RunPicker()\npicker.display()",
        "tuner = tw.ThresholdTuner.from_run(picker.run, 'SCS_SA3')\ntuner.display()",
        "print('MASKSUM', int(tuner.mask.sum()))",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port of 127.0.0.1 with a token, serving a
    temp folder with the notebook; its data root holds one simulated run."""
    reason = _missing()
    if reason and os.environ.get("SCS_NB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required (SCS_NB_REQUIRE_BROWSER=1) but {reason}")
    if reason:
        pytest.skip(f"browser test: {reason}")
    from scs_nb import sim

    root = tmp_path / "exp"
    res = sim.simulate("basic", PROPOSAL, RUN, trains=20, seed=11, data_root=root)
    work = tmp_path / "lab"
    work.mkdir()
    _notebook(work / "explore.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        EXTRA_DATA_DATA_ROOT=str(root),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
    )
    env.pop("SCS_NB_INTERACTIVE", None)
    log = open(tmp_path / "lab.log", "w")
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work}",
        "--ServerApp.allow_root=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(tmp_path / 'lab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        "JupyterLab did not start within 60 s: "
                        + (tmp_path / "lab.log").read_text()[-2000:]
                    )
                time.sleep(0.5)
        yield {
            "url": f"{base}/lab/tree/explore.ipynb?token={token}",
            "truth": res.truth,
            "log": tmp_path / "lab.log",
        }
    finally:
        # the server shuts its kernels down on SIGTERM; then the whole group goes
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
        log.close()


def _run_all(page):
    """Run > Run All Cells from the menu bar."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=False).first.click()


def _canvas_png(page):
    return page.locator(".scs-thresholdtuner canvas").first.screenshot()


def test_threshold_tuner_in_jupyterlab(lab):
    from playwright.sync_api import expect, sync_playwright

    raw = np.asarray(lab["truth"]["xgm"]["SCS"]["sa3_fast_raw"])
    total = raw.size
    low = float(np.round(np.percentile(raw, 60), 1))
    expected = int((raw >= low).sum())  # high stays above the maximum
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(60_000)
            page.goto(lab["url"], wait_until="domcontentloaded")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            # the kernel is ready when the status bar shows it idle
            expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)
            _run_all(page)
            status = page.locator(".scs-threshold-status").first
            expect(status).to_contain_text(f"{total} of {total} pulses selected", timeout=90_000)
            expect(page.get_by_text("INTERACTIVE True")).to_be_visible()
            expect(page.get_by_text(f"MASKSUM {total}")).to_be_visible(timeout=30_000)
            # the run picker shows the run's information
            expect(page.locator(".scs-run-info").first).to_contain_text("20 trains")
            canvas = page.locator(".scs-thresholdtuner canvas").first
            expect(canvas).to_be_visible()
            time.sleep(1.0)  # let the first full frame arrive
            before = _canvas_png(page)

            # type a new low threshold and commit it (Enter)
            box = page.locator(".scs-threshold-low input").first
            box.fill(str(low))
            box.press("Enter")
            expect(status).to_contain_text(
                f"{expected} of {total} pulses selected", timeout=30_000
            )
            # the figure is redrawn (ipympl sends the new image)
            deadline = time.monotonic() + 20
            after = _canvas_png(page)
            while after == before and time.monotonic() < deadline:
                time.sleep(0.5)
                after = _canvas_png(page)
            assert after != before, "the ipympl figure did not change"

            # the mask in the kernel follows: run the last cell again
            last = page.locator(".jp-Notebook .jp-Cell").nth(3)
            last.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            expect(page.get_by_text(f"MASKSUM {expected}")).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "browser_threshold_tuner.png"), full_page=True)
        except Exception:
            try:
                page.screenshot(
                    path=str(ARTIFACTS / "browser_threshold_tuner_failed.png"), full_page=True
                )
            except Exception:
                pass
            log = Path(lab["log"])
            if log.exists():
                shutil.copy(log, ARTIFACTS / "browser_jupyterlab.log")
            raise
        finally:
            browser.close()
