"""The standard SCS variables of a run: what a run table shows for every run.

Each function takes an opened run (``extra_data.DataCollection``, as DAMNIT passes
it to a context file's variables, or ``tb.open_run(proposal, run)``) and returns a
number, a string or a small array computed with scs_nb's own loaders. A function
whose device is not in the run raises :class:`DeviceAbsent` (DAMNIT's ``Skip`` in
the context file written by ``scs-nb damnit-context``). They need no DAMNIT.

:data:`VARIABLES` lists them with the title, unit and summary a table shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..detectors.hrixs import hRIXS
from ..errors import ToolBoxValueError
from ..facility import DSSC_NMODULES
from ..facility.sources import DSSC_MODULE
from ..load import get_array
from ..pulses.bam import get_bam
from ..pulses.digitizers import get_digitizer_peaks
from ..pulses.xgm import get_xgm
from ..reader.discovery import mnemonics_for_run
from ..routines.laser import positionToDelay

__all__ = [
    "DeviceAbsent",
    "Var",
    "VARIABLES",
    "variable",
    "SCAN_MOTORS",
    "n_trains",
    "duration",
    "detect_scan",
    "scan_type",
    "scan_motor",
    "scan_range",
    "xgm_mean",
    "xgm_spread",
    "pulses_per_train",
    "photon_energy",
    "delay_range",
    "mcp_mean",
    "mcp_xgm_correlation",
    "transmission",
    "dssc_module_means",
    "hrixs_photon_rate",
    "viking_counts",
]


class DeviceAbsent(ToolBoxValueError):
    """The device a variable needs is not in the run (DAMNIT: ``Skip``)."""


#: motors whose stepping makes a scan, with the kind of scan and the unit of the motor
SCAN_MOTORS = {
    "PP800_DelayLine": ("delay", "mm"),
    "nrj": ("energy", "eV"),
    "scannerX": ("position", "mm"),
    "scannerY": ("position", "mm"),
    "PP800_PhaseShifter": ("delay", "ps"),
    "AFS_DelayLine": ("delay", "mm"),
    "hRIXS_delay": ("delay", "ps"),
    "PP800_HalfWP": ("laser power", "deg"),
    "MAG_CHICANE_DELAY": ("delay", "ps"),
}
_XGM = "SCS_SA3"
_MCP = "MCP2apd"
_BAM = "BAM1932M"


def _need(run, *mnemonics):
    have = mnemonics_for_run(run)
    missing = [m for m in mnemonics if m not in have]
    if missing:
        raise DeviceAbsent(
            f"{', '.join(missing)} not in this run (its mnemonics with data: "
            f"{len(have)}, e.g. {', '.join(sorted(have)[:6])})"
        )
    return have


def n_trains(run) -> int:
    """Number of trains with data.

    Parameters
    ----------
    run : extra_data.DataCollection

    Returns
    -------
    int
    """
    return len(run.train_ids)


def duration(run) -> float:
    """Time from the first to the last train, in s (trains / 10 Hz without timestamps).

    Parameters
    ----------
    run : extra_data.DataCollection

    Returns
    -------
    float
        Seconds.
    """
    try:
        ts = np.asarray(run.train_timestamps(), dtype="datetime64[ns]")
        ts = ts[~np.isnat(ts)]
    except (AttributeError, ValueError, TypeError):
        ts = np.array([], dtype="datetime64[ns]")
    if ts.size >= 2:
        return float((ts[-1] - ts[0]) / np.timedelta64(1, "s"))
    return max(len(run.train_ids) - 1, 0) / 10.0


def _scan_steps(values) -> int:
    """Plateaus of a motor's per-train positions (time order), 0 when it does not scan.

    A scanning motor holds still between moves: the median change from one train to
    the next is below 2 % of its range (jitter around one position changes by about
    a third of the range). Steps are the moves larger than ten times that median (and
    2 % of the range), plus one; a continuous ramp counts one step.
    """
    v = values[np.isfinite(values)]
    if v.size < 2:
        return 0
    span = float(v.max() - v.min())
    scale = max(abs(float(v.max())), abs(float(v.min())), 1.0)
    if span <= 1e-6 * scale:
        return 0
    d = np.abs(np.diff(v))
    quiet = float(np.median(d))
    if quiet >= 0.02 * span:
        return 0
    return 1 + int(np.count_nonzero(d > max(10 * quiet, 0.02 * span)))


def detect_scan(run) -> dict:
    """The scanned motor of a run: the one of :data:`SCAN_MOTORS` that steps most.

    A motor is scanned when it holds still between moves over a range (see
    ``_scan_steps``); jitter around a fixed position is not a scan.

    Parameters
    ----------
    run : extra_data.DataCollection

    Returns
    -------
    dict
        ``type`` ('delay', 'energy', 'position', ... or 'none'), ``motor``
        (mnemonic or ''), ``unit``, ``start``, ``stop`` (first and last position
        in time order), ``steps`` (plateaus; 1 for a continuous ramp).
    """
    have = mnemonics_for_run(run)
    best = {"type": "none", "motor": "", "unit": "", "start": np.nan, "stop": np.nan, "steps": 0}
    for name, (kind, unit) in SCAN_MOTORS.items():
        if name not in have:
            continue
        values = np.asarray(get_array(run, name).values, dtype=float).ravel()
        steps = _scan_steps(values)
        if steps and steps > best["steps"]:
            finite = values[np.isfinite(values)]
            best = {
                "type": kind,
                "motor": name,
                "unit": unit,
                "start": float(finite[0]),
                "stop": float(finite[-1]),
                "steps": int(steps),
            }
    return best


def scan_type(run) -> str:
    """Kind of scan: 'delay', 'energy', 'position', ... or 'none' (see :func:`detect_scan`)."""
    return detect_scan(run)["type"]


def scan_motor(run) -> str:
    """The scanned motor's mnemonic; raises DeviceAbsent when nothing is scanned."""
    scan = detect_scan(run)
    if not scan["motor"]:
        raise DeviceAbsent("no motor of SCAN_MOTORS steps in this run (not a scan)")
    return scan["motor"]


def scan_range(run) -> np.ndarray:
    """``[start, stop, steps]`` of the scanned motor (its unit, see :func:`detect_scan`)."""
    scan = detect_scan(run)
    if not scan["motor"]:
        raise DeviceAbsent("no motor of SCAN_MOTORS steps in this run (not a scan)")
    return np.array([scan["start"], scan["stop"], scan["steps"]], dtype=float)


def _xgm(run):
    _need(run, _XGM)
    return get_xgm(run, _XGM)[_XGM]


def xgm_mean(run) -> float:
    """Mean SASE3 pulse energy of the SCS XGM, in µJ."""
    return float(np.nanmean(_xgm(run).values))


def xgm_spread(run) -> float:
    """Relative spread (standard deviation / mean) of the SASE3 pulse energies."""
    v = _xgm(run).values
    return float(np.nanstd(v) / np.nanmean(v))


def pulses_per_train(run) -> float:
    """Mean number of SASE3 pulses per train (bunch pattern, else the XGM)."""
    have = mnemonics_for_run(run)
    if "npulses_sase3" in have:
        return float(np.nanmean(get_array(run, "npulses_sase3").values))
    x = _xgm(run)
    return float(np.mean(np.isfinite(x.values).sum(axis=-1)))


def photon_energy(run) -> float:
    """Mean mono photon energy, in eV."""
    _need(run, "nrj")
    return float(np.nanmean(get_array(run, "nrj").values))


def delay_range(run) -> np.ndarray:
    """``[min, max]`` pump-probe delay in ps: delay line position minus the BAM drift.

    The nominal delay is ``positionToDelay(PP800_DelayLine)``; the arrival time of the
    X-rays (BAM1932M, mean over the pulses of a train, ps) is subtracted train by train.
    """
    _need(run, "PP800_DelayLine", _BAM)
    pos = get_array(run, "PP800_DelayLine")
    bam = get_bam(run, _BAM)[_BAM]
    bam = bam.mean(dim=[d for d in bam.dims if d != "trainId"])
    pos, bam = xr.align(pos, bam, join="inner")
    delay = np.asarray(positionToDelay(pos.values)) - bam.values
    return np.array([np.nanmin(delay), np.nanmax(delay)])


def _mcp_and_xgm(run):
    _need(run, _MCP, _XGM)
    mcp = get_digitizer_peaks(run, _MCP)[_MCP.replace("apd", "peaks")]
    xgm = _xgm(run)
    mcp = mcp.rename({d: "pulse" for d in mcp.dims if d != "trainId"})
    xgm = xgm.rename({d: "pulse" for d in xgm.dims if d != "trainId"})
    if mcp.sizes["pulse"] == xgm.sizes["pulse"]:
        mcp = mcp.assign_coords(pulse=xgm["pulse"].values)
    return xr.align(mcp, xgm, join="inner")


def mcp_mean(run) -> float:
    """Mean pulse integral of the TIM MCP (MCP2, ADQ412 ``apd``, arbitrary units)."""
    _need(run, _MCP)
    mcp = get_digitizer_peaks(run, _MCP)[_MCP.replace("apd", "peaks")]
    return float(np.nanmean(mcp.values))


def mcp_xgm_correlation(run) -> float:
    """Pearson correlation of the MCP2 pulse integrals with the SASE3 XGM pulse energies."""
    mcp, xgm = _mcp_and_xgm(run)
    a, b = np.asarray(mcp.values).ravel(), np.asarray(xgm.values).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        raise DeviceAbsent("fewer than 3 pulses with both MCP2 and XGM values")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def transmission(run) -> float:
    """Mean estimated transmission of the XTD10 gas attenuator (fraction)."""
    _need(run, "transmission")
    return float(np.nanmean(get_array(run, "transmission").values))


def _sample(ntrains, n):
    return np.unique(np.linspace(0, ntrains - 1, min(n, ntrains)).round().astype(int))


def dssc_module_means(run, ntrains=10) -> np.ndarray:
    """Mean raw intensity of each DSSC module (ADU) on ``ntrains`` trains spread over
    the run; NaN for a module without data.

    Parameters
    ----------
    run : extra_data.DataCollection
    ntrains : int
        Trains read per module.

    Returns
    -------
    numpy.ndarray
        16 values, ADU.
    """
    from extra_data import by_index  # a selector of the reader; loaded with the run anyway

    sources = {DSSC_MODULE.format(m): m for m in range(DSSC_NMODULES)}
    present = [s for s in sources if s in run.instrument_sources]
    if not present:
        raise DeviceAbsent("no DSSC module (SCS_DET_DSSC1M-1/DET/*CH0:xtdf) in this run")
    out = np.full(DSSC_NMODULES, np.nan)
    for src in present:
        kd = run[src, "image.data"]
        idx = _sample(len(kd.train_ids), ntrains)
        if idx.size == 0:
            continue
        frames = kd.select_trains(by_index[list(idx)]).ndarray()
        out[sources[src]] = float(frames.mean(dtype=np.float64))
    return out


def hrixs_photon_rate(run, nimages=10) -> float:
    """Photons per second on the hRIXS camera: hits per image (scs_nb's centroiding,
    ``hRIXS.centroid_one``, on ``nimages`` images spread over the run) divided by the
    exposure time (``hRIXS_exposure``, s; per image when it is not recorded)."""
    have = _need(run, "hRIXS_det")
    images = get_array(run, "hRIXS_det")
    idx = _sample(images.sizes["trainId"], nimages)
    h = hRIXS(0)
    hits = [len(h.centroid_one(np.asarray(images[i].values))) for i in idx]
    per_image = float(np.mean(hits))
    if "hRIXS_exposure" in have:
        exposure = float(np.nanmean(get_array(run, "hRIXS_exposure").values))
        if exposure > 0:
            return per_image / exposure
    return per_image


def viking_counts(run) -> float:
    """Mean total counts of a Viking (Newton camera) image, in counts."""
    _need(run, "newton")
    images = get_array(run, "newton")
    return float(images.sum(dim=[d for d in images.dims if d != "trainId"]).mean())


@dataclass(frozen=True)
class Var:
    """One standard variable: the function and how a table shows it."""

    name: str
    func: object
    title: str
    unit: str | None = None
    summary: str | None = None
    description: str = ""


VARIABLES = (
    Var("n_trains", n_trains, "Trains"),
    Var("duration", duration, "Duration", "s"),
    Var("scan_type", scan_type, "Scan type"),
    Var("scan_motor", scan_motor, "Scan motor"),
    Var("scan_range", scan_range, "Scan start, stop, steps", summary="mean"),
    Var("xgm_mean", xgm_mean, "SASE3 XGM pulse energy", "uJ"),
    Var("xgm_spread", xgm_spread, "SASE3 XGM relative spread"),
    Var("pulses_per_train", pulses_per_train, "SASE3 pulses per train"),
    Var("photon_energy", photon_energy, "Photon energy", "eV"),
    Var("delay_range", delay_range, "Delay range (BAM corrected)", "ps", "mean"),
    Var("mcp_mean", mcp_mean, "MCP2 integral"),
    Var("mcp_xgm_correlation", mcp_xgm_correlation, "MCP2 / XGM correlation"),
    Var("transmission", transmission, "Transmission"),
    Var("dssc_module_means", dssc_module_means, "DSSC mean per module", "ADU", "mean"),
    Var("hrixs_photon_rate", hrixs_photon_rate, "hRIXS photon rate", "1/s"),
    Var("viking_counts", viking_counts, "Viking counts per image", "counts"),
)


def variable(name) -> Var:
    """The :class:`Var` of a standard variable by name.

    Raises
    ------
    ToolBoxValueError
        No such variable; the message lists the names.
    """
    for v in VARIABLES:
        if v.name == name:
            return v
    raise ToolBoxValueError(
        f"no standard variable {name!r}; the variables are " + ", ".join(v.name for v in VARIABLES)
    )
