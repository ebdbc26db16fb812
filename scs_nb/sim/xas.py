"""XAS / XMCD energy scans: the mono is stepped across an absorption edge.

Physics and layout
------------------
* Sample absorption (thickness included, dimensionless ``mu d``) at photon
  energy E and magnet field direction s = +1 / -1::

      mu(E, s) = pre + jump * (0.5 + atan((E - E0) / gamma) / pi)
                 + white * L(E) - s * xmcd / 2 * L(E),   L(E) = gamma^2 / ((E - E0)^2 + gamma^2)

  so the XMCD ``mu(+) - mu(-)`` is ``-xmcd * L(E)``: amplitude ``-xmcd`` at E0.
* Within each energy step the magnet current is first positive, then negative
  (``magnet`` = +/- ``current_A``): both field directions at every energy.
* Transmission detector MCP3 (``MCP3apd``): ``gain3 * E_pulse * exp(-mu)``;
  fluorescence detector MCP1 (``MCP1apd``): ``gain1 * E_pulse * mu`` (thin
  sample); MCP2 / MCP4 see the beam without the sample. ``E_pulse`` are the
  true SASE pulse energies the SCS XGM measures (``SCS_SA3``, 1 % noise).

``truth['xas']``: the model parameters, the energies of the steps and
``mu(E, +1)``, ``mu(E, -1)`` there.
"""

from __future__ import annotations

import numpy as np

from . import digitizers, timing
from .beamline import add_beamline
from .registry import scenario


def mu(E, s, E0, gamma, pre, jump, white, xmcd):
    """Injected absorption for helicity (magnet sign) ``s``: edge step plus white line.

    Parameters
    ----------
    E : float or array of float
        Photon energy in eV.
    s : float
        +1 or -1: the sign of the magnetisation.
    E0, gamma : float
        Edge energy and width (Lorentzian half width), in eV.
    pre, jump, white, xmcd : float
        Pre-edge absorption, edge jump, white-line and XMCD amplitudes.

    Returns
    -------
    numpy.ndarray of float
        The absorption (dimensionless).
    """
    E = np.asarray(E, float)
    L = gamma**2 / ((E - E0) ** 2 + gamma**2)
    return pre + jump * (0.5 + np.arctan((E - E0) / gamma) / np.pi) + (white - s * xmcd / 2) * L


def add_mcps(run, energies, factors, gains=(20.0, 22.0, 18.0, 25.0)):
    """Write the ADQ412 MCP1..4 on SASE3 pulses with a per-train factor per channel.

    Parameters
    ----------
    run : SimRun
        The run being built.
    energies : list of array of float
        SASE3 pulse energies in µJ, one array per train.
    factors : dict
        ``{'MCP1': factor or array of factors per train, ...}``; channels not
        named have factor 1.
    gains : sequence of 4 float
        ADC units per µJ of MCP1..4.

    Returns
    -------
    None
        Integrated peaks are ``gain * E * factor`` (ADC units); the ground
        truth goes to ``run.truth['digitizers']``.
    """
    pat = run.pattern
    chans = []
    for num, letter in digitizers.ADQ_CHANNELS.items():
        name = f"MCP{num}"
        f = np.broadcast_to(np.asarray(factors.get(name, 1.0), float), (run.ntrains,))
        amps = [gains[num - 1] * np.asarray(e) * f[i] for i, e in enumerate(energies)]
        ch = digitizers._Channel(
            name,
            f"board1.apd.channel_1_{letter}",
            "ADQ412",
            "sase3",
            pat.sase3,
            amps,
            False,
            -1.0,
            f"{name} (TIM) MCP signal",
        )
        ch.key = f"digitizers.channel_1_{letter}"
        chans.append(ch)
    digitizers._board(run, "ADQ412", digitizers.ADQ, chans, digitizers._union(pat.sase3))
    truth = run.truth.setdefault("digitizers", {})
    for ch in chans:
        truth[ch.name] = digitizers._truth(ch, digitizers.ADQ + ":network", "ADQ412")


@scenario("xas_xmcd", trains=328)
def xas_xmcd(
    run,
    start=770.0,
    stop=790.0,
    nsteps=41,
    E0=780.0,
    gamma=1.0,
    pre=0.3,
    jump=1.0,
    white=1.0,
    xmcd=0.4,
    current_A=5.0,
    npulses=20,
):
    """XAS/XMCD energy scan 770-790 eV (41 steps) across an L3-like edge at 780 eV.

    Arctan step 1.0 + white line 1.0, width 1 eV, with XMCD 0.4; magnet +/-5 A
    within each step (at least 4 trains per step); MCP3 transmission, MCP1
    fluorescence, SCS XGM as Io. Ground truth: ``run.truth['xas']`` (model
    parameters, ``setpoints_eV``, ``mu_plus`` / ``mu_minus`` there) and
    ``run.truth['scan']``.

    Parameters
    ----------
    run : SimRun
        The run being built.
    start, stop : float
        First and last photon energy in eV.
    nsteps : int
        Number of energy steps (at most ntrains / 4).
    E0, gamma : float
        Edge energy and width (Lorentzian half width), in eV.
    pre, jump, white, xmcd : float
        Pre-edge absorption, edge jump, white-line and XMCD amplitudes.
    current_A : float
        Magnet current in A (sign flips within each step).
    npulses : int
        SASE3 pulses per train.
    """
    n = run.ntrains
    # at least 4 trains per energy step: both field directions at every energy
    setpoints = np.linspace(start, stop, max(min(int(nsteps), n // 4), 2))
    step_of = np.minimum((np.arange(n) * len(setpoints)) // n, len(setpoints) - 1)
    nrj = setpoints[step_of]
    # first half of each step: positive field, second half: negative
    sign = np.ones(n)
    for k in range(len(setpoints)):
        idx = np.flatnonzero(step_of == k)
        sign[idx[len(idx) // 2 :]] = -1.0
    m = mu(nrj, sign, E0, gamma, pre, jump, white, xmcd)
    pat = timing.PulsePattern.constant(n, sase3=(int(npulses), 1000, 24))
    energies = add_beamline(run, pat, nrj=nrj, magnet=sign * current_A, digitizers=False, bams=())
    true_e = run.truth["xgm"]["SCS"].get("true_sa3_energy_uJ")
    pulses = [np.asarray(e) for e in (true_e or energies)]
    add_mcps(run, pulses, {"MCP3": np.exp(-m), "MCP1": m})
    run.truth["xas"] = {
        "E0_eV": E0,
        "gamma_eV": gamma,
        "pre": pre,
        "jump": jump,
        "white": white,
        "xmcd": xmcd,
        "xmcd_at_E0": -xmcd,
        "current_A": current_A,
        "transmission": "MCP3peaks",
        "fluorescence": "MCP1peaks",
        "Io": "SCS_SA3",
        "setpoints_eV": setpoints.tolist(),
        "mu_plus": mu(setpoints, 1, E0, gamma, pre, jump, white, xmcd).tolist(),
        "mu_minus": mu(setpoints, -1, E0, gamma, pre, jump, white, xmcd).tolist(),
        "ln_gain_MCP3": float(np.log(18.0)),
        "gain_MCP1": 20.0,
        "model": "mu = pre + jump (0.5 + atan((E-E0)/gamma)/pi) + (white - s xmcd/2) L(E); "
        "MCP3 = 18 E exp(-mu), MCP1 = 20 E mu",
    }
    run.truth["scan"] = {"mnemonic": "nrj", "setpoints": setpoints.tolist()}
