"""Detectors: DSSC (dssc/), azimuthal integration, hRIXS, Viking, PES, FastCCD.

As in the ToolBox, ``scs_nb.detectors`` also offers the detector functions
directly (``tbdet.get_xgm``, ``tbdet.DSSCBinner``, ...) and the ToolBox module
paths (``detectors.xgm``, ``detectors.dssc_misc``, ...): see ``scs_nb.compat``.
"""
