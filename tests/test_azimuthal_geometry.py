"""DSSC quadrant geometry: a ring rendered on a geometry whose four quadrants
are moved by known offsets (1.5-4 pixels) is fitted from the nominal geometry;
the offsets are recovered to <= 0.5 pixel (and within 4 sigma of the fit), the
ring gets sharper, and the refined geometry survives a file round trip."""

import os

import numpy as np
import pytest

from scs_nb.detectors.dssc import geometry as G
from scs_nb.errors import ToolBoxError
from scs_nb.facility import DSSC_PIXEL_SIZE_M, dssc_geometry

MODULES = [0, 7, 8, 15]


# a private matrix cache per test module (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture(scope="module")
def refined(simulated):
    data = simulated("dssc_geometry")
    dark = simulated("dssc_dark", modules="0,7,8,15", trains=4, npulses=2)
    img = G.mean_module_images(data.proposal, data.run, MODULES, dark_run=dark.run)
    t = data.truth["dssc"]
    res = G.refine_quadrants(
        img,
        dssc_geometry(),
        q0=t["rings"][0]["q_nm"],
        distance=t["distance_m"],
        energy=t["energies_eV"][0],
        modules=MODULES,
    )
    return data, img, res


def test_offsets_recovered(refined):
    data, img, res = refined
    truth = np.asarray(data.truth["dssc"]["quad_offsets_mm"])
    half_px = 0.5 * np.array(DSSC_PIXEL_SIZE_M) * 1e3  # (x, y) mm
    err = np.abs(res["offsets_mm"] - truth)
    assert (err <= half_px).all(), err
    assert (err <= 4 * res["errors_mm"] + 0.01).all(), (err, res["errors_mm"])
    np.testing.assert_allclose(res["beam_center_mm"], -truth.mean(0), atol=0.05)
    true_quads = np.asarray(data.truth["dssc"]["quad_pos"])
    np.testing.assert_allclose(res["quad_positions"], true_quads, atol=half_px.min())
    np.testing.assert_allclose(
        res["sigma_q"], data.truth["dssc"]["rings"][0]["sigma_q_nm"], rtol=0.05
    )


def test_sharper_ring_and_file_round_trip(refined, tmp_path):
    data, img, res = refined
    s_nom, _ = G.ring_sharpness(img, dssc_geometry(), modules=MODULES)
    s_fit, _ = G.ring_sharpness(img, res["geometry"], modules=MODULES)
    s_true, _ = G.ring_sharpness(
        img, dssc_geometry(data.truth["dssc"]["quad_pos"]), modules=MODULES
    )
    assert s_fit > s_nom and abs(s_fit - s_true) < 0.2 * (s_true - s_nom)
    path = G.save_geometry(res["geometry"], tmp_path / "dssc_refined.h5")
    back = G.load_geometry(path)
    np.testing.assert_allclose(
        back.get_pixel_positions(), res["geometry"].get_pixel_positions(), atol=1e-9
    )
    with pytest.raises(ToolBoxError, match="overwrite"):
        G.save_geometry(res["geometry"], path)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".part")]
