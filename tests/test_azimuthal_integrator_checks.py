"""The ToolBox-compatible azimuthal integrators check their inputs: a zero, negative or
NaN aspect, a NaN centre or dr, nbins of 0, and a centre so far away that the radial
axis would need millions of bins are refused with a message (no all-NaN profile, no
raw error, no multi-terabyte allocation); integrate_azimuthal names modules outside the
geometry. A sane integrator still recovers the radius of each pixel."""

import tracemalloc

import numpy as np
import pytest

import scs_nb as tb
from scs_nb.detectors.dssc.azimuthal.integrator import MAX_BINS
from scs_nb.errors import ToolBoxValueError
from scs_nb.facility import dssc_geometry

pytestmark = pytest.mark.usefixtures("private_cache")
SHAPE, CENTRE = (60, 80), (30.5, 40.2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(aspect=0), "aspect"),
        (dict(aspect=-1.0), "aspect"),
        (dict(aspect=np.nan), "aspect"),
        (dict(aspect=np.inf), "aspect"),
        (dict(center=(np.nan, 3.0)), "center"),
        (dict(center=(1.0,)), "center"),
        (dict(dr=np.nan), "dr"),
        (dict(dr=0), "dr"),
        (dict(dr=-2.0), "dr"),
        (dict(nbins=0), "nbins"),
        (dict(nbins=2.5), "nbins"),
        (dict(nbins=True), "nbins"),
        (dict(imageshape=(0, 10)), "imageshape"),
        (dict(polar_range=(np.nan, 90)), "polar_range"),
        (dict(pixel_size=np.nan), "pixel_size"),
    ],
)
def test_bad_arguments_refused(kwargs, match):
    args = dict(imageshape=SHAPE, center=CENTRE, polar_range=(-180, 180))
    args.update(kwargs)
    with pytest.raises(ToolBoxValueError, match=match):
        tb.AzimuthalIntegrator(**args)


def test_far_centre_bounded_in_memory():
    tracemalloc.start()
    try:
        with pytest.raises(ToolBoxValueError, match="Check the centre"):
            tb.AzimuthalIntegrator(SHAPE, (1e12, 1e12), (-180, 180))
        with pytest.raises(ToolBoxValueError, match=f"at most {MAX_BINS:,}"):
            tb.AzimuthalIntegrator(SHAPE, CENTRE, (-180, 180), dr=1e-6)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6, peak  # refused before anything big is allocated
    # off the image but reasonable: built, and it recovers the radius
    far = tb.AzimuthalIntegrator(SHAPE, (-500.0, 40.0), None, aspect=1.0, dr=1.0)
    y, x = np.indices(SHAPE)
    r = np.hypot(y + 500.0, x - 40.0)
    prof = far(r)
    ok = np.flatnonzero(np.isfinite(prof))[2:-2]  # the partly covered edge bins left out
    assert len(ok) > 20
    assert np.abs(prof[ok] - far.distance_axis[ok]).max() < 0.01


def test_sane_integrator_recovers_radius():
    y, x = np.indices(SHAPE)
    ai = tb.AzimuthalIntegrator(SHAPE, CENTRE, (-180, 180), aspect=0.8, nbins=40)
    r = np.hypot((y - CENTRE[0]) * 0.8, x - CENTRE[1])
    prof = ai(r)
    assert np.nanmax(np.abs(prof - ai.distance_axis)[:25]) < 0.5 * ai.dr + 0.2
    assert not np.isnan(prof[:25]).all()


def test_dssc_integrator_and_integrate_modules():
    geom = dssc_geometry()
    with pytest.raises(ToolBoxValueError, match="dxdy"):
        tb.AzimuthalIntegratorDSSC(geom, (-180, 180), dxdy=(np.nan, 0))
    with pytest.raises(ToolBoxValueError, match="dr"):
        tb.AzimuthalIntegratorDSSC(geom, (-180, 180), dr=np.nan)
    img = np.zeros((1, 1, 128, 512))
    for modules in ([99], [-1], [0.5]):
        with pytest.raises(ToolBoxValueError, match=r"a module of the geometry \(0..15"):
            tb.integrate_azimuthal(img, geom, unit="r_mm", modules=modules)
    with pytest.raises(ToolBoxValueError, match="given twice"):
        tb.integrate_azimuthal(np.zeros((1, 2, 128, 512)), geom, unit="r_mm", modules=[3, 3])
