"""Per-proposal Jupyter kernels and environments (``scs_nb.kernels``).

* ``scs-activate-toolbox-kernel --proposal N`` registers the kernel
  ``toolbox_p00NNNN`` ("SCS Toolbox (p00NNNN)") that runs the proposal's environment;
* ``scs-create-toolbox-env --proposal N`` creates that environment:
  ``<proposal>/scratch/checkouts/toolbox_<ID>`` (a git checkout of scs_nb) and
  ``<proposal>/scratch/envs/toolbox_<ID>`` (a venv with the checkout installed in
  development mode, ipykernel and ipympl), then registers the kernel.
"""

from .activate import install_kernel, kernel_name, kernel_spec, remove_kernel
from .create_env import create_env as create_toolbox_env
from .create_env import validate_version
from .proposal import EnvPaths, default_identifier, env_paths, find_proposal, validate_identifier

__all__ = [
    "EnvPaths",
    "default_identifier",
    "env_paths",
    "find_proposal",
    "validate_identifier",
    "install_kernel",
    "kernel_name",
    "kernel_spec",
    "remove_kernel",
    "create_toolbox_env",
    "validate_version",
]
