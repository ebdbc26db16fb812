"""Detectors: DSSC (dssc/), hRIXS, Viking, PES, FastCCD."""
