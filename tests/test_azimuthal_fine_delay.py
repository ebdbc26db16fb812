"""DSSC fine timing: runs at 7 fine trigger delays around a known optimum (38,
response width 9, inferred model); the Gaussian fit of the signal vs setting
finds the optimum within 3 sigma of the fit (and within 1 setting)."""

import numpy as np
import pytest

from scs_nb.detectors.dssc import fine_delay as F
from scs_nb.errors import ToolBoxError

SETTINGS = [15, 25, 32, 38, 44, 52, 62]


@pytest.fixture(scope="module")
def scan(simulated):
    runs = [
        simulated("dssc_fine_delay", run=300 + i, fine_delay=fd) for i, fd in enumerate(SETTINGS)
    ]
    dark = simulated("dssc_dark", modules="0", trains=4, npulses=4)
    return runs, F.fine_delay_scan(
        runs[0].proposal, [r.run for r in runs][::-1], dark_run=dark.run
    )


def test_fine_delay_optimum(scan):
    runs, ds = scan
    t = runs[0].truth["dssc"]
    np.testing.assert_allclose(ds.fine_delay.values, SETTINGS)  # read from the runs, sorted
    fit = F.find_fine_delay_optimum(ds)
    assert abs(fit["optimum"] - t["fine_delay_optimum"]) < max(3 * fit["optimum_err"], 0.2)
    assert abs(fit["optimum"] - t["fine_delay_optimum"]) < 1.0
    assert abs(fit["width"] - t["fine_delay_width"]) < 1.0
    # XGM-normalised signal proportional to the injected response (dark subtracted)
    resp = np.array([r.truth["dssc"]["fine_delay_response"] for r in runs])
    ratio = ds.signal_per_uJ.values / resp
    assert np.std(ratio[resp > 0.3]) / np.mean(ratio[resp > 0.3]) < 0.03


def test_fine_delay_errors():
    with pytest.raises(ToolBoxError, match=">= 4"):
        F.find_fine_delay_optimum([1, 2, 3], [1, 2, 1])
    with pytest.raises(ToolBoxError, match="one per run"):
        F.fine_delay_scan(900002, [1, 2], fine_delays=[1])
