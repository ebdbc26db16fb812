"""Loading the raw data of one DSSC module for the BOZ corrections."""

from __future__ import annotations

import numpy as np

from ...errors import ToolBoxValueError
from ...facility import DSSC_MODULE_SHAPE, DSSC_NMODULES
from ...facility.sources import dssc_module_source
from ...load import open_run
from ...reader import resolve


def load_dssc_module(
    proposalNB,
    runNB,
    moduleNB=15,
    subset=slice(None),
    drop_intra_darks=True,
    persist=False,
    data_size_Gb=None,
):
    """Load single module dssc data as dask array.

    Parameters
    ----------
    proposalNB : int
        Proposal number.
    runNB : int
        Run number.
    moduleNB : int
        DSSC module (0..15).
    subset : slice
        Trains to keep (of those with data).
    drop_intra_darks : bool
        Drop every second frame (the intra-darks).
    persist : bool
        Persist the dask array in memory.
    data_size_Gb : float, optional
        Keep only the first trains up to that size (gigabytes).

    Returns
    -------
    arr : dask.array.Array
        (trainId, pulseId, y, x) raw 9-bit values.
    tid : numpy.ndarray
        The train ids.

    Examples
    --------
    >>> arr, tid = load_dssc_module(2937, 615, 15, persist=True)   # doctest: +SKIP
    """
    m = int(moduleNB)
    if not 0 <= m < DSSC_NMODULES:
        raise ToolBoxValueError(f"moduleNB must be 0..{DSSC_NMODULES - 1}, got {moduleNB}")
    run = open_run(proposalNB, runNB)
    src = dssc_module_source(m)
    if src not in run.instrument_sources:
        have = sorted(s for s in run.instrument_sources if "DSSC" in s)
        raise ToolBoxValueError(
            f"run {runNB} of proposal {proposalNB} has no DSSC module {m} "
            f"({src}); DSSC sources: {have or 'none'}. Pass moduleNB="
        )
    kd = resolve(run, {"dssc": {"source": src, "key": "image.data"}})
    counts = kd.data_counts(labelled=False)
    has = counts > 0
    frames = np.unique(counts[has])
    if frames.size != 1:
        raise ToolBoxValueError(
            f"DSSC module {m}: the frames per train vary ({frames.tolist()});"
            " select trains with one pulse pattern (subset=)"
        )
    nf = int(frames[0])
    tid = np.asarray(kd.train_ids)[has]
    arr = kd.dask_array(labelled=False)
    arr = arr.reshape((tid.size, nf) + DSSC_MODULE_SHAPE)
    idx = np.arange(tid.size)[subset]
    arr, tid = arr[idx], tid[idx]
    if drop_intra_darks:
        arr = arr[:, 0::2]
    if data_size_Gb is not None:
        per_train = np.prod(arr.shape[1:]) * arr.dtype.itemsize
        ntr = max(1, int(float(data_size_Gb) * 1e9 // per_train))
        arr, tid = arr[:ntr], tid[:ntr]
    if persist:
        arr = arr.persist()
    return arr, tid


def check_dark_frames(arr_dark, arr, darkrun, run):
    """The dark run has as many frames per train as the data run.

    Parameters
    ----------
    arr_dark, arr : array_like
        (trainId, pulseId, 128, 512) module data of the dark and the data run.
    darkrun, run : int
        Their run numbers, for the message.

    Raises
    ------
    ToolBoxValueError
        The frame counts differ: the per-frame dark cannot be subtracted.
    """
    nd, n = int(arr_dark.shape[1]), int(arr.shape[1])
    if nd != n:
        raise ToolBoxValueError(
            f"dark run {darkrun} has {nd} frames per train (after dropping intra-darks) but "
            f"run {run} has {n}: the dark is subtracted frame by frame; pass a dark run "
            f"recorded with the same pulse pattern (and the same drop_intra_darks)"
        )
