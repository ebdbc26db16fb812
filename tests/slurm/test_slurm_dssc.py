"""DSSC binning through SLURM: job arrays over module groups (`scs-nb submit
dssc-binning`), and dask-jobqueue workers as SLURM jobs (`make_cluster('slurm')`,
`bin_dssc(cluster=...)`, the dssc_binning template with cluster='slurm'), each checked
against the sequential backend's module files, which must be identical; workers killed
mid-run (scancel) are survived, or named, and a rerun completes.
"""

import subprocess
import time
import uuid
from pathlib import Path

import pytest
import xarray as xr

import scs_nb as tb
from scs_nb import cli

from .conftest import jobs_named, wait_jobs

pytestmark = [pytest.mark.slurm, pytest.mark.xdist_group("slurm")]

NPULSES = 4
MODULES = list(range(8))  # module groups 0 and 1


@pytest.fixture(scope="module")
def dssc(simulated, tmp_path_factory):
    """A small delay scan of 8 modules, its dark, and the sequential backend's files."""
    data = simulated(
        "dssc_delay_scan", modules=",".join(map(str, MODULES)), trains=8, npulses=NPULSES, nsteps=2
    )
    dark = simulated("dssc_dark", modules=",".join(map(str, MODULES)), trains=4, npulses=NPULSES)
    ref = tmp_path_factory.mktemp("dssc_ref")
    tb.bin_dssc(
        data.proposal,
        data.run,
        modules=MODULES,
        dark_run=dark.run,
        path=str(ref),
        bin_width=0.5,
        backend="sequential",
    )
    return data, dark, ref


def assert_same_files(folder, ref, run, modules):
    for m in modules:
        name = f"run_{run}_module{m}.h5"
        a, b = tb.load_xarray(str(Path(folder) / name)), tb.load_xarray(str(ref / name))
        xr.testing.assert_identical(a, b)
        assert a["hist"].sum() > 0


@pytest.fixture
def loopback(slurm_cluster, monkeypatch):
    """dask schedulers of make_cluster('slurm') listen on 127.0.0.1, like the cluster."""
    monkeypatch.setenv("SCS_NB_DASK_HOST", "127.0.0.1")


def no_dask_jobs(name, timeout=20):
    t0 = time.monotonic()
    while jobs_named(name) and time.monotonic() - t0 < timeout:
        time.sleep(0.5)
    return not jobs_named(name)


def slurm_cluster_of(tmp_path, jobs, **kw):
    """make_cluster('slurm') with a job name of this test's own."""
    from scs_nb.parallel.cluster import make_cluster

    name = f"dask-{uuid.uuid4().hex[:8]}"
    return make_cluster(
        "slurm", cores=1, memory="2GB", walltime="00:10:00", jobs=jobs, job_name=name, **kw
    ), name


def test_submit_dssc_binning_over_module_groups(slurm_cluster, dssc, tmp_path, capsys):
    data, dark, ref = dssc
    out = tmp_path / "binned"
    rc = cli.main(
        [
            "submit",
            "dssc-binning",
            "--proposal",
            str(data.proposal),
            "--run",
            str(data.run),
            "--dark",
            str(dark.run),
            "--module-group",
            "0-1",
            "--bin-width",
            "0.5",
            "--n-workers",
            "0",
            "--kernel",
            "python3",
            "--mail-type",
            "NONE",
            "--time",
            "00:10:00",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0, text
    (job,) = [w for w in text.split() if w.isdigit()][:1]
    wait_jobs(job)
    rc = cli.main(["status", str(out)])
    table = capsys.readouterr().out
    assert rc == 0 and "2 task(s): 2 done, 0 failed" in table, table
    assert_same_files(out, ref, data.run, MODULES)
    tag = f"r{data.run:04d}"
    for g in (0, 1):
        nb = out / "notebooks" / tag / f"module_group_{g}" / f"dssc_binning_{tag}.ipynb"
        assert nb.is_file() and nb.with_suffix(".html").is_file()
    logs = sorted(p.name for p in (out / "logs").iterdir())
    assert logs == [f"{job}_{g}-{tag}-dssc-binning.out" for g in (0, 1)]


def test_bin_dssc_on_dask_jobqueue_workers(loopback, dssc, tmp_path):
    data, dark, ref = dssc
    cluster, name = slurm_cluster_of(tmp_path, 2)
    try:
        # TLS with temporary credentials, on loopback only
        assert cluster.scheduler_address.startswith("tls://127.0.0.1:")
        files = tb.bin_dssc(
            data.proposal,
            data.run,
            modules=MODULES[:4],
            dark_run=dark.run,
            path=str(tmp_path),
            bin_width=0.5,
            cluster=cluster,
        )
        assert len(files) == 4
        assert jobs_named(name)  # the work ran in SLURM jobs
    finally:
        cluster.close()
    assert_same_files(tmp_path, ref, data.run, MODULES[:4])
    assert no_dask_jobs(name), jobs_named(name)


def test_killed_workers(loopback, dssc, tmp_path, monkeypatch):
    """scancel one of two worker jobs mid-run: the other finishes every module. scancel
    all: the error names the modules not done; a rerun completes them."""
    from distributed import Client

    from scs_nb.detectors.dssc.binning import process as processing

    data, dark, ref = dssc
    monkeypatch.setattr(processing, "LOST_WORKERS_TIMEOUT", 3)
    mods = MODULES[:4]

    def run_slowly(cluster, path, kill):
        """bin_dssc with each dask task slowed down (1.5 s), and `kill` called once the
        first module is done."""
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=60)
            orig = processing.process_modules

            def slow_modules(task, modules, kwargs_of, **kw):
                def slow_task(**kwargs):
                    import time as _t

                    _t.sleep(1.5)
                    return task(**kwargs)

                killer = _Killer(kill, path, data.run)
                killer.start()
                try:
                    return orig(slow_task, modules, kwargs_of, client=client)
                finally:
                    killer.join()

            monkeypatch.setattr("scs_nb.detectors.dssc.binning.run.process_modules", slow_modules)
            try:
                return tb.bin_dssc(
                    data.proposal,
                    data.run,
                    modules=mods,
                    dark_run=dark.run,
                    path=str(path),
                    bin_width=0.5,
                    cluster=cluster,
                )
            finally:
                monkeypatch.setattr("scs_nb.detectors.dssc.binning.run.process_modules", orig)

    # one of the two jobs cancelled: the other worker bins the rest
    cluster, name = slurm_cluster_of(tmp_path / "one", 2)
    try:
        files = run_slowly(cluster, tmp_path / "one", lambda: _scancel(_job_ids(cluster)[:1]))
        assert len(files) == 4
    finally:
        cluster.close()
    assert_same_files(tmp_path / "one", ref, data.run, mods)

    # every job cancelled: an error naming the modules not binned, then a rerun
    cluster, name2 = slurm_cluster_of(tmp_path / "all", 2)
    try:
        with pytest.raises(processing.WorkersLostError) as err:
            run_slowly(cluster, tmp_path / "all", lambda: _scancel(_job_ids(cluster)))
    finally:
        cluster.close()
    lost = err.value.modules
    assert lost and set(lost) <= set(mods)
    assert f"DSSC module(s) {sorted(lost)} were binned" in str(err.value)
    done = [m for m in mods if (tmp_path / "all" / f"run_{data.run}_module{m}.h5").exists()]
    assert set(done) | set(lost) == set(mods)
    # the rerun (here in this process) bins only the missing modules
    mtimes = {
        m: (tmp_path / "all" / f"run_{data.run}_module{m}.h5").stat().st_mtime_ns for m in done
    }
    tb.bin_dssc(
        data.proposal,
        data.run,
        modules=mods,
        dark_run=dark.run,
        path=str(tmp_path / "all"),
        bin_width=0.5,
        backend="sequential",
    )
    assert all(
        (tmp_path / "all" / f"run_{data.run}_module{m}.h5").stat().st_mtime_ns == t
        for m, t in mtimes.items()
    )
    assert_same_files(tmp_path / "all", ref, data.run, mods)
    assert no_dask_jobs(name) and no_dask_jobs(name2)


def _job_ids(cluster):
    ids = [j.job_id for j in cluster.workers.values() if j.job_id]
    assert ids, "the dask-jobqueue jobs have no SLURM job id"
    return ids


def _scancel(ids):
    subprocess.run(["scancel", *ids], check=True)


class _Killer:
    """Calls `kill` once the first module file of `path` appears (the run is under way)."""

    def __init__(self, kill, path, run):
        import threading

        self.kill, self.path, self.run = kill, Path(path), run
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            if self.path.is_dir() and any(self.path.glob(f"run_{self.run}_module*.h5")):
                self.kill()
                return
            time.sleep(0.05)

    def start(self):
        self.thread.start()

    def join(self):
        self.thread.join(timeout=60)


def test_template_with_slurm_cluster(loopback, dssc, tmp_path, capsys):
    data, dark, ref = dssc
    out = tmp_path / "tpl"
    rc = cli.main(
        [
            "run",
            "dssc_binning",
            "-p",
            f"proposal={data.proposal}",
            "-p",
            f"run={data.run}",
            "-p",
            f"dark_run={dark.run}",
            "-p",
            "bin_width=0.5",
            "-p",
            "module_group=0",
            "-p",
            "cluster=slurm",
            "-p",
            "n_workers=2",
            "-p",
            f"path={out / 'files'}",
            "--kernel",
            "python3",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0, capsys.readouterr()
    assert_same_files(out / "files", ref, data.run, MODULES[:4])
    html = (out / f"dssc_binning_r{data.run:04d}.html").read_text()
    assert "#SBATCH" in html and "127.0.0.1" in html  # the printed job script
    assert no_dask_jobs("dask-worker"), jobs_named("dask-worker")
