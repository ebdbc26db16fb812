"""Widgets for interactive exploration (ipywidgets 8 + ipympl).

Each widget is a small object with a ``value`` (the parameters it tunes) and a
``display()`` that shows live controls in JupyterLab/Notebook/Voila, or, when
no front end is present (papermill, nbconvert), a static figure and the value
printed — so the same notebook runs interactively and headless::

    from scs_nb import widgets as tw
    picker = tw.RunPicker()                     # proposal/run from the data root
    picker.display()
    tuner = tw.ThresholdTuner.from_run(picker.run, 'SCS_SA3')
    tuner.display()
    mask = tuner.mask                           # True where low <= XGM <= high

* ``RunPicker``: proposal and run, with trains, duration, sources, mnemonics
  and data rate per mnemonic.
* ``ParameterForm(template)``: a template's parameters as a form, validated as
  ``scs-nb run`` validates them; run inline, run headless, export YAML.
* ``PeakWindowTuner``: pulse/baseline windows on an average digitizer trace
  -> ``integParams``.
* ``ThresholdTuner``: low/high thresholds on a histogram -> pulse mask.
* ``ROISelector``: rectangles on a detector image -> ``load(rois=...)`` dict.
* ``ScanExplorer``: a signal binned against one or two scan variables.
* ``LiveView(endpoint)``: live panels of a karabo-bridge endpoint during a run
  (XGM, TIM vs XGM, DSSC binned against the scan, hRIXS spectrum).

``interactive_available()`` tells whether a front end renders widgets (set
``SCS_NB_INTERACTIVE=0/1`` to force it). matplotlib and ipympl are imported
only when a widget is created.
"""

from ._base import interactive_available
from .live import LiveView
from .parameter_form import ParameterForm
from .peaks import PeakWindowTuner
from .roi import ROISelector
from .run_picker import RunPicker
from .scan import ScanExplorer
from .threshold import ThresholdTuner

__all__ = [
    "interactive_available",
    "RunPicker",
    "ParameterForm",
    "PeakWindowTuner",
    "ThresholdTuner",
    "ROISelector",
    "ScanExplorer",
    "LiveView",
]
