"""The SCS facility simulator.

Writes realistic SCS runs in the EuXFEL HDF5 format (read by extra_data,
accepted by ``extra-data-validate``) and, beside each run, the ground truth
of every quantity a how-to measures::

    from scs_nb import sim
    res = sim.simulate('delay_scan', proposal=900001, run=3, trains=200, seed=1)
    truth = sim.ground_truth(900001, 3)

Device models live one per module (``timing``, ``xgm``, ``slow``, ``bam``, ...);
``beamline.add_beamline`` writes the devices every run records. A module
registers its scenarios with ``registry.scenario``; the registry finds them by
walking this package, so a new device simulator is one new module.
``ensure_run`` is what templates call so that they run anywhere.
"""

from .core import DEFAULT_PROPOSAL, SimResult, SimRun, ensure_run, simulate
from .folders import default_data_root, ground_truth, proposal_dir, truth_path
from .registry import get_scenario, list_scenarios, scenario

__all__ = [
    "DEFAULT_PROPOSAL",
    "SimResult",
    "SimRun",
    "default_data_root",
    "ensure_run",
    "ground_truth",
    "list_scenarios",
    "get_scenario",
    "proposal_dir",
    "scenario",
    "simulate",
    "truth_path",
]
