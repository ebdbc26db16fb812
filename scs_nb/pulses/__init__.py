"""Pulse-resolved point detectors aligned on one pulse coordinate.

The bunch pattern (``bunch_pattern``) gives every pulse-resolved quantity its
pulse dimension (``sa1_pId``, ``sa3_pId``, ``ol_pId``); ``xgm``,
``digitizers`` and ``bam`` read their devices and align on it.
"""

from .bam import get_bam, get_bam_params  # noqa: F401
from .bunch_pattern import (  # noqa: F401
    extractBunchPattern,
    get_sase_pId,
    is_ppl,
    is_pulse_at,
    is_sase_1,
    is_sase_3,
    npulses_has_changed,
    pulsePatternInfo,
    repRate,
)
from .digitizer_channels import digitizer_signal_description, get_dig_avg_trace  # noqa: F401
from .digitizers import (  # noqa: F401
    check_peak_params,
    get_digitizer_peaks,
    get_laser_peaks,
    get_peaks,
    get_tim_peaks,
)
from .xgm import calibrate_xgm, get_xgm  # noqa: F401
