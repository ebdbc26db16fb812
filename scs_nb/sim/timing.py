"""Timing system: the pulse pattern of a run, the timeserver's bunch pattern
table and the bunch decoder.

Bits follow euxfel_bunch_pattern: a SASE3 pulse is sent to T4D with the
photon-line deflection bit (27), a SASE1 pulse to T4D without it; the SCS
pump-probe laser is LASER_SEED6 (bit 13).
"""

from __future__ import annotations

import euxfel_bunch_pattern as ebp
import numpy as np

from ..facility import SLOTS_PER_TRAIN, sources
from .writer import ControlSource, instrument_from_arrays

NSLOTS = SLOTS_PER_TRAIN  # 4.5 MHz slots in one bunch pattern table
PULSEID_LEN = SLOTS_PER_TRAIN  # length of the decoder's zero-padded pulse id arrays
TIMESERVER = sources.TIMESERVER
DECODER = sources.BUNCH_DECODER
CHARGE_BITS = 0x3  # a non-zero bunch charge code


def regular(n, start, step):
    """Slot indices of ``n`` pulses from slot ``start``, ``step`` slots apart.

    Parameters
    ----------
    n, start, step : int
        Number of pulses, first slot, distance in slots (4.5 MHz slots).

    Returns
    -------
    numpy.ndarray of int64
    """
    return start + step * np.arange(int(n), dtype=np.int64)


class PulsePattern:
    """Slot indices of SASE1, SASE3 and pump-probe laser pulses, per train.

    Parameters
    ----------
    sase3 : list of array of int
        SASE3 pulse slots (4.5 MHz slots), one array per train.
    sase1, ppl : list of array of int, optional
        SASE1 and pump-probe laser pulse slots; default none.

    Attributes
    ----------
    sase3, sase1, ppl : list of numpy.ndarray of int64
        The slots, one array per train.
    """

    def __init__(self, sase3, sase1=None, ppl=None):
        n = len(sase3)
        self.sase3 = [np.asarray(x, np.int64) for x in sase3]
        self.sase1 = [np.asarray(x, np.int64) for x in (sase1 or [[]] * n)]
        self.ppl = [np.asarray(x, np.int64) for x in (ppl or [[]] * n)]

    @classmethod
    def constant(cls, ntrains, sase3=(20, 1000, 24), sase1=(0, 200, 4), ppl=None):
        """The same pattern every train.

        Parameters
        ----------
        ntrains : int
            Number of trains.
        sase3, sase1, ppl : tuple of 3 int or None
            ``(npulses, first slot, slot step)``; None or 0 pulses: none.

        Returns
        -------
        PulsePattern
        """

        def rep(spec):
            if spec is None or spec[0] == 0:
                return [np.zeros(0, np.int64)] * ntrains
            return [regular(*spec)] * ntrains

        return cls(rep(sase3), rep(sase1), rep(ppl))

    def set_trains(self, which, sel, spec):
        """Change the pattern of one kind of pulses in some trains.

        Parameters
        ----------
        which : {'sase3', 'sase1', 'ppl'}
            The pulses to change.
        sel : array of bool, slice or index
            The trains (indices into the run's trains).
        spec : tuple of 3 int or None
            ``(npulses, first slot, slot step)``; None or 0 pulses: none.
        """
        arr = getattr(self, which)
        idx = np.arange(len(arr))[sel]
        value = np.zeros(0, np.int64) if spec is None or spec[0] == 0 else regular(*spec)
        for i in idx:
            arr[i] = value

    @property
    def ntrains(self):
        """Number of trains of the pattern.

        Returns
        -------
        int
        """
        return len(self.sase3)

    def table(self, i):
        """The bunch pattern table of one train.

        Parameters
        ----------
        i : int
            Train index.

        Returns
        -------
        numpy.ndarray of uint32, shape (NSLOTS,)
            Destination, photon-line deflection, charge and laser bits per slot.
        """
        t = np.zeros(NSLOTS, np.uint32)
        t[self.sase1[i]] |= np.uint32(ebp.DESTINATION_T4D | CHARGE_BITS)
        t[self.sase3[i]] |= np.uint32(
            ebp.DESTINATION_T4D | ebp.PHOTON_LINE_DEFLECTION | CHARGE_BITS
        )
        t[self.ppl[i]] |= np.uint32(ebp.LASER_SEED6)
        return t

    def tables(self):
        """The bunch pattern tables of all trains.

        Returns
        -------
        numpy.ndarray of uint32, shape (ntrains, NSLOTS)
            See ``table``.
        """
        return np.stack([self.table(i) for i in range(self.ntrains)])

    def truth(self):
        """The pattern as ground truth (JSON-serialisable).

        Returns
        -------
        dict
            ``sase3_pulse_ids``, ``sase1_pulse_ids``, ``ppl_pulse_ids`` (slots
            per train) and ``npulses_sase3``, ``npulses_sase1``,
            ``npulses_ppl`` (pulses per train).
        """
        return {
            "sase3_pulse_ids": [x.tolist() for x in self.sase3],
            "sase1_pulse_ids": [x.tolist() for x in self.sase1],
            "ppl_pulse_ids": [x.tolist() for x in self.ppl],
            "npulses_sase3": [len(x) for x in self.sase3],
            "npulses_sase1": [len(x) for x in self.sase1],
            "npulses_ppl": [len(x) for x in self.ppl],
        }


def _padded(ids_per_train):
    out = np.zeros((len(ids_per_train), PULSEID_LEN), np.int32)
    for i, ids in enumerate(ids_per_train):
        out[i, : len(ids)] = ids
    return out


def add_timing(run, pattern: PulsePattern, pipeline=True, decoder=True):
    """Write the timeserver (bunch pattern table) and the bunch decoder.

    Parameters
    ----------
    run : SimRun
        The run being built; ``run.pattern`` is set to ``pattern``.
    pattern : PulsePattern
        The pulses of every train.
    pipeline : bool
        Write the table as the newer timeserver does (output channel
        ``:outputBunchPattern``); otherwise as a CONTROL key of the
        timeserver.
    decoder : bool
        Also write the bunch decoder (pulse ids and numbers per train).

    Returns
    -------
    PulsePattern
        ``pattern``; its truth goes to ``run.truth['pattern']``.
    """
    run.pattern = pattern
    tables = pattern.tables()
    if pipeline:
        run.add(
            instrument_from_arrays(
                TIMESERVER + ":outputBunchPattern",
                "TimeServer",
                {"data": {"data.bunchPatternTable": tables}},
                {"data": np.ones(run.ntrains)},
            )
        )
    else:
        run.add(ControlSource(TIMESERVER, "TimeServer", {"bunchPatternTable": tables}))
    if decoder:
        values = {}
        for loc, ids in (
            ("sase1", pattern.sase1),
            ("sase3", pattern.sase3),
            ("laser", pattern.ppl),
        ):
            values[f"{loc}.pulseIds"] = _padded(ids)
            values[f"{loc}.nPulses"] = np.array([len(x) for x in ids], np.int32)
        run.add(ControlSource(DECODER, "BunchDecoder", values))
    run.truth["pattern"] = pattern.truth()
    return pattern
