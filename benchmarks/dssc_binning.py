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
    args = ap.parse_args(argv)

    root = args.dir or tempfile.mkdtemp(prefix="scs_nb_dssc_bench_")
    os.environ["EXTRA_DATA_DATA_ROOT"] = root
    from scs_nb import sim
    from scs_nb.detectors.dssc import binning, core, engine, processing
    from scs_nb.detectors.dssc.misc import create_dssc_bins, get_xgm_formatted
    from scs_nb.load import open_run

    frame_bytes = engine.FRAME_BYTES
    trains = max(NBINS, math.ceil(args.size_gb * 1e9 / (args.frames * frame_bytes)))
    try:
        t0 = time.perf_counter()
        data = sim.simulate("dssc_delay_scan", PROPOSAL, RUN, trains=trains, data_root=root,
                            overwrite=True, modules=[0, 1], npulses=args.frames,
                            nsteps=NBINS, start=-2.0, stop=-2.0 + 0.5 * (NBINS - 1),
                            progress=False)
        sim.simulate("dssc_dark", PROPOSAL, DARK, trains=10, data_root=root, overwrite=True,
                     modules=[0, 1], npulses=args.frames)
        tsim = time.perf_counter() - t0
        idx = engine.index_module(str(data.run_dir), 0)
        gb = idx.nbytes / 1e9
        print(f"simulated 2 modules x {gb:.2f} GB ({trains} trains x {args.frames} frames) "
              f"+ dark in {tsim:.0f} s under {root}")

        # inputs of the binning, prepared once (not timed): binners, XGM, dark
        run = open_run(PROPOSAL, RUN, include="*DA*")
        x = binning.dssc_xaxis(run, "delay")
        width = 0.5
        binners = {"trainId": create_dssc_bins("trainId", x.trainId.values,
                                               binning._round_bins(x.values, width)),
                   "pulse": core.pattern_binner(["pumped", "unpumped"], args.frames)}
        nb = len(np.unique(binners["trainId"].values))
        xgm = get_xgm_formatted(run, "SCS_SA3", 1)
        dark = binning.dssc_dark(PROPOSAL, DARK, 0)
        engine.warm_up()
        run_dir = str(data.run_dir)

        def full_binning(prefetch):
            return core.bin_module_dataset(run_dir, 0, binners, dark_image=dark, xgm=xgm,
                                           xgm_normalization=True, train_dim="delay",
                                           prefetch=prefetch)

        ta, nbytes = _best(lambda: engine.read_all(idx), args.repeat)
        tb1, ds = _best(lambda: full_binning(False), args.repeat)
        tb2, _ = _best(lambda: full_binning(True), args.repeat)
        ra, rb1, rb2 = nbytes / ta / 1e9, nbytes / tb1 / 1e9, nbytes / tb2 / 1e9
        print(f"bins: {nb} delay bins x {ds.sizes['pulse']} pulse labels; "
              f"frames binned {int(ds['hist'].sum())}")
        print(f"(a) h5py read_direct        : {ra:6.2f} GB/s  ({ta:.2f} s)")
        print(f"(b) full binning, one core  : {rb1:6.2f} GB/s  ({tb1:.2f} s)  "
              f"ratio b/a = {rb1 / ra:.2f}  (goal >= 0.6)")
        print(f"(b) full binning, prefetch  : {rb2:6.2f} GB/s  ({tb2:.2f} s)  "
              f"ratio b/a = {rb2 / ra:.2f}")

        # peak memory vs run length: half of the trains, then all of them
        half = len(idx.train_ids) // 2
        idx_half = replace(idx, train_ids=idx.train_ids[:half], file_of=idx.file_of[:half],
                           first=idx.first[:half], count=idx.count[:half])
        fb_half = np.zeros((half, idx.frames_per_train), np.int64)
        fb = np.zeros((len(idx.train_ids), idx.frames_per_train), np.int64)
        peaks = []
        for ix, f in ((idx_half, fb_half), (idx, fb)):
            tracemalloc.start()
            engine.bin_module(ix, f % 40, None, 40)
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
        print(f"peak traced memory while binning: {peaks[0]:.0f} MB for {half} trains, "
              f"{peaks[1]:.0f} MB for {len(idx.train_ids)} trains (buffers "
              f"{2 * engine.DEFAULT_BUFFER_MB} MB + accumulators)")
        print(f"process max RSS (includes the simulation): "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

        if not args.skip_workers:
            out = os.path.join(root, "binned")
            for prefetch in (False, True):
                rates = {}
                for n in (1, 2):
                    client, owned = processing.get_client(n)
                    try:
                        client.run(engine.warm_up)
                        dark_f = client.scatter(dark, broadcast=True)

                        def kwargs_of(m):
                            return dict(proposal=PROPOSAL, run_nr=RUN, module=m,
                                        chunksize=None, info=None, dssc_binners=binners,
                                        path=out, dark_image=dark_f, xgm=xgm,
                                        xgm_normalization=True, overwrite=True,
                                        train_dim="delay", prefetch=prefetch)
                        t, _ = _best(lambda: processing.process_modules(
                            processing.process_to_file, [0, 1], kwargs_of, client=client),
                            args.repeat)
                    finally:
                        cl = client.cluster
                        client.close()
                        if owned and cl is not None:
                            cl.close()
                    rates[n] = 2 * nbytes / t / 1e9
                    print(f"2 modules, {n} dask worker(s), "
                          f"{'reader thread' if prefetch else 'one core per task'}: "
                          f"{rates[n]:6.2f} GB/s ({t:.2f} s)")
                goal = ("(goal >= 1.7)" if not prefetch else
                        "(no goal: one worker with its reader thread already uses two cores)")
                print(f"throughput 2 workers / 1 worker "
                      f"({'reader thread' if prefetch else 'one core per task'}) = "
                      f"{rates[2] / rates[1]:.2f}  {goal}; {os.cpu_count()} CPUs here")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
            print(f"removed {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
