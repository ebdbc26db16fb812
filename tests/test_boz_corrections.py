"""BOZ correction determination (I.a) and processing (II) on simulated runs with known
ground truth: one DSSC module, three zone-plate beams with a known flat-field plane, a
known 9-bit non-linearity, gain 3 ph/ADU, shot noise, intra-darks.

The chain is run once per session (dark 20 trains, membranes 50 trains x 20 pulses);
every test then checks one recovered quantity against the injected one.
"""

import shutil

import numpy as np
import pytest

from scs_nb.errors import ToolBoxError
from scs_nb.routines import boz
from scs_nb.routines.boz.flat_field import _binned_spread
from scs_nb.routines.boz.nonlinearity import _lut_matrix, nl_crit_reference
from scs_nb.routines.boz.small_data import small_data, xas
from scs_nb.sim.boz import transmissions

GAIN = 3.0


def _sim(data_root, scenario, run, **kw):
    """A run of the tests' proposal, simulated directly (not through the shared
    ``simulated`` factory, whose automatic run numbers other tests rely on)."""
    from scs_nb import sim

    res = sim.simulate(scenario, 900002, run, data_root=data_root, overwrite=True, **kw)
    res.proposal, res.run = 900002, run
    return res


def _remove(*results):
    """Remove simulated runs this module alone uses (hundreds of MB each): the suite's
    temporary space stays small."""
    for res in results:
        shutil.rmtree(res.run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def runs(data_root):
    dark = _sim(data_root, "boz_dark", 601)
    mem = _sim(data_root, "boz_membranes", 602)
    yield dark, mem
    _remove(dark, mem)


@pytest.fixture(scope="module")
def chain(runs):
    """The I.a determination as the template does it."""
    dark, mem = runs
    p = boz.parameters(dark.proposal, dark.run, mem.run, 15, GAIN)
    p.dask_load_persistently()
    p.set_mask(boz.bad_pixel_map(p))
    d = boz.average_module(p.arr_dark).compute()
    mean = boz.average_module(p.arr, dark=d, mask=p.get_mask()).compute()
    p.rois_th = 1.0
    p.rois = boz.find_rois(mean.mean(axis=0), p.rois_th)
    p.sat_level = 500
    p.set_flat_field(p.flat_field_guess(), prod_th=(500, np.inf), ratio_th=(0.5, 1.5))
    plane = boz.plane_fitting(p)
    p.set_flat_field(plane.x)
    p.ff_alpha, p.ff_max_iter = 0.1, 150
    refined, _ = boz.ff_refine_fit(p)
    p.set_flat_field(refined.x)
    ff = boz.compute_flat_field_correction(p.rois, p)
    domain = boz.nl_domain(30, 20, 511)
    p.nl_alpha, p.nl_max_iter = 0.0, 300
    res, fitres = boz.nl_fit(p, domain)
    p.set_Fnl(boz.nl_lut(domain, res.x))
    p.set_flat_field(boz.normalize_flat_field(p))
    ff = boz.compute_flat_field_correction(p.rois, p)
    return dict(
        p=p,
        plane=plane.x,
        refined=refined.x,
        ff=ff,
        domain=domain,
        res=res,
        fitres=fitres,
        truth=mem.truth["boz"],
    )


def _z(plane, X, Y):
    a, b, c, d = plane
    return -(a * X + b * Y + d) / c


def _ratios(p, F, ff):
    d = boz.process(
        F, p.arr_dark, p.arr, p.tid, p.rois, p.get_mask(), ff, p.sat_level, cache=p.cache
    )
    ok = ~d["sat_sat"].values.ravel()
    return {k: d[k].values.ravel()[ok] for k in ("n", "0", "p")}


def test_rois_centred_on_the_beams(chain):
    t = chain["truth"]
    for b in ("n", "0", "p"):
        r = chain["p"].rois[b]
        assert abs(0.5 * (r["xl"] + r["xh"] - 1) - t["beam_x"][b]) <= 0.5
        assert abs(0.5 * (r["yl"] + r["yh"] - 1) - t["beam_y"]) <= 1.0
    w = {chain["p"].rois[b]["xh"] - chain["p"].rois[b]["xl"] for b in ("n", "0", "p")}
    assert len(w) == 1


def test_bad_pixels_found(chain):
    bad = {tuple(b) for b in chain["truth"]["bad_pixels"]}
    found = {tuple(b) for b in chain["p"].get_mask_idx()}
    assert bad <= found and len(found - bad) <= 5


def test_flat_field_planes_recovered(chain):
    """The plane fit and its refinement give the injected n/0 ratio over the ROI to
    better than 2 % (the average image ratio carries the uncorrected non-linearity)."""
    p, t = chain["p"], chain["truth"]
    X, Y = boz.get_roi_pixel_pos(p.rois["n"], p)
    z_true = _z(t["plane_n"], X, Y)
    for plane in (chain["plane"], chain["refined"], p.get_flat_field()):
        assert np.max(np.abs(_z(plane, X, Y) - z_true)) < 0.02
    ff = chain["ff"]
    r = p.rois["p"]
    Xp, Yp = boz.get_roi_pixel_pos(r, p)
    assert np.allclose(
        ff[r["yl"] : r["yh"], r["xl"] : r["xh"]].ravel(), _z(p.get_flat_field(), -Xp, Yp)
    )
    r0 = p.rois["0"]
    assert np.all(ff[r0["yl"] : r0["yh"], r0["xl"] : r0["xh"]] == 1)


def _populated(p):
    """Raw values above the dark seen by >= 0.05 % of the beam pixels (not the
    saturation bins)."""
    h = boz.histogram_module(p.arr, p.get_mask())[: p.sat_level]
    v = np.flatnonzero(h > 5e-4 * h[60:].sum())
    return np.arange(45, v[-1])


def test_lut_recovered_within_noise(chain):
    """The fitted LUT explains the data at least as well as the injected one (the
    criterion at the injected LUT, best represented in the same segments, is not
    lower), and matches it up to the affine freedom (ratios are invariant under
    F -> a F + b) to better than half the injected deviation from linearity."""
    p, t, dom = chain["p"], chain["truth"], chain["domain"]
    F, Ft = p.get_Fnl(), np.asarray(t["lut"])
    L = _lut_matrix(dom)
    nz = np.flatnonzero(dom)
    A = np.concatenate([np.stack([Ft[nz], np.ones(nz.size)], 1), -L[nz]], 1)
    dy_true = np.linalg.lstsq(A, nz.astype(float), rcond=None)[0][2:]
    args = (p.arr_dark, p.arr, p.tid, p.rois, p.get_mask(), chain["ff"], p.sat_level)
    j_fit = boz.nl_crit(chain["res"].x, dom, 0.0, *args)
    j_true = boz.nl_crit(dy_true, dom, 0.0, *args)
    j_none = boz.nl_crit(np.zeros(dom.max()), dom, 0.0, *args)
    assert j_fit <= 1.01 * j_true < 0.8 * j_none
    sel = _populated(p)
    B = np.stack([Ft[sel], np.ones(sel.size)], 1)
    resid = F[sel] - B @ np.linalg.lstsq(B, F[sel], rcond=None)[0]
    dev = Ft[sel] - np.polyval(np.polyfit(sel, Ft[sel], 1), sel)
    assert resid.std() < 0.5 * dev.std()


def test_transmission_at_shot_noise(chain):
    """Corrected empty membranes: the n/0 and p/0 noise is <= 1.1 x sqrt(1/N_sig + 1/N_ref)
    (N in photons); with the flat field alone (no non-linearity correction) it is not."""
    p, t = chain["p"], chain["truth"]
    x = np.arange(512.0)
    # photons from the injected LUT without flat field (gain in ph/ADU)
    ph = _ratios(p, np.asarray(t["lut"]), None)
    shot = {b: np.sqrt(np.mean(1 / (GAIN * ph[b]) + 1 / (GAIN * ph["0"]))) for b in ("n", "p")}
    corr = _ratios(p, p.get_Fnl(), chain["ff"])
    ffonly = _ratios(p, x, chain["ff"])
    for b in ("n", "p"):
        s = boz.snr(corr[b], corr["0"])["weighted"]["s"]
        assert s <= 1.1 * shot[b], (b, s / shot[b])
        s_ff = boz.snr(ffonly[b], ffonly["0"])["weighted"]["s"]
        assert s_ff > 1.3 * shot[b]


def test_snr_methods_agree_with_injected_noise():
    """Poisson signals with a known relative noise: every snr method finds it (5 %)."""
    rng = np.random.default_rng(3)
    ref_mean = rng.uniform(0.5e5, 1.5e5, 20000)
    ref = rng.poisson(ref_mean).astype(float)
    sig = rng.poisson(0.8 * ref_mean).astype(float)
    inj = np.sqrt(np.mean(0.8**2 * (1 / (0.8 * ref_mean) + 1 / ref_mean)))
    res = boz.snr(sig, ref)
    for m in ("direct", "weighted", "diff"):
        assert abs(res[m]["mu"] - 0.8) < 1e-3
        assert abs(res[m]["s"] / inj - 1) < 0.05, (m, res[m]["s"] / inj)
    with pytest.raises(ToolBoxError, match="unknown methods"):
        boz.snr(sig, ref, ["median"])


def test_fast_criterion_equals_numpy_reference(chain):
    p, dom = chain["p"], chain["domain"]
    dy = chain["res"].x
    arr = np.asarray(p.arr[:10])
    dark = np.asarray(p.arr_dark[:5])
    fast_v = boz.nl_crit(dy, dom, 0.3, dark, arr, None, p.rois, p.get_mask(), chain["ff"], 500)
    ref_v = nl_crit_reference(dy, dom, 0.3, dark, arr, p.rois, p.get_mask(), chain["ff"], 500)
    assert fast_v == pytest.approx(ref_v, rel=1e-5)


def test_refine_moments_equal_direct_sums(chain):
    """The plane-moment expansion of the refinement equals the direct ROI sums."""
    p = chain["p"]
    arr = np.asarray(p.arr[:6])
    dark = np.asarray(p.arr_dark[:5])
    plane = np.asarray(chain["refined"]) * [1.01, 0.98, 1.0, 1.005]
    boz.ff_refine_crit(chain["refined"], 0.0, p, dark, arr, None, p.rois, p.get_mask(), 500)
    v = boz.ff_refine_crit(plane, 0.0, p, dark, arr, None, p.rois, p.get_mask(), 500)
    q = boz.parameters(1, 1, 1, 15, 3.0)
    q.set_flat_field(plane)
    ff = boz.compute_flat_field_correction(p.rois, q)
    d = boz.process(np.arange(512.0), dark, arr, np.arange(6), p.rois, p.get_mask(), ff, 500)
    ok = ~d["sat_sat"].values.ravel()
    s0 = d["0"].values.ravel()[ok]
    direct = sum(_binned_spread(d[b].values.ravel()[ok] / s0, s0) for b in ("n", "p"))
    assert v == pytest.approx(direct, rel=1e-6)


def test_parameters_json_round_trip(chain, tmp_path):
    p = chain["p"]
    fname = p.save(str(tmp_path))
    q = boz.parameters.load(fname)
    for k in (
        "proposal",
        "darkrun",
        "run",
        "module",
        "gain",
        "drop_intra_darks",
        "rois",
        "rois_th",
        "ff_type",
        "ff_prod_th",
        "ff_ratio_th",
        "flat_field",
        "plane_guess_fit",
        "use_hex",
        "force_mirror",
        "ff_alpha",
        "ff_max_iter",
        "nl_alpha",
        "sat_level",
        "nl_max_iter",
    ):
        assert getattr(q, k) == getattr(p, k), k
    assert np.array_equal(q.get_mask(), p.get_mask())
    assert np.allclose(q.get_Fnl(), p.get_Fnl())
    assert np.array_equal(q.nl_domain, chain["domain"])
    assert np.allclose(boz.compute_flat_field_correction(q.rois, q), chain["ff"])
    assert "parameters_p" in fname and str(p.run) in fname
    with pytest.raises(ToolBoxError):
        boz.parameters.load(str(tmp_path / "missing.json"))


def test_nl_domain_and_lut():
    dom = boz.nl_domain(10, 40, 500)
    assert dom[:41].max() == 0 and dom[500:].max() == 0 and set(dom[41:500]) == set(range(1, 11))
    assert np.array_equal(boz.nl_lut(dom, np.zeros(10)), np.arange(512.0))
    F = boz.nl_lut(dom, np.ones(10))
    assert F[40] == 40 and F[500] == 500 and np.all(F[41:500] >= np.arange(41, 500))
    with pytest.raises(ToolBoxError):
        boz.nl_domain(10, 400, 300)
    with pytest.raises(ToolBoxError):
        boz.nl_lut(dom, np.ones(3))


def test_missing_module_says_what_exists(runs):
    dark, _ = runs
    with pytest.raises(ToolBoxError, match="DSSC module 3"):
        boz.load_dssc_module(dark.proposal, dark.run, 3)


@pytest.fixture(scope="module")
def small(chain, data_root):
    p = chain["p"]
    e = _sim(data_root, "boz_energy_scan", 603)
    d = _sim(data_root, "boz_delay_scan", 604)
    yield {
        "energy": (small_data(p, e.run), e.truth["boz"]),
        "delay": (small_data(p, d.run), d.truth["boz"]),
    }
    _remove(e, d)


def test_xas_edge_recovered(small):
    """The absorption edge of the unpumped beam: -log(n/0) matches the injected
    mu(E) within 3 % of the edge jump plus pre-edge (a lookup table fitted on T = 1
    membranes is defined up to F -> (F - dark)^gamma, gamma ~ 1 +- 0.02: the XAS
    amplitude, not its shape or position) and an arctan edge fitted to it is at e0
    (707 eV) within 0.1 eV."""
    ds, t = small["energy"]
    x = xas(ds, "nrj", 0.5)
    e = x.nrj.values
    tn, tp = transmissions(e, np.full(e.size, 1.0), t["edge"])
    assert np.max(np.abs(x.xas_n.values + np.log(tn))) < 0.03
    from scipy.optimize import curve_fit

    def edge(E, pre, jump, e0, w):
        return pre + jump * (0.5 + np.arctan((E - e0) / w) / np.pi)

    popt, pcov = curve_fit(
        edge, e, x.xas_n.values, p0=[0.2, 0.8, 706.0, 1.5], sigma=x.xas_n_err.values
    )
    e0 = popt[2]
    assert abs(e0 - t["edge"]["e0_eV"]) < 0.1


def test_pump_probe_change_recovered(small):
    """ΔXAS = xas_p - xas_n vs energy and vs delay matches the injected edge shift
    within 0.006 (6 % of its peak; the flat-field residual of a 50-train
    determination), and its recovery time (exponential fit) within 15 %."""
    ds, t = small["energy"]
    x = xas(ds, "nrj", 0.5)
    e = x.nrj.values
    tn, tp = transmissions(e, np.full(e.size, 1.0), t["edge"])
    inj = np.log(tn) - np.log(tp)
    assert np.max(np.abs(x.dxas.values - inj)) < 0.006
    assert abs(x.dxas.values.min() - inj.min()) < 0.006
    ds, t = small["delay"]
    x = xas(ds, "delay", 0.25)
    d = x.delay.values
    tn, tp = transmissions(np.full(d.size, 707.0), d, t["edge"])
    inj = np.log(tn) - np.log(tp)
    assert np.max(np.abs(x.dxas.values - inj)) < 0.006
    after = d > 0.2
    base = np.mean(x.dxas.values[d < -0.2])
    tau = -1 / np.polyfit(d[after], np.log(-(x.dxas.values[after] - base)), 1)[0]
    tau_inj = -1 / np.polyfit(d[after], np.log(-inj[after]), 1)[0]
    assert abs(tau / tau_inj - 1) < 0.15


def test_process_module_equals_process(chain):
    """process_module (streamed, dark from average_module with the same LUT) and the
    histogram path of process give the same ROI sums and saturation flags."""
    p = chain["p"]
    arr, dark_arr = p.arr[:8], p.arr_dark[:5]
    F = p.get_Fnl()
    dark = boz.average_module(dark_arr, F_INL=F).compute()
    a = boz.process_module(arr, p.tid[:8], dark, p.rois, p.get_mask(), 500, chain["ff"], F)
    b = boz.process(F, dark_arr, arr, p.tid[:8], p.rois, p.get_mask(), chain["ff"], 500)
    for k in ("n", "0", "p"):
        assert np.allclose(a[k].values, b[k].values, rtol=1e-6)
    assert np.array_equal(a["sat_sat"].values, b["sat_sat"].values)
    assert list(a.trainId.values) == list(p.tid[:8])


def test_nl_crit_sk_is_the_0_over_n_plus_p_variance(chain):
    p, dom = chain["p"], chain["domain"]
    dy = chain["res"].x
    args = (p.arr_dark, p.arr, p.tid, p.rois, p.get_mask(), chain["ff"], 500)
    v = boz.nl_crit_sk(dy, dom, 0.0, *args)
    d = boz.process(boz.nl_lut(dom, dy), *args)
    ok = ~d["sat_sat"].values.ravel()
    z, n, q = (d[k].values.ravel()[ok] for k in ("0", "n", "p"))
    assert v == pytest.approx(
        1e8 * boz.snr(z, n + q, ["weighted"])["weighted"]["s"] ** 2, rel=1e-6
    )


def test_load_dssc_module_subset_and_intra_darks(runs):
    dark, _ = runs
    arr, tid = boz.load_dssc_module(
        dark.proposal, dark.run, 15, subset=slice(2, 6), drop_intra_darks=False
    )
    assert arr.shape == (4, 40, 128, 512) and len(tid) == 4
    arr2, _ = boz.load_dssc_module(dark.proposal, dark.run, 15, subset=slice(2, 6))
    assert arr2.shape == (4, 20, 128, 512)
    assert np.array_equal(np.asarray(arr2[1, 3]), np.asarray(arr[1, 6]))
    arr3, tid3 = boz.load_dssc_module(dark.proposal, dark.run, 15, data_size_Gb=0.01)
    assert arr3.shape[0] == int(0.01e9 // (20 * 128 * 512 * 2))


def test_find_rois_from_params_matches(chain):
    p = chain["p"]
    assert boz.find_rois_from_params(p) == {k: v for k, v in p.rois.items()}
