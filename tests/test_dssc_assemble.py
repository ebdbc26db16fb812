"""DSSC ``assemble``: the one function that puts the images of some modules into
the (16, 128, 512) stack a geometry draws (figures of the binning and azimuthal
templates)."""

import numpy as np
import pytest

from scs_nb.detectors.dssc.plot import assemble
from scs_nb.facility import dssc_geometry


def test_assemble_stack_order_and_nan():
    data = np.arange(3 * 128 * 512, dtype=np.float64).reshape(3, 128, 512)
    full = assemble(data, [12, 0, 5])
    assert full.shape == (16, 128, 512) and full.dtype == np.float32
    np.testing.assert_array_equal(full[12], data[0].astype(np.float32))
    np.testing.assert_array_equal(full[0], data[1].astype(np.float32))
    np.testing.assert_array_equal(full[5], data[2].astype(np.float32))
    others = [m for m in range(16) if m not in (12, 0, 5)]
    assert np.isnan(full[others]).all()
    # all 16 modules: the stack itself
    stack = np.random.default_rng(0).normal(size=(16, 128, 512))
    np.testing.assert_array_equal(assemble(stack), stack.astype(np.float32))


@pytest.mark.parametrize("modules", [[3, 0, 12], [15, 7]])
def test_assemble_where_extra_geom_puts_each_module(modules):
    """Each module's pixels land where extra_geom's geometry places that module."""
    geom = dssc_geometry()
    data = np.stack([np.full((128, 512), m + 1.0) for m in modules])
    img, _ = geom.position_modules(assemble(data, modules))
    covered = np.zeros(img.shape, bool)
    for m in modules:
        alone = np.full((16, 128, 512), np.nan, np.float32)
        alone[m] = 1.0
        where, _ = geom.position_modules(alone)
        at = np.isfinite(where)
        assert at.any()
        np.testing.assert_array_equal(img[at], m + 1.0)
        covered |= at
    assert np.isnan(img[~covered]).all()  # nothing of the other modules


def test_binned_image_has_a_colour_bar_with_its_unit():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    from scs_nb.detectors.dssc.plot import plot_binned_modules

    data = xr.DataArray(
        np.random.default_rng(1).random((2, 1, 2, 128, 512)),
        dims=("delay", "pulse", "module", "x", "y"),
        coords={"delay": [0.0, 0.5], "pulse": ["pumped"], "module": [0, 1]},
    )
    fig, ax = plt.subplots()
    plot_binned_modules(xr.Dataset({"data": data}), ax=ax, unit="ADU / µJ / pixel")
    cbar = [a for a in fig.axes if a is not ax]
    assert len(cbar) == 1 and cbar[0].get_ylabel() == "signal [ADU / µJ / pixel]"
    plt.close(fig)
