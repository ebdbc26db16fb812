"""The fastccd_binning template keeps its binned files (~100 MB on a real scan) in a
temporary folder only while the report runs: a run leaves nothing in ``$TMPDIR``."""

import os


def test_fastccd_binning_leaves_nothing_in_tmpdir(simulated, run_template, tmp_path, monkeypatch):
    res = simulated("fastccd")
    dark = simulated("fccd_dark")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    # the kernel is a new process: it takes its temporary folder from this environment
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    out = run_template(
        "fastccd_binning",
        tmp_path / "out",
        proposal=res.proposal,
        run=res.run,
        dark_run=dark.run,
    )
    assert {"ring_q", "ring_change"} <= {r["name"] for r in out.records}
    assert not os.listdir(tmpdir), f"left in $TMPDIR: {os.listdir(tmpdir)}"
