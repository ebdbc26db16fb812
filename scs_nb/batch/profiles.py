"""What the named-option submit profiles (``scs-nb submit dssc-binning``,
``scs-nb submit boz-correction``: the ToolBox's job scripts) share: the SLURM
options, the output folder, the scripts and their submission.

A profile module (see ``scs_nb.cli.SUBMIT_PROFILES``) adds its own options to
the parser, then ``add_job_options``; its command builds the template's
parameters and calls ``profile_scripts`` and ``print_or_submit``.
"""
from __future__ import annotations

import os


def add_job_options(parser, time, out_help):
    """The SLURM options of every profile: kernel, reservation, partition, time
    limit (default ``time``), mail types, output folder and dry run."""
    parser.add_argument("--kernel", "-k",
                        help="Jupyter kernel (default toolbox_p00NNNN if installed)")
    parser.add_argument("--reservation", metavar="upex_00NNNN", help="beamtime reservation")
    parser.add_argument("--partition", help="SLURM partition (default exfel)")
    parser.add_argument("--time", default=time, help=f"time limit per task (default {time})")
    parser.add_argument("--mail-type", default="END,FAIL",
                        help="SLURM mail types (NONE for none)")
    parser.add_argument("--out", metavar="DIR", help=out_help)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the script, submit nothing")
    return parser


def output_folder(out, proposal, run, default_of):
    """``out`` or ``default_of(proposal, run)`` (the run's processed_runs folder),
    absolute; ``processed_runs/r<run>`` here when the run is not visible from
    this machine (e.g. a dry run elsewhere)."""
    if not out:
        try:
            out = default_of(proposal, run)
        except Exception:  # noqa: BLE001 - run not visible here
            out = os.path.join("processed_runs", f"r{int(run):04d}")
    return os.path.abspath(out)


def profile_scripts(args, template, params, out, job, over=None):
    """The sbatch script(s) running ``template`` with ``params`` (over ``over``,
    a (parameter, values) pair, as a job array); job name ``r<run>-<job>``, logs
    in ``out/logs``, notebooks in ``out/notebooks``."""
    from .slurm import SlurmOptions, build_scripts
    opts = SlurmOptions(partition=args.partition, reservation=args.reservation,
                        time=args.time,
                        mail_type=None if args.mail_type == "NONE" else args.mail_type,
                        job_name=f"r{int(args.run):04d}-{job}",
                        logs=os.path.join(out, "logs"))
    return build_scripts(template, params, None, over, args.kernel,
                         os.path.join(out, "notebooks"), opts)


def print_or_submit(scripts, dry_run) -> int:
    """Print the scripts (dry run) or submit them with sbatch; exit code 0."""
    if dry_run:
        for s in scripts:
            print(s.text)
        return 0
    from .slurm import submit_scripts
    submit_scripts(scripts)
    return 0
