"""hRIXS / MaranaX centroiding against the simulator's injected photons.

The 'hrixs_photons' run has ~200 hits per 2048 x 2048 image (10 % double hits,
charge cloud sigma 0.5 px, readout noise 2.5 ADU, 255 ADU per 930 eV photon).
The centre of mass of a 4x4 window has a noise-limited error of about
sqrt(16 * 1.25 * (2.5**2 + dark noise)) / 255 ~ 0.05 px per axis, so the
0.1 px requirement has a margin of 2.
"""

import copy

import numpy as np
import pytest
from scipy.spatial import cKDTree

import scs_nb as tb
from scs_nb.detectors.hrixs import MaranaX, find_photons, hRIXS
from scs_nb.sim import hrixs as sh

ISOLATION_PX = 4.0  # a truth hit is isolated when no other is closer
MATCH_PX = 1.5


@pytest.fixture(scope="module")
def runs(simulated):
    dark = simulated("hrixs_dark")
    photons = simulated("hrixs_photons")
    return dark, photons


@pytest.fixture(scope="module")
def loaded(runs):
    dark, photons = runs
    h = hRIXS(dark.proposal)
    h.load_dark(dark.run)
    return h, h.from_run(photons.run), photons.truth["hrixs"]


def _matched(h, data, truth):
    """(found - true) positions, found double flags and true double flags of the
    isolated truth hits, for every image; and detected / isolated counts."""
    errs, found_dbl, true_dbl, n_iso = [], [], [], 0
    for i in range(data.sizes["trainId"]):
        singles, doubles = h.centroid_two(data["MaranaX"][i].values, float(data["nrj"][i]))
        found = np.concatenate([singles, doubles])
        is_dbl = np.r_[np.zeros(len(singles), bool), np.ones(len(doubles), bool)]
        t = truth["hits"][i]
        T = np.stack([t["x"], t["y"]], axis=1)
        d, _ = cKDTree(T).query(T, k=2)
        iso = d[:, 1] > ISOLATION_PX
        n_iso += iso.sum()
        dd, j = cKDTree(found).query(T[iso])
        ok = dd < MATCH_PX
        errs.append(found[j[ok]] - T[iso][ok])
        found_dbl.append(is_dbl[j[ok]])
        true_dbl.append(np.asarray(t["n"])[iso][ok] == 2)
    return (np.concatenate(errs), np.concatenate(found_dbl), np.concatenate(true_dbl), n_iso)


def test_isolated_photons_rms_error_below_0p1_px(loaded):
    h, data, truth = loaded
    # no curvature set: the corrected y is the detector y
    err, _, _, n_iso = _matched(h, data, truth)
    assert len(err) >= 0.99 * n_iso > 500  # (almost) every isolated hit found
    rms = np.sqrt((err**2).mean(axis=0))
    assert np.all(rms <= 0.1), rms
    assert np.all(np.abs(err.mean(axis=0)) < 3 * rms / np.sqrt(len(err)) + 0.005)


def test_double_hits_classified(loaded):
    h, data, truth = loaded
    _, found_dbl, true_dbl, _ = _matched(h, data, truth)
    assert true_dbl.sum() > 50  # ~10 % of ~1000 hits
    assert np.mean(found_dbl == true_dbl) >= 0.95
    assert np.mean(found_dbl[true_dbl]) >= 0.95  # doubles found as doubles


def test_centroid_spectrum_counts_the_photons(loaded):
    h, data, truth = loaded
    h.CURVE_A, h.CURVE_B = sh.CURVE_A, sh.CURVE_B
    out = h.centroid(data)
    photons = np.asarray(truth["photons_per_image"], float)
    counted = out["spectrum"].sum("energy").values
    # only pile-up of two independent hits within ~2 px loses photons (< 3 %)
    assert np.all(np.abs(counted - photons) <= 0.03 * photons + 3)
    assert float(out["dbl_spectrum"].sum()) == pytest.approx(0.1 * photons.sum() / 1.1, rel=0.25)
    assert out["energy"].attrs["units"] == "eV"


def test_manual_threshold_finds_the_same_hits(loaded):
    """centroid_one (manual threshold) finds the hits centroid_two finds; every
    isolated true hit, no spurious one; hits that go missing are the ones that
    merged with a neighbour closer than 3 px (two charge clouds of 0.5 px)."""
    h, data, truth = loaded
    h = copy.copy(h)
    h.CURVE_A = h.CURVE_B = 0.0  # positions on the detector, as the truth has them
    for i in range(data.sizes["trainId"]):
        img = data["MaranaX"][i].values
        one = h.centroid_one(img)
        singles, doubles = h.centroid_two(img, 930.0)
        assert len(one) == len(singles) + len(doubles)
        t = truth["hits"][i]
        T = np.stack([t["x"], t["y"]], axis=1)
        nn = cKDTree(T).query(T, k=2)[0][:, 1]
        missed = cKDTree(one).query(T[nn > ISOLATION_PX])[0] > MATCH_PX
        spurious = cKDTree(T).query(one)[0] > MATCH_PX
        assert missed.sum() <= 0.01 * len(T), f"image {i}: {missed.sum()} isolated hits missed"
        assert spurious.sum() <= 0.01 * len(T), f"image {i}: {spurious.sum()} spurious hits"
        assert 0 <= len(T) - len(one) <= (nn < 3.0).sum()


def test_maranax_threads_processes_and_hits_agree(runs, loaded):
    h, data, truth = loaded
    _, photons = runs
    m = MaranaX(photons.proposal)
    m.dark_image, m.USE_DARK = h.dark_image, True
    m.Y_RANGE = slice(*sh.Y_RANGE)
    m.NUM_MAX_HITS = 400
    serial = hRIXS.centroid(m, data)
    threads = m.centroid(data, n_jobs=2, return_hits=True)
    m.CHUNK_TRAINS = 2
    procs = m.centroid_from_run(photons.run, n_jobs=2, return_hits=True)
    np.testing.assert_array_equal(serial["spectrum"].values, threads["spectrum"].values)
    np.testing.assert_array_equal(serial["spectrum"].values, procs["spectrum"].values)
    np.testing.assert_array_equal(threads["singles"].values, procs["singles"].values)
    assert "MaranaX" not in procs  # images never loaded in the main process
    n = threads["n_singles"].values + threads["n_doubles"].values
    assert np.all(n == threads["spectrum"].sum("energy") - threads["n_doubles"])
    assert threads["singles"].sizes["hit"] == 400
    m.NUM_MAX_HITS = 30
    with pytest.warns(UserWarning, match="NUM_MAX_HITS"):
        few = m.centroid(data, return_hits=True)
    assert few["singles"].sizes["hit"] == 30
    np.testing.assert_array_equal(few["spectrum"].values, threads["spectrum"].values)


def test_find_photons_on_a_rendered_image():
    px = np.array([100.3, 500.5, 1000.0])
    py = np.array([200.7, 900.25, 1500.5])
    q = np.full(3, 250.0)
    img = sh.render(px, py, q, shape=(1200, 1800)) + 100
    hits = find_photons(img.astype(np.float32), 100.0, base=100.0)
    order = np.argsort(hits[:, 0])
    np.testing.assert_allclose(hits[order, 0], px, atol=0.01)
    np.testing.assert_allclose(hits[order, 1], py, atol=0.01)
    np.testing.assert_allclose(hits[order, 3], q, rtol=0.01)


def test_helpful_errors(loaded):
    h, data, _ = loaded
    with pytest.raises(tb.ToolBoxValueError, match="method"):
        h.centroid(data, method="fast")
    with pytest.raises(tb.ToolBoxValueError, match="detector"):
        hRIXS(1, detector="Andor")
    with pytest.raises(tb.ToolBoxValueError, match="parameters"):
        h.set_params(curve_c=1)
    with pytest.raises(tb.ToolBoxValueError, match="incident photon energy"):
        h.centroid_two(data["MaranaX"][0].values, float("nan"))
    with pytest.raises(tb.ToolBoxValueError, match="no 'nrj'"):
        h.centroid(data.drop_vars("nrj"))
    with pytest.raises(tb.ToolBoxValueError, match="group by"):
        h.aggregate(data, "no_such_var")
    assert h.get_params("curve_a") == {"curve_a": h.CURVE_A}
    h.set_params(threshold=None, std_threshold=8.0)
    assert h.THRESHOLD is None


def test_toolbox_import_path():
    from scs_nb.detectors.hrixs import MaranaX as M
    from scs_nb.detectors.hrixs import hRIXS as H

    assert tb.hRIXS is H and tb.MaranaX is M and issubclass(M, H)
    assert M.NUM_MAX_HITS == 30 and M(1).DETECTOR == "MaranaX"


def test_legacy_detector_name_and_package_path(runs):
    from scs_nb.detectors import MaranaX as M
    from scs_nb.detectors import Viking
    from scs_nb.detectors import hRIXS as H

    assert H is hRIXS and M is MaranaX and Viking is tb.Viking
    dark, photons = runs
    h = hRIXS(photons.proposal, detector="hRIXS_det")
    h.load_dark(dark.run)
    data = h.from_run(photons.run, drop_first=True)
    assert "hRIXS_det" in data and data.sizes["trainId"] == len(photons.truth["train_ids"]) - 1
    out = h.centroid(data, method="manual")
    assert "dbl_spectrum" not in out and out["spectrum"].attrs["method"] == "manual"
    counted = out["spectrum"].sum("energy").values
    hits = np.asarray(photons.truth["hrixs"]["hits_per_image"][1:], float)
    assert np.all(np.abs(counted - hits) <= 0.03 * hits + 3)


def test_centroid_from_run_on_dask(runs, loaded):
    from distributed import Client, LocalCluster

    h, data, _ = loaded
    _, photons = runs
    m = MaranaX(photons.proposal)
    m.dark_image, m.USE_DARK = h.dark_image, True
    m.CHUNK_TRAINS = 3
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        out = m.centroid_from_run(photons.run, client=client)
    np.testing.assert_array_equal(out["spectrum"].values, m.centroid(data)["spectrum"].values)
