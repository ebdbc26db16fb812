"""Exact hexagonal pixel splitting: conservation, agreement with pyFAI on a
smooth image, a sharper ring than bounding-box splitting, the matrix cache, the
ToolBox integrator classes and errors.

Ground truths are analytic images on the DSSC 1M geometry (a smooth radial
cosine; a thin ring rendered by supersampling every hexagon with 16x16 points,
independent of the polygon clipping under test).
"""

import os

import numpy as np
import pytest
import xarray as xr

import scs_nb as tb
from scs_nb.detectors.dssc.azimuthal import matrix as az
from scs_nb.errors import ToolBoxError
from scs_nb.facility import dssc_geometry

PITCH_MM = 0.236


# a private matrix cache per test module (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture(scope="module")
def geom():
    return dssc_geometry()


@pytest.fixture(scope="module")
def radius(geom):
    pos = geom.get_pixel_positions()
    return np.hypot(pos[..., 0], pos[..., 1]) * 1e3  # mm, (16, 128, 512)


def test_conservation_1d_2d_mask_nan(geom):
    rng = np.random.default_rng(1)
    img = rng.gamma(2.0, 50.0, (3, 16, 128, 512)).astype(np.float32)
    mask = rng.random((16, 128, 512)) < 0.05
    img[1, 3, 10:20, 100:200] = np.nan
    ds = tb.integrate_azimuthal(img, geom, npt=300, distance=0.5, energy=930.0, mask=mask)
    assert ds.I.dims == ("frame", "q") and ds.q.attrs["units"] == "nm^-1"
    ref = np.nansum(np.where(mask, 0, img).reshape(3, -1), axis=1)
    # frames without NaN: I * area is the unmasked image sum
    got = (ds.I * ds.area).sum("q").values
    np.testing.assert_allclose(got[[0, 2]], ref[[0, 2]], rtol=1e-6)
    # two threads sharing batches of one frame: the same numbers
    two = tb.integrate_azimuthal(
        img, geom, npt=300, distance=0.5, energy=930.0, mask=mask, batch=1, threads=2
    )
    np.testing.assert_allclose(two.I.values, ds.I.values, rtol=1e-12, equal_nan=True)
    # the frame with NaN: the same as masking its NaN pixels too
    nan_mask = mask | np.isnan(img[1])
    alt = tb.integrate_azimuthal(
        img[1:2], geom, npt=300, distance=0.5, energy=930.0, mask=nan_mask
    )
    np.testing.assert_allclose(ds.I.values[1], alt.I.values[0], rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose((alt.I * alt.area).sum(), ref[1], rtol=1e-6)
    # area: every unmasked pixel counted once
    np.testing.assert_allclose(ds.area.sum(), (~mask).sum(), rtol=1e-6)
    # 2-D (36 sectors) sums back to the 1-D result, and conserves
    d2 = tb.integrate_azimuthal(
        img[:1], geom, npt=300, distance=0.5, energy=930.0, mask=mask, npt_azim=36
    )
    assert d2.I.dims == ("frame", "chi", "q") and d2.chi.size == 36
    np.testing.assert_allclose((d2.I * d2.area).fillna(0).sum(("chi", "q")), ref[0], rtol=1e-6)
    np.testing.assert_allclose(d2.area.sum("chi"), ds.area, rtol=1e-5, atol=1e-4)


def test_constant_image_and_polar_range(geom, radius):
    img = np.full((1, 16, 128, 512), 7.0)
    ds = tb.integrate_azimuthal(img, geom, npt=100, unit="r_mm", polar_range=(0, 90))
    ok = ds.area.values > 1e-3
    np.testing.assert_allclose(ds.I.values[0][ok], 7.0, rtol=1e-6)
    # area of the quadrant: pixels with centre in it, +- half the boundary pixels
    pos = geom.get_pixel_positions()
    ang = np.degrees(np.arctan2(pos[..., 1], pos[..., 0]))
    n_in = ((ang > 0) & (ang < 90)).sum()
    border = (np.abs(pos[..., 0]) < 0.3e-3).sum() + (np.abs(pos[..., 1]) < 0.3e-3).sum()
    assert abs(ds.area.sum() - n_in) < border
    # a range across +-180 deg (the left half): exactly the pixels with x < 0, as the
    # geometry has no pixel across the vertical line through the beam
    left = tb.integrate_azimuthal(
        img, geom, npt=50, unit="r_mm", polar_range=(90, 270), npt_azim=8
    )
    np.testing.assert_allclose(left.area.sum(), (pos[..., 0] < 0).sum(), rtol=1e-6)
    ok = left.area.values > 1e-3
    np.testing.assert_allclose(left.I.values[0][ok], 7.0, rtol=1e-6)
    # unit conversions of the axis: 2th and q from r
    d2 = tb.integrate_azimuthal(img, geom, npt=50, unit="2th_deg", distance=0.5)
    assert d2.I.dims == ("frame", "2th") and d2["2th"].attrs["units"] == "deg"
    r_edge = az.radial_to_r(d2["2th"].values, "2th_deg", 0.5)
    np.testing.assert_allclose(az.r_to_radial(r_edge, "2th_deg", 0.5), d2["2th"].values)


def test_smooth_image_agrees_with_pyfai_bbox(geom, radius):
    """I(r) of 100 + 50 cos(r / 15 mm): exact and pyFAI bbox agree within pyFAI's
    binning error (half a pixel pitch times the steepest slope); exact matches the
    analytic profile to second order: curvature over bin and pixel, plus the
    area-weighted mean radius of a bin, c + w^2 / (12 c), times the slope."""
    img = (100 + 50 * np.cos(radius / 15.0)).astype(np.float32)[None]
    kw = dict(npt=200, unit="r_mm", radial_range=(20, 160))
    ex = tb.integrate_azimuthal(img, geom, method="exact", **kw)
    py = tb.integrate_azimuthal(img, geom, method="pyfai", **kw)
    np.testing.assert_allclose(py.r.values, ex.r.values, rtol=1e-6)
    slope = 50 / 15.0
    tol = 0.5 * PITCH_MM * slope
    inner = slice(1, -1)  # pyFAI piles pixels outside the range into the end bins
    d = np.abs(ex.I.values[0] - py.I.values[0])[inner]
    ok = np.isfinite(d)
    assert ok.sum() > 150
    assert d[ok].max() < tol, (d[ok].max(), tol)
    truth = 100 + 50 * np.cos(ex.r.values / 15.0)
    dev = np.abs(ex.I.values[0] - truth)
    w = 0.7
    bound = 50 / 15.0**2 * (w**2 + 2 * PITCH_MM**2) / 24 + slope * w**2 / (12 * 20)
    assert np.nanmax(dev) < bound, (np.nanmax(dev), bound)
    assert bound < 0.05 * tol


def _thin_ring(geom, R=60.0, sigma=0.01, n=16):
    """Pixel values of a ring of width sigma (mm) << pixel, by supersampling."""
    poly = az.pixel_polygons(geom)
    c = poly.mean(1)
    near = np.nonzero(np.abs(np.hypot(c[:, 0], c[:, 1]) - R) < 0.6)[0]
    P = poly[near]
    u = (np.arange(n) + 0.5) / n
    gx, gy = (a.ravel()[None] for a in np.meshgrid(u, u))
    lo, hi = P.min(1), P.max(1)
    sx = lo[:, None, 0] + (hi - lo)[:, None, 0] * gx
    sy = lo[:, None, 1] + (hi - lo)[:, None, 1] * gy
    orient = np.sign(
        np.sum(P[..., 0] * np.roll(P[..., 1], -1, 1) - np.roll(P[..., 0], -1, 1) * P[..., 1], 1)
    )[:, None]
    inside = np.ones(sx.shape, bool)
    for v in range(P.shape[1]):
        a, b = P[:, v], P[:, (v + 1) % P.shape[1]]
        cr = (b[:, 0] - a[:, 0])[:, None] * (sy - a[:, 1][:, None]) - (b[:, 1] - a[:, 1])[
            :, None
        ] * (sx - a[:, 0][:, None])
        inside &= cr * orient >= 0
    val = np.exp(-0.5 * ((np.hypot(sx, sy) - R) / sigma) ** 2)
    img = np.zeros(len(poly))
    img[near] = (val * inside).sum(1) / inside.sum(1)
    return img.reshape(1, 16, 128, 512)


def _width(ds):
    w = np.nan_to_num(ds.I.values[0]) * ds.area.values
    x = ds.r.values
    m = (w * x).sum() / w.sum()
    return np.sqrt((w * (x - m) ** 2).sum() / w.sum()), m


def test_sharp_ring_narrower_than_bbox(geom):
    R = 60.0
    img = _thin_ring(geom, R)
    kw = dict(npt=120, unit="r_mm", radial_range=(R - 0.6, R + 0.6))
    w = {
        m: _width(tb.integrate_azimuthal(img, geom, method=m, **kw))
        for m in ("exact", "bbox", "pyfai")
    }
    assert abs(w["exact"][1] - R) < 0.005  # centred within 5 µm
    assert w["exact"][0] < 0.95 * w["bbox"][0]
    assert w["exact"][0] < 0.85 * w["pyfai"][0]


def test_matrix_cache_on_disk(geom):
    kw = dict(npt=64, unit="q_nm^-1", distance=0.5, energy=930.0, method="exact")
    m1 = az.azimuthal_matrix(geom, **kw)
    files = [
        f for f in os.listdir(os.environ["SCS_NB_CACHE"] + "/azimuthal") if f.startswith("exact-")
    ]
    assert files and not any(f.endswith(".part") for f in files)
    az._MATRIX_CACHE.clear()
    m2 = az.azimuthal_matrix(geom, **kw)
    assert m2 is not m1
    np.testing.assert_array_equal(m1.bins, m2.bins)
    np.testing.assert_array_equal(m1.weights, m2.weights)
    # another distance: another key
    m3 = az.azimuthal_matrix(geom, **{**kw, "distance": 0.6})
    assert not np.array_equal(m3.radial, m1.radial) or m3.nnz != m1.nnz


def test_xarray_modules_dask_and_sigma(geom, radius):
    rng = np.random.default_rng(3)
    lam = (50 + 30 * np.exp(-0.5 * ((radius - 60) / 3) ** 2))[[2, 5]]
    counts = rng.poisson(lam, (4, 2, 128, 512)).astype(np.float32)
    da = xr.DataArray(
        counts,
        dims=("delay", "module", "x", "y"),
        coords={"delay": np.arange(4.0), "module": [2, 5]},
    )
    ds = tb.integrate_azimuthal(
        da, geom, npt=80, unit="r_mm", radial_range=(30, 100), variance=counts
    )
    assert ds.I.dims == ("delay", "r") and list(ds.delay.values) == [0, 1, 2, 3]
    # the profile of the two modules, and Poisson sigma: spread of the 4 frames
    truth = 50 + 30 * np.exp(-0.5 * ((ds.r.values - 60) / 3) ** 2)
    ok = ds.area.values > 50
    z = (ds.I.values - truth) / ds.sigma.values
    assert 0.6 < np.std(z[:, ok]) < 1.5
    lazy = tb.integrate_azimuthal(
        da.chunk({"delay": 2}), geom, npt=80, unit="r_mm", radial_range=(30, 100)
    )
    assert hasattr(lazy.I.data, "dask")
    np.testing.assert_allclose(lazy.I.values, ds.I.values, rtol=1e-6)


def test_toolbox_classes(geom, radius):
    img = np.where(np.isfinite(radius), radius, 0)
    ai = tb.AzimuthalIntegratorDSSC(geom, (-180, 180))
    prof = ai(img)
    ok = np.isfinite(prof) & (ai.distance_axis > 5e-3) & (ai.distance_axis < 0.15)
    # mean radius (mm) in a bin = its centre within a quarter pixel
    assert np.abs(prof[ok] - ai.distance_axis[ok] * 1e3).max() < 0.25 * PITCH_MM
    q = ai.calc_q(0.5, 1.3332e-9)
    np.testing.assert_allclose(
        q * 1e-9, az.r_to_radial(ai.distance_axis * 1e3, "q_nm^-1", 0.5, 930.0), rtol=1e-3
    )
    # beam at dxdy = (1 mm, 0): the radius from there is recovered
    shifted = tb.AzimuthalIntegratorDSSC(geom, (-180, 180), dxdy=(1e-3, 0))
    pos = geom.get_pixel_positions()
    r2 = np.hypot(pos[..., 0] - 1e-3, pos[..., 1]) * 1e3
    p2 = shifted(r2)
    ok = np.isfinite(p2) & (shifted.distance_axis > 5e-3) & (shifted.distance_axis < 0.15)
    assert np.abs(p2[ok] - shifted.distance_axis[ok] * 1e3).max() < 0.25 * PITCH_MM
    y, x = np.indices((200, 300))
    r = np.hypot((y - 90.5) * 204 / 236, x - 140.2)
    cam = tb.AzimuthalIntegrator((200, 300), (90.5, 140.2), (-180, 180), dr=2)
    out = cam(np.ones((200, 300)))
    np.testing.assert_allclose(out[np.isfinite(out)], 1.0, rtol=1e-9)
    assert np.nanmax(np.abs(cam(r) - cam.distance_axis)[:40]) < 0.5
    assert len(cam.index_array) == len(cam.distance_axis)


def test_errors(geom):
    img = np.zeros((1, 16, 128, 512))
    with pytest.raises(ToolBoxError, match="unit"):
        tb.integrate_azimuthal(img, geom, unit="q_A^-1", distance=0.5, energy=930)
    with pytest.raises(ToolBoxError, match="energy"):
        tb.integrate_azimuthal(img, geom, unit="q_nm^-1", distance=0.5)
    with pytest.raises(ToolBoxError, match="modules"):
        tb.integrate_azimuthal(img[:, :3], geom, unit="r_mm")
    with pytest.raises(ToolBoxError, match="method"):
        tb.integrate_azimuthal(img, geom, unit="r_mm", method="splitpixel")
    with pytest.raises(ToolBoxError, match="npt"):
        tb.integrate_azimuthal(img, geom, npt=0, unit="r_mm")
    with pytest.raises(ToolBoxError, match="distance"):
        tb.integrate_azimuthal(img, geom, unit="2th_deg", distance=-1.0)
    with pytest.raises(ToolBoxError, match="mask"):
        tb.integrate_azimuthal(img, geom, unit="r_mm", mask=np.zeros((3, 3), bool))
