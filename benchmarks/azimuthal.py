"""DSSC azimuthal integration: scs_nb 'exact' hexagon splitting vs pyFAI bbox CSR.

Same DSSC 1M geometry (``scs_nb.facility.dssc_geometry()``, pyFAI through
extra_geom's ``to_pyfai_detector()``), 500 radial bins in q (nm^-1, 0.5 m,
930 eV), the same stack of 1 Mpix frames (the simulator's two scattering rings,
Poisson photons, float32), one thread each (numba ``set_num_threads(1)``;
pyFAI's Cython CSR engine with ``OMP_NUM_THREADS=1``, set before pyFAI loads).
Prints frames/s of both, their ratio (goal >= 3x) and both matrix build times
(exact: our numba build, its JIT compile excluded; pyFAI: its first
integrate1d call minus a later one).

    .venv/bin/python benchmarks/azimuthal.py [--frames 48] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ["OMP_NUM_THREADS"] = "1"  # pyFAI's OpenMP engine: one thread

import numpy as np


def frames_stack(n, seed=0):
    from scs_nb.sim import dssc as simdssc

    truth = {"distance_m": 0.5, "quad_pos": None, "rings": simdssc.DEFAULT_RINGS}
    prof = simdssc.ring_profiles(truth, 930.0)  # (ring, 16, 128, 512)
    mu = 20 * (0.1 + prof[0] + 0.6 * prof[1])
    rng = np.random.default_rng(seed)
    return rng.poisson(mu, (n,) + mu.shape).astype(np.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--npt", type=int, default=500)
    args = ap.parse_args(argv)
    import numba

    numba.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="scs_nb_bench_az_") as cache:
        os.environ["SCS_NB_CACHE"] = cache
        from scs_nb.detectors.dssc import azimuthal as az
        from scs_nb.facility import dssc_geometry

        geom = dssc_geometry()
        kw = dict(npt=args.npt, unit="q_nm^-1", distance=0.5, energy=930.0)
        stack = frames_stack(args.frames)
        flat = stack.reshape(len(stack), -1)
        print(
            f"stack: {stack.shape} float32 ({stack.nbytes / 2**20:.0f} MiB), "
            f"{args.npt} bins, one thread each"
        )
        # warm the numba kernels (compile or load) on a tiny problem
        az.azimuthal_matrix(
            polygons=az.pixel_polygons(geom)[:64], npt=8, unit="r_mm", cache=False
        ).apply(flat[:1, :64])
        mat = az.azimuthal_matrix(geom, cache=False, **kw)
        radial_range = (
            float(mat.radial[0] - (mat.radial[1] - mat.radial[0]) / 2),
            float(mat.radial[-1] + (mat.radial[1] - mat.radial[0]) / 2),
        )
        print(
            f"exact matrix: {mat.nnz} entries ({mat.nnz / mat.npix:.2f} per pixel), "
            f"build {mat.build_s:.2f} s"
        )
        best_ex = np.inf
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            sums, area = mat.apply(flat)
            best_ex = min(best_ex, time.perf_counter() - t0)
        i_ex = sums / area

        ai = az.pyfai_integrator(geom, 0.5, 930.0)
        img0 = stack[0].reshape(-1, 512)
        pkw = dict(
            unit="q_nm^-1",
            radial_range=radial_range,
            correctSolidAngle=False,
            method=("bbox", "csr", "cython"),
        )
        t0 = time.perf_counter()
        ai.integrate1d(img0, args.npt, **pkw)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        ai.integrate1d(img0, args.npt, **pkw)
        later = time.perf_counter() - t0
        best_py = np.inf
        i_py = None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            i_py = [ai.integrate1d(f.reshape(-1, 512), args.npt, **pkw).intensity for f in stack]
            best_py = min(best_py, time.perf_counter() - t0)
        i_py = np.asarray(i_py)
        fps_ex = len(stack) / best_ex
        fps_py = len(stack) / best_py
        inner = np.isfinite(i_ex[:, 1:-1]) & np.isfinite(i_py[:, 1:-1])
        rel = np.abs(i_ex[:, 1:-1] - i_py[:, 1:-1])[inner] / np.abs(i_py[:, 1:-1][inner]).max()
        print(f"pyFAI bbox CSR matrix: build {first - later:.2f} s")
        print(
            f"exact: {fps_ex:.1f} frames/s; pyFAI bbox CSR: {fps_py:.1f} frames/s "
            f"(max |exact - pyFAI| / max I = {rel.max():.3g})"
        )
        print(f"ratio exact / pyFAI bbox: {fps_ex / fps_py:.1f}x")


if __name__ == "__main__":
    main()
