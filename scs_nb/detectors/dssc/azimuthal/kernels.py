"""Numba kernels of the exact azimuthal integrator.

Geometry: a pixel is a convex polygon (DSSC: a hexagon, 6 corners; a camera
pixel: a rectangle, 4 corners) in a plane whose origin is the beam. The area of
its intersection with the disk of radius R centred on the beam is the sum over
its edges (A -> B) of the signed area of the triangle (O, A, B) intersected
with the disk, which has a closed form (segment parts inside the circle give a
triangle, parts outside a circular sector). The area in an annulus
[R1, R2) is the difference of two disk areas; the area in an annular sector is
the same after clipping the polygon to the wedge of the sector (half-planes
through the origin, Sutherland-Hodgman).

The matrix is pixel-major (one row per pixel, its entries = output bins and the
fraction of the pixel's area in each), so that applying it streams the frames
and the matrix once and scatters into a small (bins x frames) accumulator that
stays in cache.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MAXV = 24  # vertices of a clipped polygon (6 + 2 per clip, a few clips)


@njit(cache=True, nogil=True)
def _sector(ux, uy, vx, vy, r2):
    return 0.5 * r2 * math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)


@njit(cache=True, nogil=True)
def _edge_disk_area(ax, ay, bx, by, rad):
    """Signed area of triangle (O, A, B) intersected with the disk |p| < rad."""
    r2 = rad * rad
    dx = bx - ax
    dy = by - ay
    a = dx * dx + dy * dy
    if a == 0.0:
        return 0.0
    b = ax * dx + ay * dy
    c = ax * ax + ay * ay - r2
    disc = b * b - a * c
    if disc <= 0.0:
        return _sector(ax, ay, bx, by, r2)
    sq = math.sqrt(disc)
    t1 = (-b - sq) / a
    t2 = (-b + sq) / a
    if t1 >= 1.0 or t2 <= 0.0:
        return _sector(ax, ay, bx, by, r2)
    if t1 < 0.0:
        t1 = 0.0
    if t2 > 1.0:
        t2 = 1.0
    px = ax + t1 * dx
    py = ay + t1 * dy
    qx = ax + t2 * dx
    qy = ay + t2 * dy
    area = 0.5 * (px * qy - py * qx)
    if t1 > 0.0:
        area += _sector(ax, ay, px, py, r2)
    if t2 < 1.0:
        area += _sector(qx, qy, bx, by, r2)
    return area


@njit(cache=True, nogil=True)
def _poly_disk_area(xs, ys, n, rad):
    s = 0.0
    for i in range(n):
        j = i + 1 if i + 1 < n else 0
        s += _edge_disk_area(xs[i], ys[i], xs[j], ys[j], rad)
    return abs(s)


@njit(cache=True, nogil=True)
def _poly_area(xs, ys, n):
    s = 0.0
    for i in range(n):
        j = i + 1 if i + 1 < n else 0
        s += xs[i] * ys[j] - xs[j] * ys[i]
    return 0.5 * abs(s)


@njit(cache=True, nogil=True)
def _clip_halfplane(xs, ys, n, nx, ny, ox, oy):
    """Keep the part of polygon (xs, ys, n) where nx*x + ny*y >= 0; writes
    into (ox, oy) and returns the new vertex count."""
    m = 0
    if n == 0:
        return 0
    px = xs[n - 1]
    py = ys[n - 1]
    pd = nx * px + ny * py
    for i in range(n):
        cx = xs[i]
        cy = ys[i]
        cd = nx * cx + ny * cy
        if cd >= 0.0:
            if pd < 0.0:
                t = pd / (pd - cd)
                ox[m] = px + t * (cx - px)
                oy[m] = py + t * (cy - py)
                m += 1
            ox[m] = cx
            oy[m] = cy
            m += 1
        elif pd >= 0.0:
            t = pd / (pd - cd)
            ox[m] = px + t * (cx - px)
            oy[m] = py + t * (cy - py)
            m += 1
        px = cx
        py = cy
        pd = cd
    return m


@njit(cache=True, nogil=True)
def _min_max_radius(xs, ys, n):
    """(min, max) distance of the polygon from the origin (0 if it holds it)."""
    rmax = 0.0
    rmin = 1e300
    inside = True
    for i in range(n):
        j = i + 1 if i + 1 < n else 0
        ax = xs[i]
        ay = ys[i]
        bx = xs[j]
        by = ys[j]
        r = math.sqrt(ax * ax + ay * ay)
        if r > rmax:
            rmax = r
        dx = bx - ax
        dy = by - ay
        ll = dx * dx + dy * dy
        t = 0.0 if ll == 0.0 else -(ax * dx + ay * dy) / ll
        t = min(max(t, 0.0), 1.0)
        qx = ax + t * dx
        qy = ay + t * dy
        d = math.sqrt(qx * qx + qy * qy)
        if d < rmin:
            rmin = d
        if ax * by - ay * bx < 0.0:
            inside = False
    if inside:  # counter-clockwise and the origin left of every edge
        rmin = 0.0
    else:
        # clockwise polygons: the origin is inside if right of every edge
        allright = True
        for i in range(n):
            j = i + 1 if i + 1 < n else 0
            if xs[i] * ys[j] - ys[i] * xs[j] > 0.0:
                allright = False
        if allright:
            rmin = 0.0
    return rmin, rmax


@njit(cache=True, nogil=True)
def _annulus_row(xs, ys, n, redges, full, out_bins, out_w, base, m, offset):
    """Fractions of polygon (xs, ys, n; area ``full``) in radial bins; appends
    (offset + bin, fraction) at out[m:], returns the new m."""
    nb = redges.shape[0] - 1
    rmin, rmax = _min_max_radius(xs, ys, n)
    if rmax <= redges[0] or rmin >= redges[nb] or full <= 0.0:
        return m
    k0 = np.searchsorted(redges, rmin, side="right") - 1
    k1 = np.searchsorted(redges, rmax, side="left")
    if k0 < 0:
        k0 = 0
    if k1 > nb:
        k1 = nb
    prev = -1.0
    for k in range(k0, k1 + 1):
        e = redges[k]
        if e <= rmin:
            a = 0.0
        elif e >= rmax:
            a = full
        else:
            a = _poly_disk_area(xs, ys, n, e)
        if prev >= 0.0 and k - 1 >= 0:
            frac = (a - prev) / base
            if frac > 1e-9:
                out_bins[m] = offset + k - 1
                out_w[m] = frac
                m += 1
        prev = a
    return m


@njit(cache=True, nogil=True)
def _room(bins, wts, m, need):
    """The CSR entry buffers with room for ``need`` entries: themselves, or (when
    full) copies of their first ``m`` entries into buffers at least twice as large."""
    if need <= bins.shape[0]:
        return bins, wts
    ncap = max(2 * bins.shape[0], need + 1024)
    nb_ = np.empty(ncap, np.int32)
    nw_ = np.empty(ncap, np.float32)
    nb_[:m] = bins[:m]
    nw_[:m] = wts[:m]
    return nb_, nw_


@njit(cache=True, nogil=True)
def build_exact(corners, redges, chi_edges, chi_full):
    """Pixel-major sparse matrix of exact area fractions.

    corners: (npix, V, 2) polygon corners (x, y) around the beam, any unit;
    redges: radial bin edges (same unit, increasing); chi_edges: azimuthal bin
    edges in radians (increasing, each bin < 2 pi wide); chi_full: True when
    there is one azimuthal bin covering the full circle (no clipping).
    Returns (indptr (npix+1,) int64, bins int32, weights float32, area (npix,)
    float64): bin = ichi * nrad + irad, weight = fraction of the pixel area.
    """
    npix = corners.shape[0]
    nv = corners.shape[1]
    nrad = redges.shape[0] - 1
    nchi = chi_edges.shape[0] - 1
    bins = np.empty(npix * 4 + 1024, np.int32)
    wts = np.empty(npix * 4 + 1024, np.float32)
    indptr = np.zeros(npix + 1, np.int64)
    parea = np.empty(npix, np.float64)
    xs = np.empty(MAXV)
    ys = np.empty(MAXV)
    cx = np.empty(MAXV)
    cy = np.empty(MAXV)
    tx = np.empty(MAXV)
    ty = np.empty(MAXV)
    tmp_b = np.empty(4 * (nrad + 2) * (nchi + 2), np.int32)
    tmp_w = np.empty(4 * (nrad + 2) * (nchi + 2), np.float32)
    two_pi = 2.0 * math.pi
    m = 0
    for p in range(npix):
        for v in range(nv):
            xs[v] = corners[p, v, 0]
            ys[v] = corners[p, v, 1]
        base = _poly_area(xs, ys, nv)
        parea[p] = base
        cnt = 0
        if chi_full:
            cnt = _annulus_row(xs, ys, nv, redges, base, tmp_b, tmp_w, base, 0, 0)
        else:
            # angular extent of the pixel around its centre direction
            mx = 0.0
            my = 0.0
            for v in range(nv):
                mx += xs[v]
                my += ys[v]
            ac = math.atan2(my, mx)
            lo = 1e300
            hi = -1e300
            for v in range(nv):
                d = math.atan2(ys[v], xs[v]) - ac
                d = (d + math.pi) % two_pi - math.pi
                lo = min(lo, d)
                hi = max(hi, d)
            rmin, _ = _min_max_radius(xs, ys, nv)
            holds_origin = rmin == 0.0
            for ic in range(nchi):
                c0 = chi_edges[ic]
                c1 = chi_edges[ic + 1]
                if not holds_origin:
                    hit = False
                    for sh in (-two_pi, 0.0, two_pi):
                        if ac + hi + sh > c0 and ac + lo + sh < c1:
                            hit = True
                    if not hit:
                        continue
                nsub = int(math.ceil((c1 - c0) / (0.5 * math.pi) - 1e-9))
                if nsub < 1:
                    nsub = 1
                for s in range(nsub):
                    a0 = c0 + (c1 - c0) * s / nsub
                    a1 = c0 + (c1 - c0) * (s + 1) / nsub
                    # wedge a0..a1: left of ray a0, right of ray a1
                    k = _clip_halfplane(xs, ys, nv, -math.sin(a0), math.cos(a0), cx, cy)
                    k = _clip_halfplane(cx, cy, k, math.sin(a1), -math.cos(a1), tx, ty)
                    if k < 3:
                        continue
                    sub = _poly_area(tx, ty, k)
                    if sub <= 0.0:
                        continue
                    c_before = cnt
                    cnt = _annulus_row(tx, ty, k, redges, sub, tmp_b, tmp_w, base, cnt, ic * nrad)
                    # merge duplicates of the same bin from sub-wedges
                    for q in range(c_before, cnt):
                        for r in range(c_before):
                            if tmp_b[r] == tmp_b[q] and tmp_w[q] > 0.0:
                                tmp_w[r] += tmp_w[q]
                                tmp_w[q] = 0.0
        bins, wts = _room(bins, wts, m, m + cnt)
        for q in range(cnt):
            if tmp_w[q] > 0.0:
                bins[m] = tmp_b[q]
                wts[m] = tmp_w[q]
                m += 1
        indptr[p + 1] = m
    return indptr, bins[:m].copy(), wts[:m].copy(), parea


@njit(cache=True, nogil=True)
def build_bbox(rc, rlo, rhi, chi_c, redges, chi_edges, nodes_split):
    """Bounding-box (or no) splitting in radius: pixel p spread uniformly over
    [rlo, rhi] (``nodes_split`` False: all at its centre radius rc); azimuth of
    the pixel centre chi_c picks the azimuthal bin (outside: dropped)."""
    npix = rc.shape[0]
    nrad = redges.shape[0] - 1
    nchi = chi_edges.shape[0] - 1
    bins = np.empty(npix * 4 + 1024, np.int32)
    wts = np.empty(npix * 4 + 1024, np.float32)
    indptr = np.zeros(npix + 1, np.int64)
    two_pi = 2.0 * math.pi
    m = 0
    for p in range(npix):
        c = chi_c[p]
        ic = -1
        for sh in (0.0, two_pi, -two_pi):
            cc = c + sh
            if chi_edges[0] <= cc < chi_edges[nchi]:
                ic = np.searchsorted(chi_edges, cc, side="right") - 1
                break
        if ic >= 0:
            bins, wts = _room(bins, wts, m, m + nrad + 2)
            if not nodes_split:
                r = rc[p]
                if redges[0] <= r < redges[nrad]:
                    bins[m] = ic * nrad + np.searchsorted(redges, r, side="right") - 1
                    wts[m] = 1.0
                    m += 1
            else:
                lo = rlo[p]
                hi = rhi[p]
                width = hi - lo
                k0 = max(np.searchsorted(redges, lo, side="right") - 1, 0)
                k1 = min(np.searchsorted(redges, hi, side="left"), nrad)
                for k in range(k0, k1):
                    a = max(lo, redges[k])
                    b = min(hi, redges[k + 1])
                    if b > a:
                        bins[m] = ic * nrad + k
                        wts[m] = (b - a) / width
                        m += 1
        indptr[p + 1] = m
    return indptr, bins[:m].copy(), wts[:m].copy()


# fast-math without 'nnan'/'ninf': the kernel must see NaN pixels
@njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp", "nsz", "afn"})
def apply_matrix(frames, indptr, bins, wts, acc, nnan):
    """acc[bin, f] += sum_p w(p, bin) * frames[f, p] (NaN counted as 0, their
    number per frame added to nnan[f]); frames (B, npix) any real dtype,
    acc (nbins, B) float64."""
    nf = frames.shape[0]
    npix = frames.shape[1]
    vals = np.empty(nf, np.float64)
    for p in range(npix):
        e0 = indptr[p]
        e1 = indptr[p + 1]
        if e0 == e1:
            continue
        for f in range(nf):
            v = np.float64(frames[f, p])
            if v != v:
                nnan[f] += 1
                v = 0.0
            vals[f] = v
        for e in range(e0, e1):
            k = bins[e]
            w = np.float64(wts[e])
            for f in range(nf):
                acc[k, f] += w * vals[f]


@njit(cache=True, nogil=True)
def nan_area(frame, indptr, bins, wts, out):
    """out[bin] += weight of every NaN pixel of one frame (npix,)."""
    for p in range(frame.shape[0]):
        v = frame[p]
        if v != v:
            for e in range(indptr[p], indptr[p + 1]):
                out[bins[e]] += wts[e]
