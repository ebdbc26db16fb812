"""Run-table speed: the standard SCS variables of a 1000-train run on one core, and
how long after a run is written its row is complete (scs-nb watch, explore_run).

    .venv/bin/python benchmarks/run_table.py [--trains 1000] [--keep]

Targets: all variables <= 30 s; a new run's row complete <= 60 s after the run is.
"""

import argparse
import os
import shutil
import tempfile
import threading
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import scs_nb as tb
from scs_nb import sim
from scs_nb.beamtime.table import run_rows
from scs_nb.beamtime.watch import Watcher
from scs_nb.damnit import variables as V

PROPOSAL = 900099


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trains", type=int, default=1000)
    ap.add_argument("--keep", action="store_true", help="keep the simulated data")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="scs-nb-bench-runtable-")
    os.environ["EXTRA_DATA_DATA_ROOT"] = root
    try:
        sim.simulate(
            "delay_scan",
            PROPOSAL,
            1,
            data_root=root,
            trains=args.trains,
            seed=1,
            extra_mnemonics="transmission",
        )
        run = tb.open_run(PROPOSAL, 1)
        total = 0.0
        print(f"standard variables of a {args.trains}-train delay scan (one core):")
        for v in V.VARIABLES:
            t0 = time.perf_counter()
            try:
                value = v.func(run)
                shown = str(value)[:40]
            except V.DeviceAbsent:
                shown = "(device absent: Skip)"
            dt = time.perf_counter() - t0
            total += dt
            print(f"  {v.name:22s} {dt:6.2f} s  {shown}")
        print(f"all variables: {total:.1f} s (target <= 30 s)")

        w = Watcher(
            PROPOSAL,
            ["explore_run"],
            settle=2.0,
            interval=1.0,
            kernel="python3",
            first_run=2,
            echo=lambda line: None,
        )
        stop = threading.Event()
        th = threading.Thread(target=w.run, kwargs={"stop": stop})
        th.start()
        try:
            sim.simulate("delay_scan", PROPOSAL, 2, data_root=root, trains=args.trains, seed=2)
            t_run = time.monotonic()
            while time.monotonic() - t_run < 300:
                row = {r["run"]: r for r in run_rows(PROPOSAL, with_damnit=False)}.get(2, {})
                if row.get("explore_run.status") in ("done", "failed"):
                    break
                time.sleep(0.5)
            latency = time.monotonic() - t_run
        finally:
            stop.set()
            th.join()
        print(
            f"new run's row complete (explore_run {row.get('explore_run.status')}): "
            f"{latency:.1f} s after the run was written (target <= 60 s, settle 2 s)"
        )
    finally:
        if args.keep:
            print(f"data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
