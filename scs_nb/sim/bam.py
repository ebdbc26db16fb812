"""Bunch arrival monitors.

``data.absoluteTD`` holds one value per electron bunch at index 2 x slot
(two entries per 4.5 MHz slot), in fs; entries without a bunch are 0.
Arrival times: a slow drift over the run plus per-bunch jitter.
"""

from __future__ import annotations

import numpy as np

from ..facility import sources
from .writer import ControlSource, instrument_from_arrays

BAMS = sources.BAM
NBAM = 7200  # >= 2 x 2700 entries, as newer tables


def add_bam(run, name="BAM1932S", drift_fs=150.0, jitter_fs=20.0, offset_fs=0.0):
    """Add one bunch arrival monitor (pipeline data and its CONTROL status).

    Every FEL pulse of the pattern gets an arrival time: a slow drift over the
    run (half a sine) plus Gaussian jitter.

    Parameters
    ----------
    run : SimRun
        The run being built; ``run.pattern`` must be set (``timing.add_timing``).
    name : str
        The BAM (a key of ``facility.sources.BAM``).
    drift_fs : float
        Amplitude of the drift over the run, in fs.
    jitter_fs : float
        Standard deviation of the pulse-to-pulse jitter, in fs.
    offset_fs : float
        Constant arrival-time offset, in fs.

    Notes
    -----
    The SASE3 arrival times (fs) and the drift go to ``run.truth['bam'][name]``.
    """
    dev = BAMS[name]
    rng = run.rng_for(dev)
    pat = run.pattern
    n = run.ntrains
    drift = offset_fs + drift_fs * np.sin(np.linspace(0, np.pi, n))
    data = np.zeros((n, NBAM), np.float32)
    sa3 = []
    for i in range(n):
        slots = np.unique(np.concatenate([pat.sase3[i], pat.sase1[i]]))
        vals = drift[i] + jitter_fs * rng.standard_normal(len(slots))
        data[i, 2 * slots] = vals
        sa3.append(data[i, 2 * pat.sase3[i]].tolist())
    run.add(
        instrument_from_arrays(
            dev + ":output",
            "DoocsBAM",
            {"data": {"data.absoluteTD": data}},
            {"data": np.ones(n)},
            units={"data.absoluteTD": ("s", "f")},
        )
    )
    run.add(
        ControlSource(
            dev,
            "DoocsBAM",
            {
                "bamStatus1": np.full(n, 1, np.int32),
                "bamStatus2": np.full(n, 1, np.int32),
                "bamStatus3": np.full(n, 0, np.int32),
                "bamError": np.zeros(n, np.int32),
            },
        )
    )
    run.truth.setdefault("bam", {})[name] = {
        "source": dev,
        "sa3_arrival_fs": sa3,
        "drift_fs": drift.tolist(),
    }
