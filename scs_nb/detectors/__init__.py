"""Detectors: DSSC (dssc/), hRIXS, Viking, PES, FastCCD."""
from .pes import (get_pes_params, get_pes_tof, load_pes_avg_traces,  # noqa: F401,E402
                  save_pes_avg_traces)
from .fccd import FastCCD  # noqa: F401,E402
