"""Templates run headless: parameter validation, papermill runs, HTML reports,
batches over runs, SLURM job scripts and the named submit profiles
(``scs_nb.batch.profiles``). Dask clusters are made by ``scs_nb.parallel``
(re-exported here as ``make_cluster``).

    from scs_nb.batch import run_template
    result = run_template('xgm_overview', {'run': 12})
    result.ok, result.notebook, result.html

Command line: ``scs-nb templates``, ``scs-nb run``, ``scs-nb batch``, ``scs-nb submit``.
"""

from ..parallel.cluster import make_cluster  # noqa: F401
from .batch import parse_runs, plan_batch, run_batch, status_table  # noqa: F401
from .params import (  # noqa: F401
    Parameter,
    ParameterError,
    load_parameter_file,
    parse_parameters_source,
    validate_parameters,
)
from .runner import RunResult, prepare, run_template  # noqa: F401
from .templates import Template, find_template, list_templates, templates_dir  # noqa: F401
