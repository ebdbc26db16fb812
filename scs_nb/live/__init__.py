"""Live data during a run: the karabo bridge into the same analysis as a run.

* ``Stream``: the last trains of a bridge endpoint, ``dataset()`` as ``tb.load``
  gives it; the pulse functions (``get_xgm``, ``get_peaks``, ``get_bam``...)
  accept a Stream or its dataset in place of a run;
* ``Replay``: serve a stored or simulated run over the bridge (``scs-nb
  live-replay``), for practice and tests.

Needs the ``live`` extra (``karabo-bridge``: pyzmq, msgpack).
"""

from .replay import DEFAULT_ADDRESS, Replay
from .stream import DEFAULT_TIMEOUT, Stream

__all__ = ["Stream", "Replay", "DEFAULT_ADDRESS", "DEFAULT_TIMEOUT"]
