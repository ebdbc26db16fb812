"""DSSC binning speed: the engine against a plain h5py read of the same data.

Simulates two DSSC modules of --size-gb each (default 2 GB, 100 frames per
train, pump-probe delay scan in 20 steps) and a dark run in a temporary data
root, then measures on module 0:

  (a) plain h5py ``read_direct`` of all image data into a reused buffer;
  (b) the full binning of the same data: dark subtraction per memory cell,
      XGM normalisation, pattern pumped/unpumped x 20 delay bins — once on one
      core (no prefetch thread) and once with the reader thread;

prints GB/s of each and the ratio b/a (goal >= 0.6 on one core), then the
throughput of binning both modules with 2 dask workers against 1 (goal
>= 1.7x), and the peak traced memory of binning half and all of the module
(it must not grow with run length). The generated files are deleted unless
--keep. Other processes on the machine (page cache, CPU) affect the figures.

    python benchmarks/dssc_binning.py [--size-gb 2] [--frames 100] [--dir DIR] [--keep]

With ``--cluster local`` or ``--cluster slurm`` the last part is instead: the task that
bin_dssc sends to a dask worker (bin one module into its file) run in this process,
then on one dask worker (a LocalCluster worker, or a dask-jobqueue SLURM job: needs a
SLURM cluster, e.g. tests/slurm/start-cluster.sh), and the ratio of the two rates
(goal >= 0.9 per worker); also the engine alone and the file write, to show where the
time of a task goes.

    python benchmarks/dssc_binning.py --cluster slurm [--size-gb 0.5]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace

import numpy as np

PROPOSAL = 900099
RUN, DARK = 1, 2
NBINS = 20


def _best(fn, repeat):
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-gb", type=float, default=2.0, help="raw size per module (GB)")
    ap.add_argument("--frames", type=int, default=100, help="DSSC frames per train")
    ap.add_argument("--dir", help="where to simulate (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the simulated files")
    ap.add_argument("--repeat", type=int, default=3, help="timing repeats (best is kept)")
    ap.add_argument("--skip-workers", action="store_true", help="skip the dask comparison")
    ap.add_argument(
        "--cluster",
        choices=("local", "slurm"),
        help="compare one dask worker of this kind with the same task in-process",
    )
    args = ap.parse_args(argv)

    root = args.dir or tempfile.mkdtemp(prefix="scs_nb_dssc_bench_")
    os.environ["EXTRA_DATA_DATA_ROOT"] = root
    from scs_nb import sim
    from scs_nb.detectors import frames
    from scs_nb.detectors.dssc.binning import bins, raw, reduce
    from scs_nb.detectors.dssc.binning import process as processing
    from scs_nb.detectors.dssc.binning import run as binning
    from scs_nb.detectors.dssc.binning.inputs import create_dssc_bins, get_xgm_formatted
    from scs_nb.load import open_run

    frame_bytes = raw.FRAME_BYTES
    trains = max(NBINS, math.ceil(args.size_gb * 1e9 / (args.frames * frame_bytes)))
    try:
        t0 = time.perf_counter()
        data = sim.simulate(
            "dssc_delay_scan",
            PROPOSAL,
            RUN,
            trains=trains,
            data_root=root,
            overwrite=True,
            modules=[0, 1],
            npulses=args.frames,
            nsteps=NBINS,
            start=-2.0,
            stop=-2.0 + 0.5 * (NBINS - 1),
            progress=False,
        )
        sim.simulate(
            "dssc_dark",
            PROPOSAL,
            DARK,
            trains=10,
            data_root=root,
            overwrite=True,
            modules=[0, 1],
            npulses=args.frames,
        )
        tsim = time.perf_counter() - t0
        idx = raw.index_module(str(data.run_dir), 0)
        gb = idx.nbytes / 1e9
        print(
            f"simulated 2 modules x {gb:.2f} GB ({trains} trains x {args.frames} frames) "
            f"+ dark in {tsim:.0f} s under {root}"
        )

        # inputs of the binning, prepared once (not timed): binners, XGM, dark
        run = open_run(PROPOSAL, RUN, include="*DA*")
        x = binning.dssc_xaxis(run, "delay")
        width = 0.5
        binners = {
            "trainId": create_dssc_bins(
                "trainId", x.trainId.values, binning._round_bins(x.values, width)
            ),
            "pulse": bins.pattern_binner(["pumped", "unpumped"], args.frames),
        }
        nb = len(np.unique(binners["trainId"].values))
        xgm = get_xgm_formatted(run, "SCS_SA3", 1)
        dark = binning.dssc_dark(PROPOSAL, DARK, 0)
        frames.warm_up()
        run_dir = str(data.run_dir)

        def full_binning(prefetch):
            return reduce.bin_module_dataset(
                run_dir,
                0,
                binners,
                dark_image=dark,
                xgm=xgm,
                xgm_normalization=True,
                train_dim="delay",
                prefetch=prefetch,
            )

        ta, nbytes = _best(lambda: frames.read_all(idx), args.repeat)
        tb1, ds = _best(lambda: full_binning(False), args.repeat)
        tb2, _ = _best(lambda: full_binning(True), args.repeat)
        ra, rb1, rb2 = nbytes / ta / 1e9, nbytes / tb1 / 1e9, nbytes / tb2 / 1e9
        print(
            f"bins: {nb} delay bins x {ds.sizes['pulse']} pulse labels; "
            f"frames binned {int(ds['hist'].sum())}"
        )
        print(f"(a) h5py read_direct        : {ra:6.2f} GB/s  ({ta:.2f} s)")
        print(
            f"(b) full binning, one core  : {rb1:6.2f} GB/s  ({tb1:.2f} s)  "
            f"ratio b/a = {rb1 / ra:.2f}  (goal >= 0.6)"
        )
        print(
            f"(b) full binning, prefetch  : {rb2:6.2f} GB/s  ({tb2:.2f} s)  "
            f"ratio b/a = {rb2 / ra:.2f}"
        )

        # peak memory vs run length: half of the trains, then all of them
        half = len(idx.train_ids) // 2
        idx_half = replace(
            idx,
            train_ids=idx.train_ids[:half],
            file_of=idx.file_of[:half],
            first=idx.first[:half],
            count=idx.count[:half],
        )
        fb_half = np.zeros((half, idx.frames_per_train), np.int64)
        fb = np.zeros((len(idx.train_ids), idx.frames_per_train), np.int64)
        peaks = []
        for ix, f in ((idx_half, fb_half), (idx, fb)):
            tracemalloc.start()
            frames.bin_frames(ix, f % 40, None, 40)
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
        print(
            f"peak traced memory while binning: {peaks[0]:.0f} MB for {half} trains, "
            f"{peaks[1]:.0f} MB for {len(idx.train_ids)} trains (buffers "
            f"{2 * frames.DEFAULT_BUFFER_MB} MB + accumulators)"
        )
        print(
            f"process max RSS (includes the simulation): "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )

        if args.cluster:
            cluster_comparison(
                args.cluster,
                args.repeat,
                nbytes,
                tb2,
                dict(
                    proposal=PROPOSAL,
                    run_nr=RUN,
                    module=0,
                    chunksize=None,
                    info=None,
                    dssc_binners=binners,
                    path=os.path.join(root, "binned"),
                    dark_image=dark,
                    xgm=xgm,
                    xgm_normalization=True,
                    overwrite=True,
                    train_dim="delay",
                    prefetch=True,
                ),
            )
        elif not args.skip_workers:
            out = os.path.join(root, "binned")
            for prefetch in (False, True):
                rates = {}
                for n in (1, 2):
                    client, owned = processing.get_client(n)
                    try:
                        client.run(frames.warm_up)
                        dark_f = client.scatter(dark, broadcast=True)

                        def kwargs_of(m):
                            return dict(
                                proposal=PROPOSAL,
                                run_nr=RUN,
                                module=m,
                                chunksize=None,
                                info=None,
                                dssc_binners=binners,
                                path=out,
                                dark_image=dark_f,  # noqa: B023 (called in this iteration)
                                xgm=xgm,
                                xgm_normalization=True,
                                overwrite=True,
                                train_dim="delay",
                                prefetch=prefetch,  # noqa: B023
                            )

                        t, _ = _best(
                            lambda: processing.process_modules(
                                processing.process_to_file,
                                [0, 1],
                                kwargs_of,
                                client=client,  # noqa: B023
                            ),
                            args.repeat,
                        )
                    finally:
                        cl = client.cluster
                        client.close()
                        if owned and cl is not None:
                            cl.close()
                    rates[n] = 2 * nbytes / t / 1e9
                    print(
                        f"2 modules, {n} dask worker(s), "
                        f"{'reader thread' if prefetch else 'one core per task'}: "
                        f"{rates[n]:6.2f} GB/s ({t:.2f} s)"
                    )
                goal = (
                    "(goal >= 1.7)"
                    if not prefetch
                    else "(no goal: one worker with its reader thread already uses two cores)"
                )
                print(
                    f"throughput 2 workers / 1 worker "
                    f"({'reader thread' if prefetch else 'one core per task'}) = "
                    f"{rates[2] / rates[1]:.2f}  {goal}; {os.cpu_count()} CPUs here"
                )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
            print(f"removed {root}")
    return 0


def _timed_task(**kwargs):
    """The worker's view: seconds the task itself took (runs on the worker)."""
    import resource as _resource
    import time as _time

    from scs_nb.detectors.dssc.binning import process as processing

    f0 = _resource.getrusage(_resource.RUSAGE_SELF).ru_minflt
    t0, c0 = _time.perf_counter(), _time.process_time()
    processing.process_to_file(**kwargs)
    return (
        _time.perf_counter() - t0,
        _resource.getrusage(_resource.RUSAGE_SELF).ru_minflt - f0,
        _time.process_time() - c0,
    )


def _untuned_faults(**kwargs):
    """Page faults of the task in a fresh worker process with the nanny's malloc
    settings as they are (runs on the worker: a subprocess keeps the worker tuned)."""
    import json
    import subprocess
    import sys as _sys

    code = (
        "import json, pickle, sys, resource\n"
        "from scs_nb.detectors import frames\n"
        "from scs_nb.detectors.dssc.binning import process as processing\n"
        "frames.warm_up()\n"
        "kw = pickle.load(sys.stdin.buffer)\n"
        "processing._MALLOC_TUNED = True\n"
        "best = None\n"
        "for _ in range(3):\n"
        "    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "    processing.process_to_file(**kw)\n"
        "    f = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0\n"
        "    best = f if best is None else min(best, f)\n"
        "print(json.dumps(best))\n"
    )
    import pickle

    proc = subprocess.run(
        [_sys.executable, "-c", code],
        input=pickle.dumps(kwargs),
        stdout=subprocess.PIPE,
        check=True,
    )
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def cluster_comparison(kind, repeat, nbytes, t_engine, kwargs):
    """One module's dask task in this process and on one dask worker of ``kind``,
    interleaved (in-process, worker, in-process, ...) so that a slow spell of the
    machine hits both sides alike; best and median of each."""
    from distributed import Client

    from scs_nb.detectors import frames
    from scs_nb.detectors.dssc.binning import process as processing
    from scs_nb.detectors.dssc.binning import raw, reduce, store
    from scs_nb.parallel.cluster import make_cluster

    ds = reduce.bin_module_dataset(
        str(raw.run_directory(kwargs["proposal"], kwargs["run_nr"])),
        0,
        kwargs["dssc_binners"],
        dark_image=kwargs["dark_image"],
        xgm=kwargs["xgm"],
        xgm_normalization=True,
        train_dim="delay",
    )
    t_write, _ = _best(
        lambda: store.write_module_file(ds, os.path.join(kwargs["path"], "w.h5")), repeat
    )
    if kind == "slurm":
        os.environ.setdefault("SCS_NB_DASK_HOST", "127.0.0.1")
        cluster = make_cluster(
            "slurm", cores=1, processes=1, memory="4GB", walltime="00:30:00", jobs=1
        )
    else:
        cluster = make_cluster("local", cores=1, dashboard_address=None)
    rounds = max(repeat, 5)
    here_t, dask_t, overhead = [], [], []
    try:
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=300)
            client.run(frames.warm_up)
            where = list(client.scheduler_info()["workers"].values())[0]
            kw = dict(kwargs, dark_image=client.scatter(kwargs["dark_image"], broadcast=True))
            processing.process_to_file(**kwargs)  # warm
            client.submit(processing.process_to_file, pure=False, **kw).result()  # warm
            for _ in range(rounds):
                t0 = time.perf_counter()
                processing.process_to_file(**kwargs)
                here_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                took = client.submit(_timed_task, pure=False, **kw).result()[0]
                dask_t.append(time.perf_counter() - t0)
                overhead.append(dask_t[-1] - took)
            here = [_timed_task(**kwargs) for _ in range(repeat)]
            inside = [client.submit(_timed_task, pure=False, **kw).result() for _ in range(repeat)]
            # the same without the malloc tuning of processing.tune_worker_malloc
            untuned = client.submit(_untuned_faults, pure=False, **kw).result()
    finally:
        cluster.close()
    faults_here, cpu_here = min(h[1] for h in here), min(h[2] for h in here)
    t_inside = min(h[0] for h in inside)
    faults = min(h[1] for h in inside)
    cpu_worker = min(h[2] for h in inside)
    t_task, t_dask = min(here_t), min(dask_t)
    med_task, med_dask = float(np.median(here_t)), float(np.median(dask_t))
    rate = {
        k: nbytes / t / 1e9
        for k, t in (
            ("engine", t_engine),
            ("task", t_task),
            ("dask", t_dask),
            ("inside", t_inside),
        )
    }
    print(
        f"one module's task, in this process      : {rate['task']:6.2f} GB/s ({t_task:.2f} s,"
        f" median {med_task:.2f} s of {rounds}) = engine {t_engine:.2f} s + module file "
        f"write {t_write:.2f} s + rest"
    )
    print(
        f"the same task on 1 {kind} dask worker    : {rate['dask']:6.2f} GB/s ({t_dask:.2f} s,"
        f" median {med_dask:.2f} s; {t_inside:.2f} s of it inside the worker) on "
        f"{where.get('host', '?')} ({where.get('name', '')})"
    )
    print(
        f"outside the task (arguments, scheduling, result): median "
        f"{1e3 * float(np.median(overhead)):.0f} ms per task"
    )
    print(
        f"minor page faults per task: {faults_here} in this process, {faults} on the "
        f"worker ({untuned} there without processing.tune_worker_malloc)"
    )
    print(
        f"ratio {kind} dask worker / in-process task: {rate['dask'] / rate['task']:.2f}x"
        f" best, {med_task / med_dask:.2f}x median of {rounds} interleaved rounds"
        "  (goal >= 0.9)"
    )
    print(
        f"CPU seconds per task: {cpu_here:.2f} in this process, {cpu_worker:.2f} in the "
        f"worker process; ratio {kind} dask worker / in-process by CPU time: "
        f"{cpu_here / cpu_worker:.2f}x (the figure a loaded machine disturbs least)"
    )
    print(
        f"ratio {kind} dask worker / in-process engine alone (no file write): "
        f"{rate['dask'] / rate['engine']:.2f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
