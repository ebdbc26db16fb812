"""BOZ correction determination: speed of the histogram reductions.

1. One ``nl_crit`` evaluation (fast path: per-frame flat-field-weighted histograms,
   O(frames x 512)) vs a straightforward numpy evaluation of the same criterion
   (per-pixel lookup table, dark, mask, flat field, ROI sums) on the same data.
2. The wall time of the whole I.a on one module: ROIs, plane flat field, refined
   flat field, non-linearity fit, from the run files (loading included).

    .venv/bin/python benchmarks/boz.py             # scaled: 100 trains x 50 pulses, 30-train dark
    .venv/bin/python benchmarks/boz.py --trains 1000 --dark-trains 300   # full size

The runs are simulated first (not timed) into a temporary data root, removed at the end
unless --keep.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trains", type=int, default=100)
    ap.add_argument("--dark-trains", type=int, default=30)
    ap.add_argument("--pulses", type=int, default=50)
    ap.add_argument(
        "--reference-trains",
        type=int,
        default=10,
        help="trains of the data on which fast and numpy criteria are compared",
    )
    ap.add_argument("--root", help="data root (default: a temporary folder, removed at the end)")
    ap.add_argument(
        "--keep", action="store_true", help="keep the temporary data root (GBs) for a rerun"
    )
    args = ap.parse_args(argv)
    root = args.root or tempfile.mkdtemp(prefix="boz-bench-")
    try:
        bench(args, root)
    finally:
        if not args.root and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        elif not args.root:
            print(f"kept the simulated runs in {root} (rerun with --root {root})")


def bench(args, root):
    """Simulate the runs into ``root`` and print the figures."""
    os.environ["EXTRA_DATA_DATA_ROOT"] = root
    from scs_nb import sim
    from scs_nb.routines import boz
    from scs_nb.routines.boz.nonlinearity import nl_crit_reference

    prop = 900777
    t0 = time.perf_counter()
    # (--root of an earlier run of the same size: the runs are reused)
    sim.ensure_run(
        prop, 1, "boz_dark", data_root=root, trains=args.dark_trains, npulses=args.pulses
    )
    sim.ensure_run(
        prop, 2, "boz_membranes", data_root=root, trains=args.trains, npulses=args.pulses
    )
    print(
        f"simulated {args.trains} trains x {args.pulses} pulses (+ intra-darks) and a "
        f"{args.dark_trains}-train dark in {time.perf_counter() - t0:.0f} s (not timed)"
    )

    # -- 2. the whole I.a ---------------------------------------------------------
    t0 = time.perf_counter()
    c0 = time.process_time()
    p = boz.parameters(prop, 1, 2, 15, 3.0)
    p.dask_load_persistently()
    p.set_mask(boz.bad_pixel_map(p))
    dark = boz.average_module(p.arr_dark).compute()
    mean = boz.average_module(p.arr, dark=dark, mask=p.get_mask()).compute()
    p.rois_th = 1.0
    p.rois = boz.find_rois(mean.mean(axis=0), p.rois_th)
    p.sat_level = 500
    p.set_flat_field(p.flat_field_guess(), prod_th=(500, np.inf), ratio_th=(0.5, 1.5))
    p.set_flat_field(boz.plane_fitting(p).x)
    t_ff = time.perf_counter() - t0
    p.ff_alpha, p.ff_max_iter = 0.1, 150
    res, _ = boz.ff_refine_fit(p)
    p.set_flat_field(res.x)
    t_refine = time.perf_counter() - t0
    domain = boz.nl_domain(30, 20, 511)
    p.nl_alpha, p.nl_max_iter = 0.0, 300
    nl, _ = boz.nl_fit(p, domain)
    p.set_Fnl(boz.nl_lut(domain, nl.x))
    t_total = time.perf_counter() - t0
    cpu = time.process_time() - c0
    frames = args.trains * args.pulses
    print(
        f"I.a on {args.trains} trains x {args.pulses} pulses + {args.dark_trains}-train dark "
        f"({frames} frames): flat field {t_ff:.1f} s, refined {t_refine:.1f} s, "
        f"non-linearity ({nl.nit} iterations) total {t_total:.1f} s"
    )
    print(
        f"wall time I.a ({args.trains} trains x {args.pulses} pulses): {t_total / 60:.2f} min "
        f"(CPU time of this process {cpu / 60:.2f} min; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    if args.trains < 1000:
        scale = 1000 * args.pulses / frames
        print(
            f"(scaled case: 1000 trains x {args.pulses} pulses would take about "
            f"{t_total * scale / 60:.1f} min wall, {cpu * scale / 60:.1f} min CPU, linear in "
            "frames: the reductions are one pass "
            "over the data and each criterion evaluation is O(frames x 512))"
        )

    # -- 1. one nl_crit evaluation, fast vs numpy ----------------------------------
    ntr = min(args.reference_trains, args.trains)
    arr = np.asarray(p.arr[:ntr])
    arr_dark = np.asarray(p.arr_dark[: min(ntr, args.dark_trains)])
    ff = boz.compute_flat_field_correction(p.rois, p)
    a = (domain, 0.0, arr_dark, arr, None, p.rois, p.get_mask(), ff, 500)
    boz.nl_crit(nl.x, *a)  # builds the histograms once (not timed)
    n = 20
    t0 = time.perf_counter()
    for _ in range(n):
        v_fast = boz.nl_crit(nl.x, *a)
    t_fast = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    v_ref = nl_crit_reference(nl.x, domain, 0.0, arr_dark, arr, p.rois, p.get_mask(), ff, 500)
    t_ref = time.perf_counter() - t0
    assert abs(v_fast / v_ref - 1) < 1e-5, (v_fast, v_ref)
    print(
        f"one nl_crit evaluation on {ntr * args.pulses} frames: fast {t_fast * 1e3:.2f} ms, "
        f"numpy {t_ref * 1e3:.0f} ms (same value to {abs(v_fast / v_ref - 1):.1e})"
    )
    print(f"ratio nl_crit fast / numpy: {t_ref / t_fast:.1f}x")


if __name__ == "__main__":
    main()
