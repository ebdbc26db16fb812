"""Parallel execution below the analysis: the dask cluster factory and the one
table of SLURM job options (used by ``scs-nb submit``, the submit profiles and
``make_cluster('slurm')``).

    from scs_nb.parallel import make_cluster
    cluster = make_cluster('slurm', partition='exfel', walltime='02:00:00', jobs=4)

This package sits at the bottom of the layers with ``errors``, ``atomic`` and
``facility``: detectors and routines import it; it imports none of them.
"""

from .cluster import default_workers, make_cluster, node_limits  # noqa: F401
from .slurm_options import SLURM_OPTIONS, SlurmOption  # noqa: F401
