"""The SLURM job options: one table, read by every place that asks SLURM for a job.

``scs-nb submit``, the named submit profiles (``scs-nb submit dssc-binning``, ...) and
``make_cluster('slurm')`` (dask-jobqueue) all take their SLURM options from
:data:`SLURM_OPTIONS`. Adding a row there adds the command-line option to every
submit command, the ``#SBATCH`` line to every job script and the keyword to the
dask cluster, validated the same way everywhere.

    parser = argparse.ArgumentParser()
    add_slurm_arguments(parser, defaults={"time": "12:00:00"})
    values = slurm_values(parser.parse_args([...]))
    sbatch_directives(values)     # ['#SBATCH --job-name=...', '#SBATCH --nodes=1', ...]
    cluster_kwargs(values)        # {'queue': ..., 'walltime': ..., 'job_extra_directives': [...]}

Values reach job scripts, so each is checked against a strict pattern before use
(a newline in a value would otherwise start a directive or a command of its own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ToolBoxValueError

__all__ = [
    "SlurmOption",
    "SLURM_OPTIONS",
    "option_names",
    "option_defaults",
    "check_option",
    "validate_reservation",
    "add_slurm_arguments",
    "slurm_values",
    "sbatch_directives",
    "sbatch_args",
    "cluster_kwargs",
]


@dataclass(frozen=True)
class SlurmOption:
    """One SLURM job option: its names for sbatch, dask-jobqueue and the command line.

    Parameters
    ----------
    name : str
        Python name; the command-line option is ``--`` + name with '-' for '_'.
    flag : str
        The sbatch long option, e.g. ``'--partition'``.
    dask : str or None
        The ``dask_jobqueue.SLURMCluster`` keyword taking the value; None: the value
        goes to the cluster as a job directive (``job_extra_directives``).
    pattern : str or None
        Regular expression a text value must match in full; None for integers.
    expects : str
        What a valid value looks like, for error messages.
    help : str
        Help text of the command-line option.
    default : object
        Default of the command-line option (None: no directive unless given).
    metavar : str or None
        Placeholder of the value in the help.
    type : type
        ``str`` or ``int`` (integers must be positive).
    dask_pattern : str or None
        The pattern for the dask keyword when dask takes another format (memory
        sizes such as ``'64GB'``); None: ``pattern``.
    none_word : str or None
        A value meaning "no directive" (``--mail-type NONE``).
    """

    name: str
    flag: str
    dask: str | None
    pattern: str | None
    expects: str
    help: str
    default: object = None
    metavar: str | None = None
    type: type = str
    dask_pattern: str | None = None
    none_word: str | None = None

    @property
    def cli(self) -> str:
        """The command-line option, e.g. ``'--mail-user'``."""
        return "--" + self.name.replace("_", "-")


_MAIL = (
    r"NONE|BEGIN|END|FAIL|REQUEUE|ALL|INVALID_DEPEND|STAGE_OUT|TIME_LIMIT"
    r"|TIME_LIMIT_90|TIME_LIMIT_80|TIME_LIMIT_50|ARRAY_TASKS"
)

#: The SLURM job options, in the order of the ``#SBATCH`` lines of a job script.
SLURM_OPTIONS = (
    SlurmOption(
        "job_name",
        "--job-name",
        "job_name",
        r"[A-Za-z0-9_.-]{1,64}",
        "letters, digits, '_', '.', '-'",
        "SLURM job name (default: r<run>- and the template or profile name)",
    ),
    SlurmOption(
        "nodes",
        "--nodes",
        None,
        None,
        "a positive integer",
        "nodes per task (default 1)",
        default=1,
        type=int,
    ),
    SlurmOption(
        "partition",
        "--partition",
        "queue",
        r"[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*",
        "a partition name such as exfel or upex",
        "SLURM partition (default exfel unless --reservation is given)",
        metavar="P",
    ),
    SlurmOption(
        "reservation",
        "--reservation",
        None,
        r"upex_\d{6}",
        "upex_00NNNN, e.g. upex_003333 for proposal 3333",
        "beamtime reservation, upex_00NNNN; 'auto' = from the proposal parameter",
        metavar="upex_00NNNN",
    ),
    SlurmOption(
        "constraint",
        "--constraint",
        None,
        r"[A-Za-z0-9_]+([&|,][A-Za-z0-9_]+)*",
        "a node feature such as V100",
        "node feature, e.g. V100",
    ),
    SlurmOption(
        "mem",
        "--mem",
        "memory",
        r"\d+[KMGT]?",
        "a memory size such as 64G",
        "memory per node, e.g. 64G",
        dask_pattern=r"\d+(\.\d+)?\s*([KMGTP]i?B?|[kmgtp]i?B|B)?",
    ),
    SlurmOption(
        "time",
        "--time",
        "walltime",
        r"(\d+-)?\d{1,3}(:\d{2}){0,2}|\d+-\d{1,2}",
        "a SLURM time such as 02:00:00, 90 (minutes) or 1-12:00:00",
        "time limit per task",
        default="02:00:00",
    ),
    SlurmOption(
        "mail_type",
        "--mail-type",
        None,
        rf"({_MAIL})(,({_MAIL}))*",
        "a comma list of NONE, BEGIN, END, FAIL, ALL, ...",
        "SLURM mail types (NONE for no mail)",
        default="END,FAIL",
        none_word="NONE",
    ),
    SlurmOption(
        "mail_user",
        "--mail-user",
        None,
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
        "an e-mail address",
        "where SLURM sends mail",
        metavar="ADDRESS",
    ),
)


def option_names() -> list:
    """The names of the options of :data:`SLURM_OPTIONS`, in table order.

    Returns
    -------
    list of str
    """
    return [o.name for o in SLURM_OPTIONS]


def option_defaults() -> dict:
    """The table's default of every option.

    Returns
    -------
    dict
        ``{name: default}`` in table order (None: no directive unless given).
    """
    return {o.name: o.default for o in SLURM_OPTIONS}


def _option(name) -> SlurmOption:
    for o in SLURM_OPTIONS:
        if o.name == name:
            return o
    raise ToolBoxValueError(f"no SLURM option {name!r}; known: {', '.join(option_names())}")


def check_option(name, value, for_dask=False):
    """Validate one option value against its row of the table.

    Parameters
    ----------
    name : str
        The option's name (``'partition'``, ``'time'``, ...).
    value : str or int
        The value.
    for_dask : bool
        Check the format dask-jobqueue takes (memory as ``'64GB'``) where it differs.

    Returns
    -------
    str or int
        ``value``, unchanged.

    Raises
    ------
    ToolBoxValueError
        The value does not match (message names the option and what it expects).
    """
    o = _option(name)
    if o.type is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ToolBoxValueError(f"{o.cli} must be {o.expects}, got {value!r}")
        return value
    pattern = (o.dask_pattern or o.pattern) if for_dask else o.pattern
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise ToolBoxValueError(f"{o.cli} must be {o.expects}, got {value!r}")
    return value


def validate_reservation(value, proposal=None) -> str:
    """A beamtime reservation ``upex_00NNNN``.

    Parameters
    ----------
    value : str
        ``'upex_00NNNN'``, or ``'auto'`` to derive it from ``proposal``.
    proposal : int, optional
        The proposal number (needed for ``'auto'``).

    Returns
    -------
    str
        The reservation name.
    """
    if value == "auto":
        if not isinstance(proposal, int) or isinstance(proposal, bool):
            raise ToolBoxValueError(
                "--reservation auto needs the template's `proposal` "
                "parameter; pass --reservation upex_00NNNN"
            )
        value = f"upex_{proposal:06d}"
    return check_option("reservation", value)


def add_slurm_arguments(parser, defaults=None):
    """Add one command-line option per row of :data:`SLURM_OPTIONS` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser or argument group
        Where to add them.
    defaults : dict, optional
        ``{name: default}`` replacing the table's defaults (e.g. a longer time limit).

    Returns
    -------
    parser
    """
    defaults = defaults or {}
    for o in SLURM_OPTIONS:
        default = defaults.get(o.name, o.default)
        text = (
            o.help if default is None or "(default" in o.help else f"{o.help} (default {default})"
        )
        kw = {"metavar": o.metavar} if o.metavar else {}
        parser.add_argument(
            o.cli, dest=o.name, type=o.type, default=default, help=text.replace("%", "%%"), **kw
        )
    return parser


def slurm_values(args) -> dict:
    """The SLURM option values of parsed command-line arguments.

    Parameters
    ----------
    args : argparse.Namespace or dict
        Parsed arguments holding one attribute per row of the table.

    Returns
    -------
    dict
        ``{name: value}`` for every option; a ``none_word`` value (``--mail-type
        NONE``) becomes None.
    """
    get = args.get if isinstance(args, dict) else (lambda k, d=None: getattr(args, k, d))
    out = {}
    for o in SLURM_OPTIONS:
        value = get(o.name, o.default)
        out[o.name] = None if (o.none_word and value == o.none_word) else value
    return out


def _given(values):
    names = option_names()
    unknown = [k for k in values if k not in names]
    if unknown:
        raise ToolBoxValueError(
            f"unknown SLURM option(s) {', '.join(unknown)}; known: {', '.join(names)}"
        )
    return [(o, values[o.name]) for o in SLURM_OPTIONS if values.get(o.name) is not None]


def sbatch_args(values) -> list:
    """sbatch arguments ``--flag=value`` of the given (not None) options, validated.

    Parameters
    ----------
    values : dict
        ``{name: value}`` (see :func:`slurm_values`).

    Returns
    -------
    list of str
        In table order.
    """
    return [f"{o.flag}={check_option(o.name, v)}" for o, v in _given(values)]


def sbatch_directives(values) -> list:
    """``#SBATCH`` lines of the given (not None) options, validated, in table order.

    Parameters
    ----------
    values : dict
        ``{name: value}`` (see :func:`slurm_values`).

    Returns
    -------
    list of str
    """
    return [f"#SBATCH {a}" for a in sbatch_args(values)]


def cluster_kwargs(values) -> dict:
    """``dask_jobqueue.SLURMCluster`` keywords of the given (not None) options.

    Options with a SLURMCluster keyword (partition -> ``queue``, time ->
    ``walltime``, mem -> ``memory``, job_name) are passed as that keyword; the
    others as ``job_extra_directives`` entries ``--flag=value``.

    Parameters
    ----------
    values : dict
        ``{name: value}``, validated (memory in dask's format, e.g. ``'64GB'``).

    Returns
    -------
    dict
        Keywords for ``SLURMCluster``; ``job_extra_directives`` always present.
    """
    out = {"job_extra_directives": []}
    for o, v in _given(values):
        check_option(o.name, v, for_dask=True)
        if o.dask:
            out[o.dask] = v
        else:
            out["job_extra_directives"].append(f"{o.flag}={v}")
    return out
