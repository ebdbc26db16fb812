"""Issue 10, items 3, 7, 9, 15, 16 for the simulator: concurrent simulations of one run,
leftovers of killed ones, validated options, an unwritable data root, readable truth."""
import os
import stat
import subprocess
import sys
import time

import pytest

from scs_nb import atomic, cli, sim
from scs_nb.errors import ToolBoxError


@pytest.mark.parametrize("args, words", [
    (["--missing-trains", "1.5"], "missing_trains"),
    (["--missing-trains", "nan"], "missing_trains"),
    (["-o", "nosuch=1"], "nosuch"),
    (["-o", "npulses=abc"], "integer"),
    (["--trains", "0"], "trains must be"),
    (["-o", "npulses=-3"], "integer >= 1"),
    (["-o", "npulses=0"], "integer >= 1"),
    (["-o", "nrj=.inf"], "finite"),
    (["-o", "nrj=inf"], "number"),
    (["--seed", "-1"], "seed"),
    (["--trains", "1000000000"], "trains must be"),
    (["--trains", "999999"], "memory"),
])
def test_bad_simulator_options(tmp_path, capsys, args, words, monkeypatch):
    monkeypatch.setattr("scs_nb.sim.core._available_memory", lambda: 8 * 2**30)
    code = cli.main(["simulate", "basic", "--proposal", "900001", "--run", "1",
                     "--data-root", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.h5"))


def test_describe_names_required_and_passthrough(capsys):
    assert cli.main(["simulate", "dssc_dark", "--describe"]) == 0
    out = capsys.readouterr().out
    assert "inspect._empty" not in out and "-o npulses=10" in out and "**dssc" in out


def test_concurrent_simulations_of_one_run(tmp_path):
    code = ("import warnings; warnings.simplefilter('ignore'); from scs_nb import sim; "
            f"print(sim.ensure_run(900001, 7, 'basic', data_root={str(tmp_path)!r}, "
            "trains=30))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    raw = next(tmp_path.glob("SCS/*/p900001/raw"))
    assert sorted(p.name for p in raw.iterdir()) == ["r0007"]      # no .part leftovers
    truth = sim.ground_truth(900001, 7, tmp_path)
    assert len(truth["train_ids"]) == 30
    # the truth file and the run files are readable by the group (umask 022 -> 0644)
    mode = 0o666 & ~atomic.umask()
    assert stat.S_IMODE(sim.truth_path(900001, 7, tmp_path).stat().st_mode) == mode
    for f in (raw / "r0007").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == mode


def test_leftover_part_folders_removed(tmp_path):
    first = sim.simulate("basic", 900001, 3, trains=5, data_root=tmp_path)
    raw = first.run_dir.parent
    old = time.time() - 3600
    legacy = raw / "r0004.part"                                 # the old fixed name
    killed = raw / f"r0004.pid999999999@{atomic._HOST}.x.part"  # no such process
    for d in (legacy, killed):
        d.mkdir()
        (d / "RAW-R0004-DA01-S00000.h5").write_bytes(b"half")
        os.utime(d, (old, old))
    sim.simulate("basic", 900001, 4, trains=5, data_root=tmp_path)
    assert sorted(p.name for p in raw.iterdir()) == ["r0003", "r0004"]


def test_unwritable_data_root(tmp_path, monkeypatch):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ToolBoxError, match="is a file.*data_root="):
        sim.simulate("basic", 900001, 1, trains=5, data_root=f / "root")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:      # root writes anywhere: judge by the mode bits
        monkeypatch.setattr(atomic, "_writable", lambda p: bool(os.stat(p).st_mode & 0o200))
    with pytest.raises(ToolBoxError, match="not writable.*EXTRA_DATA_DATA_ROOT"):
        sim.simulate("basic", 900001, 1, trains=5, data_root=ro)


def test_valid_options_pass(tmp_path):
    from scs_nb.sim import core
    sc = core.get_scenario("delay_scan")
    assert core.validate_options(sc, {"start": -2, "stop": -0.5, "nsteps": 3}) == {
        "start": -2, "stop": -0.5, "nsteps": 3}
    # options of scenarios taking **kwargs go on to the device models, unknown ones refused
    with pytest.raises(ToolBoxError, match="nosuch"):
        sim.simulate("dssc_dark", 900001, 2, trains=2, nosuch=1, data_root=tmp_path)
    assert not list(tmp_path.iterdir())
