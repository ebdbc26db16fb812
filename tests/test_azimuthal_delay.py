"""DSSC scattering time-delay: a simulated pump-probe delay scan (rings at
q = 0.38 and 0.75 nm^-1 that drop by 40 % / 25 % on pumping and recover with
tau = 1.5 / 4 ps) is binned with bin_dssc, integrated lazily with
xr.apply_ufunc (dask), and the ring positions, drop depths and recovery times
are recovered within the fit's noise (3 sigma, plus the bias of binning the
true delay, 0.1 ps bins).
"""

import numpy as np
import pytest

import scs_nb as tb
from scs_nb.detectors.dssc.azimuthal import delay as ad

SIM = dict(modules="0,1", trains=33, npulses=6, nsteps=11)


# a private matrix cache per test module (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture(scope="module")
def scan(simulated, tmp_path_factory):
    data = simulated("dssc_delay_scan", **SIM)
    dark = simulated("dssc_dark", modules="0,1", trains=6, npulses=6)
    out = tmp_path_factory.mktemp("az_binned")
    tb.bin_dssc(
        data.proposal,
        data.run,
        dark_run=dark.run,
        path=str(out),
        bin_width=0.1,
        xgm_normalization=True,
        backend="sequential",
    )
    return data, tb.open_binned_dssc(str(out))


@pytest.fixture(scope="module")
def integrated(scan):
    data, binned = scan
    t = data.truth["dssc"]
    lazy = ad.integrate_delay_scan(
        binned,
        npt=150,
        radial_range=(0.1, 1.0),
        distance=t["distance_m"],
        energy=t["energies_eV"][0],
        chunks={"delay": 4},
    )
    return lazy


def test_lazy_apply_ufunc(integrated):
    assert hasattr(integrated.I.data, "dask")  # apply_ufunc, dask='parallelized'
    assert integrated.I.dims == ("delay", "pulse", "q")
    assert integrated.I.data.numblocks[0] > 1


def test_rings_drops_and_recovery_times(scan, integrated):
    data, _ = scan
    rings = data.truth["dssc"]["rings"]
    ds = integrated.compute()
    dmap = ad.delay_map(ds, background_range=(0.53, 0.58))
    assert dmap.dI.dims == ("delay", "q")
    # ring positions: peaks of the unpumped I(q) - background
    prof = (dmap.I_off - dmap.background).mean("delay")
    dq = float(ds.q[1] - ds.q[0])
    for ring in rings:
        sel = prof.sel(
            q=slice(ring["q_nm"] - 2 * ring["sigma_q_nm"], ring["q_nm"] + 2 * ring["sigma_q_nm"])
        )
        w = sel.values
        centroid = float((sel.q * w).sum() / w.sum())
        assert abs(centroid - ring["q_nm"]) < dq, (centroid, ring)
    traces = ad.q_traces(
        dmap, [(r["q_nm"] - r["sigma_q_nm"], r["q_nm"] + r["sigma_q_nm"]) for r in rings]
    )
    for i, ring in enumerate(rings):
        fit = ad.fit_recovery(traces.delay.values, traces.values[i])
        assert abs(fit["depth"] - ring["depth"]) < 3 * fit["depth_err"] + 0.02, (fit, ring)
        assert abs(fit["tau"] - ring["tau_ps"]) < 3 * fit["tau_err"] + 0.1, (fit, ring)
    # before time zero: no change (within noise of the trace)
    pre = traces.sel(delay=slice(None, -0.3)).values
    assert np.abs(pre).max() < 0.03
