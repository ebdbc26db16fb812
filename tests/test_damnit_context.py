"""The real DAMNIT 0.4 on simulated runs: the SCS context file processed by
`damnit reprocess`, its table equal to scs_nb's own values; template results pushed
with damnit.submit by `scs-nb watch --damnit`.

DAMNIT runs without the facility's Kafka broker (AMORE_BROKER=none), with
context_python set to this environment, `damnit combiner now` after processing and
XFEL_DATA_ROOT beside EXTRA_DATA_DATA_ROOT. Without DAMNIT installed the test skips,
unless SCS_NB_REQUIRE_DAMNIT=1 (CI, where the `test` extra installs it).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scs_nb as tb
from scs_nb import cli, sim
from scs_nb.beamtime.table import run_rows
from scs_nb.beamtime.watch import Watcher
from scs_nb.damnit import variables as V
from scs_nb.damnit.context import damnit_dir

PROPOSAL = 900022
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def damnit_env(data_root):
    try:
        import damnit  # noqa: F401
    except ImportError:
        if os.environ.get("SCS_NB_REQUIRE_DAMNIT") == "1":
            pytest.fail("damnit is not installed (SCS_NB_REQUIRE_DAMNIT=1)")
        pytest.skip("damnit not installed: pip install -e '.[damnit]'")
    env = {"AMORE_BROKER": "none", "XFEL_DATA_ROOT": str(data_root)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _damnit(*args, cwd=None):
    exe = Path(sys.executable).with_name("damnit")
    proc = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_damnit_table_equals_scs_nb(damnit_env, data_root):
    import damnit

    sim.simulate("delay_scan", PROPOSAL, 1, data_root=data_root, trains=30, seed=11)
    sim.simulate("hrixs_photons", PROPOSAL, 2, data_root=data_root, trains=3, seed=12)
    assert cli.main(["damnit-context", "--proposal", str(PROPOSAL)]) == 0
    folder = damnit_dir(PROPOSAL)
    ctx = folder / "context.py"
    # refused a second time: a context file is edited by hand
    assert cli.main(["damnit-context", "--proposal", str(PROPOSAL)]) == 2
    _damnit("init", str(folder), "--proposal", str(PROPOSAL), "--context", str(ctx))
    _damnit("db-config", "context_python", sys.executable, cwd=folder)
    _damnit("reprocess", "--direct", "1", "2", cwd=folder)
    _damnit("combiner", "now", str(folder))

    db = damnit.Damnit(folder)
    table = db.table().set_index("run")
    for r in (1, 2):
        run = tb.open_run(PROPOSAL, r)
        for v in V.VARIABLES:
            try:
                want = v.func(run)
            except V.DeviceAbsent:
                got = table.loc[r, v.name] if v.name in table else None
                assert got is None or (isinstance(got, float) and np.isnan(got)), v.name
                continue
            if np.ndim(want) == 0 and not isinstance(want, str):
                assert float(table.loc[r, v.name]) == pytest.approx(want, rel=1e-9), v.name
            else:  # arrays and strings: the stored data
                got = db[r, v.name].read()
                if isinstance(want, str):
                    assert str(got) == want, v.name
                else:
                    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-9)
        assert db[r, "n_trains"].title == "Trains"
    assert db[1, "xgm_mean"].units == "uJ"

    # template results into the same table (provenance scs_nb:explore_run)
    w = Watcher(
        PROPOSAL,
        ["explore_run"],
        damnit=True,
        settle=0.1,
        kernel="python3",
        first_run=1,
        echo=lambda line: None,
    )
    w.state["runs"]["2"] = {"explore_run": {"status": "done"}}  # not an explore run
    w.run(once=True)
    assert w.entry(1, "explore_run")["damnit"] == "submitted"
    table = damnit.Damnit(folder).table().set_index("run")
    assert table.loc[1, "explore_run.pulses_kept"] == 30 * 20
    assert str(table.loc[1, "explore_run.report"]).endswith("explore_run_r0001.html")
    # the built-in table shows DAMNIT's variables beside the records
    rows = {r["run"]: r for r in run_rows(PROPOSAL)}
    assert rows[1]["xgm_mean"] == pytest.approx(V.xgm_mean(tb.open_run(PROPOSAL, 1)))
    assert rows[1]["explore_run.pulses_kept"] == 30 * 20
