"""Live analysis speed: the karabo bridge into XGM, MCP peaks and the DSSC binning.

Simulates, in a temporary data root, a delay scan (XGM, MCP raw traces, BAM) and a
DSSC delay scan of one module, then measures:

  (a) trains/s sustained through ``Stream`` + ``get_xgm`` + MCP peaks (``dataset()``,
      raw traces integrated with windows found once) on one core: the run is
      served by ``scs-nb live-replay`` (a separate process, no rate limit) and the
      receiving process is pinned to one CPU; goal >= 100 trains/s (10x the
      facility's 10 Hz);
  (b) ``LiveBinner`` frames/s (10 trains per update, as a live view refreshes)
      against the engine of ``bin_dssc`` (``bin_module_dataset``, one core, no
      prefetch thread) on the same frames, dark subtracted and XGM normalised;
      goal >= 0.8x.

Prints the figures and the ratios to the goals. The files are deleted unless --keep.

    python benchmarks/live.py [--trains 400] [--dssc-trains 100] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

PROPOSAL = 900098


def _pin_one_core():
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})
    return cpus[-1]


def bench_stream(run_nb, ntrains, hold=200):
    """(a): trains/s through Stream + XGM + MCP peaks."""
    from scs_nb.live import Stream

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scs_nb.cli",
            "live-replay",
            str(PROPOSAL),
            str(run_nb),
            "--port",
            "0",
            "--rate",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        endpoint = line.split(" on ", 1)[1].strip()
        s = Stream(endpoint, ["SCS_SA3", "MCP2raw"], max_trains=hold)
        s.wait(1, timeout=60)
        t0, first = time.perf_counter(), int(s.train_ids[0])
        done, refreshes = 0, 0
        while done < ntrains - 1:
            ds = s.dataset()  # XGM aligned, MCP peaks of the new trains integrated
            refreshes += 1
            done = int(ds.trainId.values[-1]) - first
            if s.error:
                raise s.error
            if time.perf_counter() - t0 > 300:
                break
        dt = time.perf_counter() - t0
        s.stop()
        assert "MCP2peaks" in ds and "SCS_SA3" in ds
        return done / dt, refreshes, s.dropped
    finally:
        proc.terminate()
        proc.wait(10)


def bench_binner(run_nb, dark_nb, per_update=10):
    """(b): LiveBinner frames/s against bin_dssc's engine on the same frames."""
    import scs_nb as tb
    from scs_nb.detectors.dssc.binning import LiveBinner, dssc_dark, dssc_xaxis, raw
    from scs_nb.detectors.dssc.binning.bins import create_dssc_bins, pattern_binner
    from scs_nb.detectors.dssc.binning.inputs import get_xgm_formatted
    from scs_nb.detectors.dssc.binning.reduce import bin_module_dataset
    from scs_nb.detectors.dssc.binning.run import _round_bins
    from scs_nb.detectors.frames import warm_up
    from scs_nb.live import Replay, Stream

    warm_up()
    dark = dssc_dark(PROPOSAL, dark_nb, 0)
    run = tb.open_run(PROPOSAL, run_nb)
    lb = LiveBinner([0], xaxis="delay", bin_width=0.1, dark={0: dark})
    with Replay(run, rate=0) as r:  # the frames in memory, as a live stream holds them
        s = Stream(r.endpoint, lb.fields, frames=lb.frames, max_trains=len(run.train_ids))
        s.wait(len(run.train_ids), timeout=300)
        s.stop()
    items = s.trains()
    mem = s.live_data()
    nframes = sum(r["dssc0"].shape[0] for _, r in items)

    def live():
        lb.reset()
        for k in range(0, len(items), per_update):
            part = items[k : k + per_update]
            tids = np.array([t for t, _ in part], np.uint64)
            data = mem.data.sel(trainId=tids)
            lb.add(tids, {"dssc0": [r["dssc0"] for _, r in part]}, data)
        return lb.result()

    run_dir = raw.run_directory(PROPOSAL, run_nb)
    fpt = raw.index_module(run_dir, 0).frames_per_train
    x = dssc_xaxis(run, "delay")
    binners = {
        "trainId": create_dssc_bins("trainId", x.trainId.values, _round_bins(x.values, 0.1)),
        "pulse": pattern_binner(("pumped", "unpumped"), fpt),
    }
    xgm = get_xgm_formatted(run, "SCS_SA3", 1)

    def engine():
        return bin_module_dataset(
            run_dir, 0, binners, dark_image=dark, xgm=xgm, xgm_normalization=True, prefetch=False
        )

    t_live = min(_timed(live) for _ in range(3))
    t_engine = min(_timed(engine) for _ in range(3))
    return nframes / t_live, nframes / t_engine, nframes


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trains", type=int, default=400, help="trains of the delay scan")
    ap.add_argument("--dssc-trains", type=int, default=100, help="trains of the DSSC run")
    ap.add_argument("--dir", default=None, help="data root (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the simulated runs")
    args = ap.parse_args(argv)
    root = args.dir or tempfile.mkdtemp(prefix="live-bench-")
    os.environ["EXTRA_DATA_DATA_ROOT"] = root
    from scs_nb import sim

    try:
        sim.simulate("delay_scan", PROPOSAL, 1, data_root=root, trains=args.trains, overwrite=True)
        sim.simulate(
            "dssc_delay_scan",
            PROPOSAL,
            2,
            data_root=root,
            trains=args.dssc_trains,
            modules="0",
            npulses=20,
            overwrite=True,
        )
        sim.simulate(
            "dssc_dark",
            PROPOSAL,
            3,
            data_root=root,
            trains=10,
            modules="0",
            npulses=20,
            overwrite=True,
        )
        cpu = _pin_one_core()
        print(f"receiving process pinned to CPU {cpu}; the replay runs in its own process")
        rate, refreshes, dropped = bench_stream(1, args.trains)
        print(
            f"(a) Stream + get_xgm + MCP peaks: {rate:.0f} trains/s sustained over "
            f"{args.trains} trains ({refreshes} dataset() refreshes, {dropped} dropped); "
            f"goal >= 100: ratio {rate / 100:.2f}"
        )
        f_live, f_engine, n = bench_binner(2, 3)
        print(
            f"(b) LiveBinner {f_live:.0f} frames/s vs bin_dssc engine {f_engine:.0f} frames/s "
            f"on the same {n} frames (dark, XGM normalisation, delay x pattern bins): "
            f"ratio {f_live / f_engine:.2f} (goal >= 0.8)"
        )
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
