"""Ring centroids of an azimuthal profile: positions recovered from noisy rings on a
flat background, and bad ranges refused with a message."""

import numpy as np
import pytest
import xarray as xr

from scs_nb.detectors.dssc.azimuthal import ring_centroids
from scs_nb.errors import ToolBoxValueError


def _profile(rings, bg=4.0, noise=0.05, npt=300, seed=0):
    q = np.linspace(0.05, 1.0, npt)
    i = np.full_like(q, bg)
    for q0, amp, sig in rings:
        i += amp * np.exp(-0.5 * ((q - q0) / sig) ** 2)
    i += np.random.default_rng(seed).normal(0, noise, q.size)
    return xr.DataArray(i, dims="q", coords={"q": q}, name="I")


def test_centroids_of_two_rings_within_a_bin():
    # rings of the dssc_delay_scan scenario: narrow at 0.38, broad at 0.75 nm^-1
    truth = [(0.38, 37.0, 0.02), (0.75, 22.0, 0.04)]
    prof = _profile(truth)
    out = ring_centroids(prof, [[0.28, 0.48], [0.6, 0.9]], [0.53, 0.58])
    step = float(prof.q[1] - prof.q[0])
    assert list(out.index) == ["0.28-0.48", "0.6-0.9"]
    np.testing.assert_allclose(out["error"], step)
    for (q0, _, _), got in zip(truth, out["centroid"]):
        # noise 0.05 on rings of ~30: the centroid is good to a small part of a bin
        assert abs(got - q0) < 0.3 * step


def test_background_matters():
    # without the subtraction, the flat background would pull the centroid to the
    # middle of an asymmetric range; with it the ring position is found
    prof = _profile([(0.38, 10.0, 0.02)], bg=20.0, noise=0.0)
    out = ring_centroids(prof, [[0.30, 0.60]], [0.8, 0.9])
    assert abs(out["centroid"].iloc[0] - 0.38) < 1e-3
    naive = float((prof.q * prof).sel(q=slice(0.3, 0.6)).sum() / prof.sel(q=slice(0.3, 0.6)).sum())
    assert naive > 0.42


def test_nan_bins_ignored():
    prof = _profile([(0.38, 37.0, 0.02)], noise=0.0)
    prof[(prof.q > 0.385) & (prof.q < 0.39)] = np.nan  # a symmetric-ish gap is not fatal
    out = ring_centroids(prof, [[0.3, 0.46]], [0.53, 0.58])
    assert np.isfinite(out["centroid"].iloc[0])
    assert abs(out["centroid"].iloc[0] - 0.38) < 0.01


@pytest.mark.parametrize(
    "rings, bg, match",
    [
        ([[0.43, 0.33]], [0.53, 0.58], "low < high"),
        ([[0.33]], [0.53, 0.58], "pair"),
        ([[0.33, 0.43]], [2.0, 3.0], "background_range"),
        ([[0.6, 0.9]], [0.37, 0.39], "no intensity above the background"),
    ],
)
def test_bad_ranges_refused(rings, bg, match):
    prof = _profile([(0.38, 37.0, 0.02)], noise=0.0)
    with pytest.raises(ToolBoxValueError, match=match):
        ring_centroids(prof, rings, bg)


def test_needs_one_profile():
    prof = _profile([(0.38, 37.0, 0.02)])
    with pytest.raises(ToolBoxValueError, match="one I"):
        ring_centroids(prof.expand_dims(frame=2), [[0.3, 0.46]], [0.53, 0.58])
