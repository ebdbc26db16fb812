"""The how-to templates (knife-edge, reflectivity, XAS/XMCD, PES, FastCCD) run
headless on simulated runs; their recorded results agree with the ground truth
(scs_nb.sim.checks.check_records, tolerances from the recorded errors)."""

import pytest

CASES = {
    "knife_edge": ("knife_edge", {}, {"w0", "x0"}),
    "reflectivity": ("reflectivity", {}, {"t0", "sigma", "tau1", "tau2"}),
    "xas_xmcd": ("xas_xmcd", {}, {"xmcd", "edge", "edge_jump"}),
    "pes_basic": ("pes", {}, {"peaks_1A"}),
    "fastccd_binning": ("fastccd", {}, {"ring_q", "ring_change"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_template_records_recover_truth(name, simulated, run_template, tmp_path):
    scenario, kw, names = CASES[name]
    res = simulated(scenario, **kw)
    params = {"proposal": res.proposal, "run": res.run}
    if name == "fastccd_binning":
        params["dark_run"] = simulated("fccd_dark").run
    if name == "pes_basic":  # where the simulated digitizer's spectra start (its truth)
        params.update(start=res.truth["pes"]["start"], origin=res.truth["pes"]["origin"])
    out = run_template(name, tmp_path, **params)
    _, images = out
    assert images >= 2
    assert names <= {r["name"] for r in out.records}
    assert out.rows, "no comparison with the ground truth"
    bad = [r for r in out.rows if r[-1] != "yes"]
    assert not bad, bad
