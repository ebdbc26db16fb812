"""The run table in JupyterLab (headless Chromium): a run simulated while the notebook is
open appears as a new row by itself (RunTable refreshes every second here).
Runs in CI with SCS_NB_REQUIRE_BROWSER=1 (see tests/test_browser_widgets.py)."""

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from test_browser_widgets import CHROMIUM, CHROMIUM_ARGS, _free_port, _missing, _run_all

PROPOSAL = 900008
pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


@pytest.fixture
def lab(tmp_path):
    reason = _missing()
    if reason and os.environ.get("SCS_NB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required (SCS_NB_REQUIRE_BROWSER=1) but {reason}")
    if reason:
        pytest.skip(f"browser test: {reason}")
    from scs_nb import sim

    root = tmp_path / "exp"
    sim.simulate("basic", PROPOSAL, 1, trains=10, seed=1, data_root=root)
    work = tmp_path / "lab"
    work.mkdir()
    cells = [
        f"from scs_nb import widgets as tw\nt = tw.RunTable({PROPOSAL}, refresh=1)\nt.display()"
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(work / "table.ipynb"))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        EXTRA_DATA_DATA_ROOT=str(root),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    )
    env.pop("SCS_NB_INTERACTIVE", None)
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [
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
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=work,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "lab.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not start within 60 s"
                time.sleep(0.5)
        yield {"url": f"{base}/lab/tree/table.ipynb?token={token}", "root": root}
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        log.close()


def test_run_table_gains_a_row(lab):
    from playwright.sync_api import expect, sync_playwright

    from scs_nb import sim

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.set_default_timeout(60_000)
            page.goto(lab["url"], wait_until="domcontentloaded")
            expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)
            _run_all(page)
            rows = page.locator("table.scs-runtable tr.scs-run")
            expect(rows).to_have_count(1, timeout=90_000)
            sim.simulate("basic", PROPOSAL, 2, trains=10, seed=2, data_root=lab["root"])
            expect(rows).to_have_count(2, timeout=30_000)
            expect(page.locator('tr.scs-run[data-run="2"]')).to_be_visible()
        finally:
            browser.close()
