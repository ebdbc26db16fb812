"""Checks: analyse a simulated run with scs_nb and compare with its truth.

Each check is registered for one scenario, is called as
``f(proposal, run, truth, plan)`` (``plan``: scenario name -> run number, for
checks that need a companion run such as a dark) and returns rows
``(quantity, injected, recovered, tolerance)``; a row is within tolerance when
``|recovered - injected| <= tolerance``. The demo prints them as a table, and
the tests run them too, so the demo's claims are tested claims.

The registry and runner are in ``registry``; the checks, one module per area:
``pulses`` (foundation, point detectors), ``dssc``, ``spectrometers`` (hRIXS,
Viking), ``howtos`` (knife-edge, reflectivity, XAS/XMCD, PES, FastCCD), ``boz``.
Importing this package registers them all. ``records`` compares what templates
recorded (``tb.record``) with the ground truth of the runs they read.
"""

from . import boz, dssc, howtos, pulses, records, spectrometers
from .boz import boz_corrections, boz_edge, boz_pump_probe
from .dssc import (
    dssc_fine_delay_setting,
    dssc_quadrant_offsets,
    dssc_resonance,
    dssc_ring_positions,
)
from .howtos import (
    fastccd_ring,
    knife_edge_radius,
    pes_peaks,
    reflectivity_fit,
    xas_xmcd_amplitudes,
)
from .pulses import (
    basic_trains,
    delay_positions,
    energy_steps,
    mcp_and_photodiode_peaks,
    missing_and_pattern,
    pulse_ids_across_change,
    xgm_and_bam,
    xgm_factor,
    xgm_flux,
)
from .records import RECORD_CHECKS, check_records, compares
from .registry import _CHECKS, check, run_checks
from .spectrometers import (
    hrixs_curvature,
    hrixs_delay,
    hrixs_energy_scan,
    hrixs_photons,
    viking_gain,
    viking_xas,
)

__all__ = [
    "_CHECKS",
    "RECORD_CHECKS",
    "check_records",
    "compares",
    "records",
    "basic_trains",
    "boz",
    "boz_corrections",
    "boz_edge",
    "boz_pump_probe",
    "check",
    "delay_positions",
    "dssc",
    "dssc_fine_delay_setting",
    "dssc_quadrant_offsets",
    "dssc_resonance",
    "dssc_ring_positions",
    "energy_steps",
    "fastccd_ring",
    "hrixs_curvature",
    "hrixs_delay",
    "hrixs_energy_scan",
    "hrixs_photons",
    "howtos",
    "knife_edge_radius",
    "mcp_and_photodiode_peaks",
    "missing_and_pattern",
    "pes_peaks",
    "pulse_ids_across_change",
    "pulses",
    "reflectivity_fit",
    "run_checks",
    "spectrometers",
    "viking_gain",
    "viking_xas",
    "xas_xmcd_amplitudes",
    "xgm_and_bam",
    "xgm_factor",
    "xgm_flux",
]
