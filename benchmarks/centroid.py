"""hRIXS single-photon centroiding: the numba kernel vs plain numpy, same algorithm.

Simulates a dark run and a run of 2048 x 2048 Marana X images with ~200 photons
each (scenario 'hrixs_photons', size='large': 40 images, 10 % double hits) in a
temporary data root, reads the images once, then times on the same in-memory
images, one thread each (images/s per core):

* ``hRIXS.centroid_one`` (STD_THRESHOLD threshold) and ``hRIXS.centroid_two``
  (thresholds from the photon energy, double hits) — the numba kernel;
* a reference: the same algorithm (2x2 sums above threshold that are the
  largest of their 8 neighbours, 4x4 centre of mass, 4x4 charge for doubles)
  written with whole-image numpy operations;

checks that both find the same hits, and prints images/s of each and their
ratio (goal: >= 150 images/s per core). It also times ``MaranaX.centroid``
(threads over the images, all cores).

    .venv/bin/python benchmarks/centroid.py [--trains N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def reference_hits(image, dark, threshold):
    """The numpy implementation: (N, 4) x, y, 2x2 sum, 4x4 sum like find_photons."""
    f = image.astype(np.float32) - dark
    s2 = f[:-1, :-1] + f[1:, :-1] + f[:-1, 1:] + f[1:, 1:]  # block (bi, bj)
    nx, ny = f.shape
    core = s2[1 : nx - 2, 1 : ny - 2]  # bi in [1, nx-3]
    cand = core >= threshold
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == 0 and dj == 0:
                continue
            nb = s2[1 + di : nx - 2 + di, 1 + dj : ny - 2 + dj]
            if di < 0 or (di == 0 and dj < 0):
                cand &= core > nb
            else:
                cand &= core >= nb
    bi, bj = np.nonzero(cand)
    bi, bj = bi + 1, bj + 1
    off = np.arange(-1, 3)
    rows = bi[:, None, None] + off[None, :, None]
    cols = bj[:, None, None] + off[None, None, :]
    win = f[rows, cols].astype(np.float64)
    tot = win.sum(axis=(1, 2))
    x = (win * rows).sum(axis=(1, 2)) / tot
    y = (win * cols).sum(axis=(1, 2)) / tot
    return np.stack([x, y, s2[bi, bj], tot], axis=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trains", type=int, default=None, help="default: 40 (size='large')")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scs_nb_bench_") as root:
        os.environ["EXTRA_DATA_DATA_ROOT"] = root
        from scs_nb import sim
        from scs_nb.detectors.hrixs import MaranaX, find_photons
        from scs_nb.facility import MARANAX_EV_PER_ADU

        t0 = time.perf_counter()
        sim.simulate("hrixs_dark", 900100, 1, data_root=root)
        res = sim.simulate(
            "hrixs_photons", 900100, 2, data_root=root, size="large", trains=args.trains
        )
        print(
            f"simulated {len(res.truth['train_ids'])} images in "
            f"{time.perf_counter() - t0:.1f} s: {res.run_dir}"
        )
        h = MaranaX(900100)
        h.load_dark(1)
        t0 = time.perf_counter()
        data = h.from_run(2)
        images = data["MaranaX"].values
        energies = data["nrj"].values.astype(float)
        print(
            f"images: {images.shape} {images.dtype} ({images.nbytes / 1e6:.0f} MB), "
            f"read in {time.perf_counter() - t0:.2f} s; "
            f"{np.mean(res.truth['hrixs']['hits_per_image']):.0f} hits per image"
        )
        dark = np.ascontiguousarray(h.dark_image.values, np.float32)
        n = len(images)
        thr_one = h._threshold(images[0], dark)
        thr_two = h.AUTO_THRESHOLD * energies[0] / MARANAX_EV_PER_ADU
        # compile and check agreement on every image
        same = 0
        for img in images:
            a = find_photons(img, thr_two, dark)
            b = reference_hits(img, dark, thr_two)
            a, b = a[np.lexsort((a[:, 1], a[:, 0]))], b[np.lexsort((b[:, 1], b[:, 0]))]
            same += len(a) == len(b) and np.allclose(a, b, atol=1e-6)
        print(f"numba and numpy find the same hits in {same} of {n} images")

        def rate(f):
            best = np.inf
            for _ in range(args.repeat):
                t = time.perf_counter()
                for i in range(n):
                    f(i)
                best = min(best, time.perf_counter() - t)
            return n / best

        r_one = rate(lambda i: h.centroid_one(images[i]))
        r_two = rate(lambda i: h.centroid_two(images[i], energies[i]))
        one = energies[0] / MARANAX_EV_PER_ADU

        def numpy_two(i):
            hits = reference_hits(images[i], dark, thr_two)
            dbl = hits[:, 3] >= h.DBL_THRESHOLD * one
            return hits[~dbl], hits[dbl]

        r_np_one = rate(lambda i: reference_hits(images[i], dark, thr_one))
        r_np_two = rate(numpy_two)
        t = time.perf_counter()
        h.centroid(data)
        r_par = n / (time.perf_counter() - t)
        print(f"centroid_one (numba): {r_one:7.1f} images/s per core")
        print(f"centroid_one (numpy): {r_np_one:7.1f} images/s per core")
        print(f"centroid_two (numba): {r_two:7.1f} images/s per core")
        print(f"centroid_two (numpy): {r_np_two:7.1f} images/s per core")
        print(f"MaranaX.centroid, {os.cpu_count()} cores (threads): {r_par:7.1f} images/s")
        print(f"ratio numba / numpy (centroid_two): {r_two / r_np_two:.1f}x")
        print(f"ratio numba / numpy: {r_one / r_np_one:.1f}x")


if __name__ == "__main__":
    main()
