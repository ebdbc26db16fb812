"""Digitizer peak integration: vectorised get_peaks vs a per-train Python loop.

Simulates a 2000-train ADQ412 run (scenario 'tim_peaks', size='large': 20
SASE3 pulses at 1.1 MHz, MCP2 raw traces of ~34k samples) in a temporary data
root, loads the raw traces once, then times on the same in-memory traces:

* ``tb.get_peaks`` (vectorised window gather, pulse ids from the bunch pattern)
* a reference: a Python loop over trains and pulses, slicing each window

and prints trains/s of each and their ratio (goal >= 20x). The numba kernel
behind get_peaks shares the trains among the cores (prange); the reference
is one Python thread, as a per-train notebook loop would be. It also times
``tb.get_digitizer_peaks`` end to end (reading the files included).

    .venv/bin/python benchmarks/peaks.py [--trains N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def reference_peaks(traces, pulse_ids_per_train, params, sps=440, polarity=-1):
    """The per-train, per-pulse Python implementation."""
    first = min(ids[0] for ids in pulse_ids_per_train if len(ids))
    width = params["pulseStop"] - params["pulseStart"]
    out = []
    for trace, ids in zip(traces, pulse_ids_per_train):
        row = []
        for pid in ids:
            o = (pid - first) * sps
            s = trace[params["pulseStart"] + o : params["pulseStop"] + o].sum(dtype=np.int64)
            b = trace[params["baseStart"] + o : params["baseStop"] + o].mean()
            row.append(polarity * (s - b * width))
        out.append(row)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trains", type=int, default=None, help="default: 2000 (size='large')")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scs_nb_bench_") as root:
        os.environ["EXTRA_DATA_DATA_ROOT"] = root
        import scs_nb as tb
        from scs_nb import sim
        from scs_nb.pulses import bunch_pattern as bp

        t0 = time.perf_counter()
        res = sim.simulate(
            "tim_peaks", 900100, 1, data_root=root, size="large", trains=args.trains
        )
        print(
            f"simulated {len(res.truth['train_ids'])} trains in "
            f"{time.perf_counter() - t0:.1f} s: {res.run_dir}"
        )
        run = tb.open_run(900100, 1)
        t0 = time.perf_counter()
        data = (
            run["SCS_UTC1_ADQ/ADC/1:network", "digitizers.channel_1_C.raw.samples"]
            .xarray()
            .rename({"dim_0": "samplesId"})
        )
        t_read = time.perf_counter() - t0
        n = data.sizes["trainId"]
        print(
            f"raw traces: {data.shape} {data.dtype} ({data.nbytes / 1e6:.0f} MB), "
            f"read in {t_read:.2f} s"
        )
        params = tb.check_peak_params(run, "MCP2raw", raw_trace=data.mean("trainId"), plot=False)
        # both sides get the bunch pattern table read once (pulse ids decoded inside
        # get_peaks, given per train to the reference)
        bpt = bp.load_bpt(run)
        per_train = bp.pulse_ids(run, "sase3", bpt=bpt).per_train()

        def best(f):
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                r = f()
                times.append(time.perf_counter() - t)
            return min(times), r

        t_vec, da = best(
            lambda: tb.get_peaks(run, data, "MCP2raw", autoFind=False, integParams=params, bpt=bpt)
        )
        t_ref, ref = best(lambda: reference_peaks(data.values, per_train, params))
        diff = max(
            np.max(np.abs(row[np.isfinite(row)] - np.asarray(r))) for row, r in zip(da.values, ref)
        )
        t_auto, _ = best(lambda: tb.get_peaks(run, data, "MCP2raw", bpt=bpt))
        t_e2e, _ = best(lambda: tb.get_digitizer_peaks(run, "MCP2raw"))
        print(f"max |vectorised - reference| = {diff:.3g} (ADC counts x samples)")
        print(f"reference (Python loop over trains and pulses): {n / t_ref:10.0f} trains/s")
        print(f"get_peaks vectorised, explicit integParams:     {n / t_vec:10.0f} trains/s")
        print(f"get_peaks vectorised, autoFind:                 {n / t_auto:10.0f} trains/s")
        print(f"get_digitizer_peaks from files (read included): {n / t_e2e:10.0f} trains/s")
        print(f"ratio vectorised / reference: {t_ref / t_vec:.1f}x (goal >= 20x)")


if __name__ == "__main__":
    main()
