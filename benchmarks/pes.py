"""PES time-of-flight spectra: get_pes_tof (chunked reads + numba cut kernel)
vs the per-pulse xarray slicing a notebook would do.

Simulates the 'pes' scenario at size='large' (400 trains, 10 SASE3 pulses,
16 tubes of 4960 samples) in a temporary data root, then times for one tube:

* ``tb.get_pes_tof`` end to end (files read in bounded chunks, pulse ids
  from the bunch pattern, spectra cut and baseline-subtracted by the kernel);
* a reference: the whole trace array loaded with extra_data (``xarray()``),
  then one ``isel`` slice per pulse, baseline subtracted, concatenated on
  ``sa3_pId`` (the ToolBox's approach);

checks that both give the same spectra and prints the ratio of their times.

    .venv/bin/python benchmarks/pes.py [--trains N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def reference(run, mnemonic, start, width, base_start, base_width, pulse_ids):
    import xarray as xr

    import scs_nb as tb

    arr = tb.get_array(run, mnemonic)
    dim = arr.dims[1]
    spectra = []
    for pid in pulse_ids:
        o = (pid - pulse_ids[0]) * 440 + start
        s = arr.isel({dim: slice(o, o + width)}).astype(np.float32)
        b = arr.isel({dim: slice(o + base_start, o + base_start + base_width)}).mean(dim)
        spectra.append((s - b).assign_coords({dim: np.arange(width)}))
    return (
        xr.concat(spectra, "sa3_pId")
        .assign_coords(sa3_pId=pulse_ids)
        .transpose("trainId", "sa3_pId", dim)
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trains", type=int, default=None, help="default: 400 (size='large')")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scs_nb_bench_") as root:
        os.environ["EXTRA_DATA_DATA_ROOT"] = root
        import scs_nb as tb
        from scs_nb import sim

        t0 = time.perf_counter()
        res = sim.simulate("pes", 900101, 1, data_root=root, size="large", trains=args.trains)
        ntr = len(res.truth["train_ids"])
        print(f"simulated {ntr} trains in {time.perf_counter() - t0:.1f} s: {res.run_dir}")
        t = res.truth["pes"]
        kw = dict(
            start=t["start"], subtract_baseline=True, baseStart=t["start"] + 400, baseWidth=30
        )
        tb.get_pes_tof(900101, 1, "PES_2Araw", **kw)  # compile / load the kernel
        run = tb.open_run(900101, 1)
        pids = np.asarray(tb.get_sase_pId(run, "sase3"))
        fast, ref = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            a = tb.get_pes_tof(900101, 1, "PES_2Araw", **kw)
            fast.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            b = reference(run, "PES_2Araw", t["start"], t["width"], 400, 30, pids)
            ref.append(time.perf_counter() - t0)
        assert np.allclose(a.values, b.values, atol=1e-3), "get_pes_tof differs from the reference"
        tf, tr = min(fast), min(ref)
        print(
            f"get_pes_tof: {tf:.3f} s ({ntr / tf:.0f} trains/s); reference (xarray isel per "
            f"pulse): {tr:.3f} s ({ntr / tr:.0f} trains/s)"
        )
        print(f"ratio get_pes_tof vs per-pulse xarray slicing: {tr / tf:.1f}x")


if __name__ == "__main__":
    main()
