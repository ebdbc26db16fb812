"""Damaged runs: a deleted sequence file is named in the warnings of open_run and load;
a file that cannot be read is named with its cause by load, open_run, get_xgm and
bin_dssc, and the rest of the run is processed. Users meet copies with holes and files
with wrong permissions on the shared file system, and need to know which file to fix."""

import os
import stat
import warnings

import numpy as np
import pytest
from conftest import copy_simulated_run

import scs_nb as tb
from scs_nb import damage

KW = dict(bin_width=1.0, backend="sequential", xgm_normalization=False, bam=None)


@pytest.fixture
def unreadable(monkeypatch):
    """chmod 000 makes a file unreadable; as root (which reads anything) the probe
    judges by the mode bits, as it would for any other user."""

    def make(path):
        os.chmod(path, 0)

    if os.geteuid() == 0:
        real = damage.probe

        def probe(path):
            try:
                if not os.stat(path).st_mode & 0o444:
                    return (
                        f"permission denied (mode {stat.filemode(os.stat(path).st_mode)}"
                        ", emulated for root)"
                    )
            except OSError:
                pass
            return real(path)

        monkeypatch.setattr(damage, "probe", probe)
    yield make


def _copy(res, number):
    return copy_simulated_run(res, number)


@pytest.fixture(scope="module")
def pp(simulated):
    # 30 trains in three DA01 sequence files of 10 trains
    return simulated("pump_probe", trains=30, trains_per_file=10)


def test_deleted_sequence_file_named(pp):
    number = pp.run + 700
    dst = _copy(pp, number)
    gone = dst / f"RAW-R{number:04d}-DA01-S00001.h5"
    gone.unlink()
    assert damage.sequence_gaps(dst) == {"DA01": [gone.name]}
    with pytest.warns(UserWarning, match=rf"sequence file {gone.name} is missing"):
        tb.open_run(pp.proposal, number)
    with pytest.warns(UserWarning, match=rf"10 of 30 trains.*{gone.name} is missing"):
        _, ds = tb.load(pp.proposal, number, ["SCS_SA3"])
    tids = np.asarray(pp.truth["train_ids"], np.uint64)
    np.testing.assert_array_equal(ds.trainId.values, np.r_[tids[:10], tids[20:]])


def test_unreadable_file_named_everywhere(pp, unreadable):
    number = pp.run + 710
    dst = _copy(pp, number)
    bad = dst / f"RAW-R{number:04d}-DA01-S00001.h5"
    unreadable(bad)
    tids = np.asarray(pp.truth["train_ids"], np.uint64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run, ds = tb.load(pp.proposal, number, ["SCS_SA3"])
        xgm = tb.get_xgm(run, "SCS_SA3")
    text = " ".join(str(w.message) for w in caught)
    assert f"{bad} of" in text and "permission denied" in text
    # the rest is processed: the trains of the readable files, with the injected values
    np.testing.assert_array_equal(ds.trainId.values, np.r_[tids[:10], tids[20:]])
    assert xgm.sizes["trainId"] == 20
    # every file unreadable: one error naming the file and the cause
    for f in dst.glob("*.h5"):
        unreadable(f)
    for call in (
        lambda: tb.open_run(pp.proposal, number),
        lambda: tb.load(pp.proposal, number, ["SCS_SA3"]),
    ):
        with pytest.raises(
            tb.ToolBoxFileError,
            match=r"cannot read run file .*DA01-S0000"
            r"\d\.h5: permission denied",
        ):
            call()


def test_bin_dssc_names_unreadable_files(simulated, unreadable, tmp_path):
    res = simulated("dssc_delay_scan", modules="0,1", trains=8, npulses=4, nsteps=2)
    number = res.run + 720
    dst = _copy(res, number)
    m1 = next(dst.glob("*-DSSC01-S00000.h5"))
    unreadable(m1)
    with pytest.raises(tb.ToolBoxFileError) as info:
        tb.bin_dssc(res.proposal, number, path=str(tmp_path), **KW)
    assert f"cannot read DSSC module 1 file {m1}: permission denied" in str(info.value)
    assert (tmp_path / f"run_{number}_module0.h5").is_file()  # the rest is binned
    # a source held only by the unreadable file: the error names the file, not just
    # "source is missing"
    with pytest.warns(UserWarning, match="cannot be read"):
        run = tb.open_run(res.proposal, number)
    src = {"source": "SCS_DET_DSSC1M-1/DET/1CH0:xtdf", "key": "image.data"}
    with pytest.raises(
        tb.ToolBoxValueError,
        match=rf"is missing from this run.*{m1.name} "
        "cannot be read: permission denied",
    ):
        tb.reader.lookup(run, "dssc1", src)
    da = next(dst.glob("*-DA01-S00000.h5"))
    unreadable(da)
    with pytest.raises(
        tb.ToolBoxFileError,
        match=rf"cannot read run {number} file {da}: "
        "permission denied",
    ):
        tb.bin_dssc(res.proposal, number, path=str(tmp_path / "b"), **KW)


def test_sequence_gaps_per_aggregator(tmp_path):
    for name in (
        "RAW-R0012-DA01-S00001.h5",
        "RAW-R0012-DA01-S00003.h5",
        "RAW-R0012-DSSC00-S00000.h5",
        "RAW-R0012-DSSC00-S00001.h5",
    ):
        (tmp_path / name).write_bytes(b"")
    assert damage.sequence_gaps(tmp_path) == {
        "DA01": ["RAW-R0012-DA01-S00000.h5", "RAW-R0012-DA01-S00002.h5"]
    }
    assert "RAW-R0012-DA01-S00000.h5, RAW-R0012-DA01-S00002.h5 are missing" in damage.describe(
        tmp_path
    )
