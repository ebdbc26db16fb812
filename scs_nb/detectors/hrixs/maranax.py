"""MaranaX: the hRIXS analysis with parallel centroiding.

``centroid`` runs over images in memory in threads; ``centroid_from_run``
reads a run in chunks of trains in worker processes (or on a dask client) and
brings back only the spectra (see ``parallel``).
"""

from __future__ import annotations

import warnings

import numpy as np
from extra_data import by_id

from ...errors import ToolBoxValueError
from ...load import load, run_by_path
from ...reader import lookup
from .analysis import hRIXS
from .kernel import _kernel
from .parallel import chunk_results, progress, thread_map

__all__ = ["MaranaX"]


class MaranaX(hRIXS):
    """A spin-off of the hRIXS class: with parallelized centroiding.

    ``centroid`` runs over the images in threads (the numba kernel releases
    the GIL); ``centroid_from_run`` reads the images in bounded chunks of
    ``CHUNK_TRAINS`` trains in worker processes, so a run never has to fit in
    memory. ``return_hits=True`` also returns up to ``NUM_MAX_HITS`` hits per
    image (x, corrected y; NaN padded) of each kind.

    Parameters
    ----------
    *args, **kwargs
        As for ``hRIXS``; ``detector`` defaults to 'MaranaX'.

    Attributes
    ----------
    NUM_MAX_HITS : int
        Hits per image and kind returned with ``return_hits``.
    CHUNK_TRAINS : int
        Trains read at once by a worker of ``centroid_from_run``.
    """

    NUM_MAX_HITS = 30
    CHUNK_TRAINS = 8

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("detector", "MaranaX")
        super().__init__(*args, **kwargs)

    def _centroid_task(self, index, image, energy):
        hs, hd, singles, doubles = self._one_image(image, energy, self._method, self._edges_)
        self._histogram_task(index, hs, hd, None)
        if self._hits is not None:
            for name, h in (("singles", singles), ("doubles", doubles)):
                k = min(len(h), self.NUM_MAX_HITS)
                self._hits[name][index, :k] = h[:k]
                self._hits["n_" + name][index] = len(h)

    def _histogram_task(self, index, total, double, default_range):
        self._singles[index] = total
        self._doubles[index] = double

    def _centroid_map(self, index, *, image, energy):
        self._centroid_task(index, image, energy)

    def _setup(self, n, edges, method, return_hits):
        self._check_method(method)
        self._method, self._edges_ = method, edges
        self._singles = np.zeros((n, len(edges) - 1))
        self._doubles = np.zeros((n, len(edges) - 1))
        self._hits = None
        if return_hits:
            m = self.NUM_MAX_HITS
            self._hits = {
                "singles": np.full((n, m, 2), np.nan),
                "doubles": np.full((n, m, 2), np.nan),
                "n_singles": np.zeros(n, np.int64),
                "n_doubles": np.zeros(n, np.int64),
            }

    def _finish(self, data, edges, method):
        out = self._assign_spectra(data, edges, self._singles, self._doubles, method)
        if self._hits is not None:
            h = self._hits
            out = out.assign(
                singles=(("trainId", "hit", "coord"), h["singles"]),
                doubles=(("trainId", "hit", "coord"), h["doubles"]),
                n_singles=("trainId", h["n_singles"]),
                n_doubles=("trainId", h["n_doubles"]),
            )
            out = out.assign_coords(coord=["x", "y"])
            lost = int(
                np.maximum(h["n_singles"] - self.NUM_MAX_HITS, 0).sum()
                + np.maximum(h["n_doubles"] - self.NUM_MAX_HITS, 0).sum()
            )
            if lost:
                warnings.warn(
                    f"return_hits: {lost} hits beyond NUM_MAX_HITS="
                    f"{self.NUM_MAX_HITS} per image are not returned (the spectra "
                    "count them); raise NUM_MAX_HITS to keep them",
                    stacklevel=3,
                )
        self._singles = self._doubles = self._hits = None
        return out

    def centroid(self, data, bins=None, **kwargs):
        """Calculate a spectrum by finding the centroid of individual photons,
        in parallel over the images.

        Parameters
        ----------
        data : xarray.Dataset
            Images of DETECTOR (from ``from_run``), with ``nrj`` for 'auto'.
        bins : int, optional
            Number of energy bins; default BINS (None: one per pixel of Y_RANGE).
        **kwargs
            ``method`` ('auto' | 'manual'), ``return_hits`` (bool), ``n_jobs``
            (threads; default the CPU count, at most 8).

        Returns
        -------
        xarray.Dataset
            ``data`` with ``energy`` (eV), ``spectrum`` (photons per bin), for
            'auto' ``dbl_spectrum``, and with ``return_hits`` ``singles``,
            ``doubles`` (trainId, hit, coord: x, corrected y in px),
            ``n_singles``, ``n_doubles``.
        """
        method = kwargs.pop("method", "auto")
        return_hits = kwargs.pop("return_hits", False)
        n_jobs = kwargs.pop("n_jobs", None)
        if kwargs:
            raise ToolBoxValueError(
                f"unknown argument(s) {sorted(kwargs)} of centroid; "
                "pass bins, method, return_hits or n_jobs"
            )
        images = self._images(data)
        n = images.sizes["trainId"]
        edges = self._edges(images.shape[1:], bins)
        energies = self._energies(data, n, method)
        self._setup(n, edges, method, return_hits)
        _kernel()  # compile once, before the threads start
        raw = images.values
        if self.USE_DARK:  # the object's dark caches, filled once before the threads
            xs, ys = self._ranges(raw.shape[1:])
            self._roi_dark(self._dark(raw.shape[1:]), xs, ys)
        thread_map(
            lambda i: self._centroid_map(i, image=raw[i], energy=energies[i]),
            n,
            n_jobs,
            "centroiding",
        )
        return self._finish(data, edges, method)

    def centroid_from_run(
        self,
        runNB,
        proposal=None,
        extra_fields=(),
        drop_first=False,
        subset=None,
        bins=None,
        return_hits=False,
        method="auto",
        n_jobs=None,
        client=None,
    ):
        """from_run() and centroid() in one: the images are read in chunks of
        CHUNK_TRAINS trains by worker processes (never the whole run), only
        the spectra (and hits) come back. ``client``: a dask
        ``distributed.Client`` (e.g. on ``scs_nb.parallel.make_cluster()``)
        to run the chunks on instead of local processes.

        Parameters
        ----------
        runNB : int
            The run number.
        proposal : int, optional
            Default: PROPOSAL.
        extra_fields : sequence of str
            Mnemonics to load besides FIELDS.
        drop_first : bool
            Leave out the first train of the run.
        subset : slice, optional
            The trains to use (replaced by ``drop_first``).
        bins : int, optional
            Number of energy bins; default BINS.
        return_hits : bool
            Also return up to NUM_MAX_HITS hits per image and kind.
        method : str
            'auto' (thresholds from the photon energy) or 'manual'.
        n_jobs : int, optional
            Worker processes; default the CPU count, at most 8.
        client : distributed.Client, optional
            Run the chunks on this dask client.

        Returns
        -------
        xarray.Dataset
            FIELDS with ``energy`` (eV) and the spectra, as ``centroid``.
        """
        if proposal is None:
            proposal = self.PROPOSAL
        if drop_first:
            subset = slice(1, None)
        run, data = load(
            proposal,
            runNB=runNB,
            subset=subset,
            fields=list(self.FIELDS) + list(extra_fields),
            extract_digitizers=False,
            extract_xgm=False,
            extract_bam=False,
        )
        _, alt = lookup(run, self.DETECTOR)
        cam = run[alt["source"], alt["key"]]
        tids = np.intersect1d(
            np.asarray(data.trainId.values, np.uint64),
            np.asarray(cam.train_id_coordinates(), np.uint64),
        )
        data = data.sel(trainId=tids)
        n = len(tids)
        shape = tuple(cam.entry_shape)
        edges = self._edges(shape, bins)
        energies = self._energies(data, n, method)
        self._setup(n, edges, method, return_hits)
        chunks = [
            np.arange(a, min(a + self.CHUNK_TRAINS, n)) for a in range(0, n, self.CHUNK_TRAINS)
        ]
        folder = data.attrs.get("runFolder")
        state = self._state()
        jobs = [
            (folder, alt["source"], alt["key"], tids[c], energies[c], edges, method, return_hits)
            for c in chunks
        ]
        # the settings (with the dark image) go once to every worker
        with chunk_results(_chunk_job, jobs, state, n_jobs, client) as results:
            for c, res in progress(zip(chunks, results), len(chunks), "centroiding chunks"):
                self._singles[c], self._doubles[c] = res[0], res[1]
                if return_hits:
                    for k in ("singles", "doubles", "n_singles", "n_doubles"):
                        self._hits[k][c] = res[2][k]
        return self._finish(data, edges, method)

    def _state(self):
        keys = (
            "X_RANGE",
            "Y_RANGE",
            "THRESHOLD",
            "STD_THRESHOLD",
            "DBL_THRESHOLD",
            "AUTO_THRESHOLD",
            "CURVE_A",
            "CURVE_B",
            "USE_DARK",
            "NUM_MAX_HITS",
        )
        st = {k: getattr(self, k) for k in keys}
        st["dark_image"] = (
            None if self.dark_image is None else np.asarray(self.dark_image, np.float32)
        )
        st["PROPOSAL"], st["DETECTOR"] = self.PROPOSAL, self.DETECTOR
        return st


def _chunk_job(job, state):
    """Worker: centroid the images of some trains of a run (read here)."""
    folder, source, key, tids, energies, edges, method, return_hits = job
    state = dict(state)  # jobs may share it (threads of a dask worker)
    m = MaranaX(state.pop("PROPOSAL"), detector=state.pop("DETECTOR"))
    m.dark_image = state.pop("dark_image")
    for k, v in state.items():
        setattr(m, k, v)
    run = run_by_path(folder).select_trains(_by_id(tids)).select([(source, key)])
    m._setup(len(tids), edges, method, return_hits)
    index = {int(t): i for i, t in enumerate(tids)}
    for tid, data in run.trains():  # one image in memory at a time
        m._centroid_map(index[int(tid)], image=data[source][key], energy=energies[index[int(tid)]])
    return m._singles, m._doubles, m._hits


def _by_id(tids):
    """extra_data's train selection of the train ids ``tids``."""
    return by_id[np.asarray(tids, np.uint64)]
