"""What the named submit profiles (``scs-nb submit dssc-binning``,
``scs-nb submit boz-correction``) share: the SLURM options, the output folder,
the scripts and their submission.

A profile module adds its own options to the parser, then ``add_job_options``;
its command builds the template's parameters and calls ``profile_scripts`` and
``print_or_submit``.
"""

from __future__ import annotations

import os

from ...parallel.slurm_options import add_slurm_arguments, slurm_values
from ..slurm import SlurmOptions, build_scripts, submit_scripts

__all__ = ["add_job_options", "output_folder", "profile_scripts", "print_or_submit"]


def add_job_options(parser, time, out_help):
    """Add the options every profile has to its parser.

    The kernel, every SLURM job option of the shared table
    (``scs_nb.parallel.slurm_options.SLURM_OPTIONS``: the same as ``scs-nb submit``),
    the output folder and the dry run.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The profile's parser.
    time : str
        The profile's default time limit per task, e.g. ``'12:00:00'``.
    out_help : str
        Help text of ``--out`` (the profile's default output folder).

    Returns
    -------
    argparse.ArgumentParser
        ``parser``.
    """
    parser.add_argument(
        "--kernel", "-k", help="Jupyter kernel (default toolbox_p00NNNN if installed)"
    )
    add_slurm_arguments(parser, defaults={"time": time})
    parser.add_argument("--out", metavar="DIR", help=out_help)
    parser.add_argument("--dry-run", action="store_true", help="print the script, submit nothing")
    return parser


def output_folder(out, proposal, run, default_of):
    """The absolute output folder of a profile's submission.

    Parameters
    ----------
    out : str or None
        The ``--out`` folder, if given.
    proposal : int or str
        The proposal.
    run : int
        The run number.
    default_of : callable
        ``default_of(proposal, run)``: the run's processed folder (see
        ``scs_nb.facility.paths.processed_dir``).

    Returns
    -------
    str
        ``out``, else ``default_of(proposal, run)``; ``processed_runs/r<run>`` here
        when the run is not visible from this machine (e.g. a dry run elsewhere).
    """
    if not out:
        try:
            out = default_of(proposal, run)
        except Exception:
            out = os.path.join("processed_runs", f"r{int(run):04d}")
    return os.path.abspath(out)


def profile_scripts(args, template, params, out, job, over=None):
    """The sbatch script(s) of a profile's submission.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed profile options (``run``, ``kernel`` and the SLURM options).
    template : str
        The template to run.
    params : dict
        Its parameters.
    out : str
        The output folder: logs go to ``out/logs``, notebooks to ``out/notebooks``.
    job : str
        The profile's name in the job name ``r<run>-<job>`` (unless ``--job-name``).
    over : tuple, optional
        ``(parameter, values)`` varied over a job array.

    Returns
    -------
    list of scs_nb.batch.slurm.SbatchScript
    """
    job_opts = slurm_values(args)
    job_opts["job_name"] = job_opts["job_name"] or f"r{int(args.run):04d}-{job}"
    opts = SlurmOptions(logs=os.path.join(out, "logs"), **job_opts)
    return build_scripts(
        template, params, None, over, args.kernel, os.path.join(out, "notebooks"), opts
    )


def print_or_submit(scripts, dry_run) -> int:
    """Print the scripts (dry run) or submit them with sbatch.

    Parameters
    ----------
    scripts : list of scs_nb.batch.slurm.SbatchScript
    dry_run : bool

    Returns
    -------
    int
        The exit code, 0.
    """
    if dry_run:
        for s in scripts:
            print(s.text)
        return 0
    submit_scripts(scripts)
    return 0
