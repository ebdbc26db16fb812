"""XAS and XMCD with uncertainties (``toolbox_scs.routines.XAS``).

Pulse-resolved incoming (``Io``, e.g. the XGM ``SCS_SA3``) and transmitted or
fluorescence (``It``, e.g. ``MCP3peaks``) intensities are binned against the
photon energy. In each bin the absorption is ``-ln(<It>/<Io>)`` (transmission)
or ``<It>/<Io>`` (fluorescence) with its standard deviation from error
propagation (including the It/Io correlation) and its standard error.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import ToolBoxValueError

__all__ = ["xas", "xasxmcd", "absorption", "binning"]

FIELDS = ("nrj", "muA", "sigmaA", "sterrA", "muIo", "counts")


def absorption(T, Io, fluorescence=False):
    """The absorption of one set of shots.

    Parameters
    ----------
    T : array_like
        1-D array of transmitted (or fluorescence) signal.
    Io : array_like
        1-D array of incoming signal.
    fluorescence : bool
        If True, absorption is the ratio <T>/<Io>; if False, the negative log
        -ln(<T>/<Io>).

    Returns
    -------
    dict
        muA (absorption), sigmaA (its standard deviation), muT, sigmaT, muIo, sigmaIo,
        p (the T/Io correlation coefficient) and counts.
    """
    T, Io = np.asarray(T, float), np.asarray(Io, float)
    ok = np.isfinite(T) & np.isfinite(Io)
    T, Io = T[ok], Io[ok]
    n = len(T)
    if n < 2:
        nan = np.nan
        return dict(
            muA=nan, sigmaA=nan, muT=nan, sigmaT=nan, muIo=nan, sigmaIo=nan, p=nan, counts=n
        )
    muT, sigmaT = T.mean(), T.std()
    muIo, sigmaIo = Io.mean(), Io.std()
    p = np.corrcoef(T, Io)[0, 1] if sigmaT > 0 and sigmaIo > 0 else 0.0
    ratio = muT / muIo
    rel = np.sqrt(
        max(
            (sigmaT / muT) ** 2 + (sigmaIo / muIo) ** 2 - 2 * p * sigmaT * sigmaIo / (muT * muIo),
            0.0,
        )
    )
    if fluorescence:
        muA, sigmaA = ratio, abs(ratio) * rel
    else:
        muA, sigmaA = -np.log(ratio) if ratio > 0 else np.nan, rel
    return dict(
        muA=muA, sigmaA=sigmaA, muT=muT, sigmaT=sigmaT, muIo=muIo, sigmaIo=sigmaIo, p=p, counts=n
    )


def binning(x, T, Io, bins, fluorescence=False):
    """``absorption`` of the shots in each bin of ``x``.

    Parameters
    ----------
    x : array_like
        The binned variable per shot (e.g. photon energy, eV).
    T, Io : array_like
        Transmitted and incoming signal per shot.
    bins : array_like
        Bin edges (units of ``x``).
    fluorescence : bool
        As `absorption`.

    Returns
    -------
    dict
        The keys of `absorption`, each an array with one value per bin.
    """
    idx = np.digitize(x, bins) - 1
    idx[x == bins[-1]] = len(bins) - 2  # the last edge belongs to the last bin
    out = {k: np.full(len(bins) - 1, np.nan) for k in ("muA", "sigmaA", "muIo", "counts")}
    order = np.argsort(idx, kind="stable")
    sidx = idx[order]
    starts = np.searchsorted(sidx, np.arange(len(bins)))
    for b in range(len(bins) - 1):
        sel = order[starts[b] : starts[b + 1]]
        r = absorption(T[sel], Io[sel], fluorescence)
        for k in out:
            out[k][b] = r[k]
    out["counts"] = np.nan_to_num(out["counts"]).astype(int)
    return out


def _stack(nrun, keys):
    missing = [k for k in keys if k not in nrun]
    if missing:
        raise ToolBoxValueError(
            f"{', '.join(map(repr, missing))} not in the dataset (variables: "
            f"{', '.join(map(str, nrun.data_vars))}); load them or pass Iokey=, Itkey=, nrjkey="
        )
    arrays = xr.broadcast(*[nrun[k] for k in keys])
    return [a.transpose(*arrays[0].dims).values.ravel() for a in arrays]


def _sign(values):
    """MCP integrals of negative-going pulses may be negative: make them positive."""
    med = np.nanmedian(values)
    return -values if np.isfinite(med) and med < 0 else values


def xas(
    nrun,
    bins=None,
    Iokey="SCS_SA3",
    Itkey="MCP3peaks",
    nrjkey="nrj",
    Iooffset=0,
    plot=False,
    fluorescence=False,
):
    """Compute the XAS spectra from a xarray nrun.

    Parameters
    ----------
    nrun : xarray.Dataset
        SCS data.
    bins : array_like, int or float, optional
        An array of bin-edges or an integer number of desired bins or a float for the
        desired bin width (eV). Default: 80 bins.
    Iokey : str
        The Io fields, typically 'SCS_SA3'.
    Itkey : str
        The It fields, typically 'MCP3peaks'.
    nrjkey : str
        The nrj fields (eV), typically 'nrj'.
    Iooffset : float
        Offset to apply on Io.
    plot : bool
        Displays a XAS spectrum if True.
    fluorescence : bool
        If True, absorption is the ratio, if False, absorption is negative log.

    Returns
    -------
    dict
        nrj: the bin centers (eV); muA: the absorption; sigmaA: standard deviation on
        the absorption; sterrA: standard error on the absorption; muIo: the mean of the
        Io; counts: the number of events in each bin.

    Examples
    --------
    >>> data = tb.load(proposal, run, ['SCS_SA3', 'MCP3peaks', 'nrj'])   # doctest: +SKIP
    >>> res = xas(data, bins=0.1, plot=True)                            # doctest: +SKIP
    """
    nrj, Io, It = _stack(nrun, [nrjkey, Iokey, Itkey])
    Io = _sign(Io) + Iooffset
    It = _sign(It)
    ok = np.isfinite(nrj) & np.isfinite(Io) & np.isfinite(It)
    if not ok.any():
        raise ToolBoxValueError(f"no shot has finite {nrjkey}, {Iokey} and {Itkey}")
    nrj, Io, It = nrj[ok], Io[ok], It[ok]
    lo, hi = float(nrj.min()), float(nrj.max())
    if bins is None:
        bins = np.linspace(lo, hi, 81)
    elif isinstance(bins, (int, np.integer)):
        bins = np.linspace(lo, hi, int(bins) + 1)
    elif isinstance(bins, (float, np.floating)):
        bins = np.arange(lo, hi + bins, bins)
    bins = np.asarray(bins, float)
    if bins.ndim != 1 or len(bins) < 2 or np.any(np.diff(bins) <= 0):
        raise ToolBoxValueError(
            f"bins must be increasing bin edges, an int or a float bin width; got {bins!r}"
        )
    r = binning(nrj, It, Io, bins, fluorescence)
    with np.errstate(invalid="ignore", divide="ignore"):
        sterr = r["sigmaA"] / np.sqrt(r["counts"])
    out = {
        "nrj": 0.5 * (bins[1:] + bins[:-1]),
        "muA": r["muA"],
        "sigmaA": r["sigmaA"],
        "sterrA": sterr,
        "muIo": r["muIo"],
        "counts": r["counts"],
    }
    if plot:
        _plot(out, Itkey, Iokey, fluorescence)
    return out


def _plot(out, Itkey, Iokey, fluorescence):
    import matplotlib.pyplot as plt  # heavy: only for plots

    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(7, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax1.errorbar(out["nrj"], out["muA"], out["sterrA"], fmt="o-", ms=3)
    ax1.set_ylabel(f"{Itkey}/{Iokey}" if fluorescence else f"-ln({Itkey}/{Iokey})")
    ax1.set_title("XAS")
    ax2.bar(
        out["nrj"], out["counts"], width=np.diff(out["nrj"]).mean() if len(out["nrj"]) > 1 else 1
    )
    ax2.set_ylabel("counts")
    ax2.set_xlabel("photon energy [eV]")
    return fig


def _as_struct(d):
    n = len(d["nrj"])
    arr = np.empty(n, dtype=[(f, "i8" if f == "counts" else "f8") for f in FIELDS])
    for f in FIELDS:
        arr[f] = d[f]
    return arr


def xasxmcd(dataP, dataN):
    """Compute XAS and XMCD from data with both magnetic field direction.

    Parameters
    ----------
    dataP : numpy.ndarray or dict
        Structured array (or xas dict) for positive field.
    dataN : numpy.ndarray or dict
        Structured array (or xas dict) for negative field.

    Returns
    -------
    xas : numpy.ndarray
        Structured array for the sum, the average (muA_P + muA_N) / 2.
    xmcd : numpy.ndarray
        Structured array for the difference muA_P - muA_N.

    Both with fields nrj, muA, sigmaA, sterrA, muIo, counts (errors added in
    quadrature, counts summed).
    """
    for name, d in (("dataP", dataP), ("dataN", dataN)):
        try:
            [d[f] for f in ("nrj", "muA", "sigmaA")]
        except (KeyError, ValueError, IndexError, TypeError):
            raise ToolBoxValueError(
                f"{name} must be the output of xas() (nrj, muA, sigmaA, sterrA, muIo, counts)"
            ) from None
    eP, eN = np.asarray(dataP["nrj"], float), np.asarray(dataN["nrj"], float)
    if eP.shape != eN.shape or not np.allclose(eP, eN):
        raise ToolBoxValueError(
            "dataP and dataN have different energy bins; compute both with "
            "the same bins= (an array of bin edges)"
        )

    def get(d, f):
        try:
            return np.asarray(d[f], float)
        except (KeyError, ValueError):
            return np.full(len(d["nrj"]), np.nan)

    sP, sN = get(dataP, "sigmaA"), get(dataN, "sigmaA")
    eP, eN = get(dataP, "sterrA"), get(dataN, "sterrA")
    common = {
        "nrj": np.asarray(dataP["nrj"], float),
        "muIo": 0.5 * (get(dataP, "muIo") + get(dataN, "muIo")),
        "counts": np.asarray(dataP["counts"]) + np.asarray(dataN["counts"]),
    }
    xas_ = _as_struct(
        {
            **common,
            "muA": 0.5 * (get(dataP, "muA") + get(dataN, "muA")),
            "sigmaA": 0.5 * np.sqrt(sP**2 + sN**2),
            "sterrA": 0.5 * np.sqrt(eP**2 + eN**2),
        }
    )
    xmcd = _as_struct(
        {
            **common,
            "muA": get(dataP, "muA") - get(dataN, "muA"),
            "sigmaA": np.sqrt(sP**2 + sN**2),
            "sterrA": np.sqrt(eP**2 + eN**2),
        }
    )
    return xas_, xmcd
