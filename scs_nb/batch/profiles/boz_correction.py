"""``scs-nb submit boz-correction``: the seed's ``boz_parameters_job.sh`` with named options.

    scs-nb submit boz-correction --proposal 2937 --dark 615 --run 614 --gain 3 \\
        [--rois-th 1] [--sat-level 500] [--module 15] [--kernel K] [--reservation R] [--dry-run]

is ``sbatch ./boz_parameters_job.sh -p 2937 -d 615 -r 614 -g 3 [-t 1] [-s 500] [-m 15] [-k K]``:
one SLURM job running the 'BOZ I.a' template (``boz_Ia``) headless. Its JSON file
``parameters_p<P>_d<D>_r<R>.json`` is written to ``<proposal>/usr/processed_runs/r<run>`` (or
--out) as soon as the flat field is done (the online preview can use it) and again with the
non-linearity. No GPU is needed: the fits run on histogram reductions on the CPU. Values are
validated and quoted by ``scs_nb.batch.slurm``; sbatch is called with an argument list. The
SLURM options are those of ``scs-nb submit`` (``--mem``, ``--constraint``, ...).
"""

from __future__ import annotations

import argparse

from ...errors import ToolBoxValueError
from ...facility import validate_proposal
from ...routines.boz.params import CORRECTION_CONSTRAINTS, check_correction_inputs
from ...routines.boz.pipeline import default_path
from .common import add_job_options, output_folder, print_or_submit, profile_scripts

TEMPLATE = "boz_Ia"


def build_parser(prog="scs-nb submit boz-correction"):
    """The parser of ``scs-nb submit boz-correction``.

    Parameters
    ----------
    prog : str
        The program name shown in the help.

    Returns
    -------
    argparse.ArgumentParser
        Its ``func`` default is :func:`cmd_submit_boz`.
    """
    p = argparse.ArgumentParser(
        prog=prog,
        allow_abbrev=False,
        description="Write (and submit, unless --dry-run) the sbatch job that runs the BOZ I.a "
        "correction determination (template boz_Ia) on a dark run and a membrane run.",
    )
    p.add_argument("--proposal", "-p", required=True, help="proposal number")
    p.add_argument("--dark", "-d", type=int, required=True, help="dark run number")
    p.add_argument(
        "--run", "-r", type=int, required=True, help="run on three broken or empty membranes"
    )
    p.add_argument("--gain", "-g", type=float, required=True, help="DSSC gain in photons per bin")
    p.add_argument(
        "--rois-th", "-t", type=float, default=1.0, help="threshold of the beam ROIs (default 1)"
    )
    p.add_argument(
        "--sat-level",
        "-s",
        type=int,
        default=500,
        help="raw value from which a pixel is saturated (default 500)",
    )
    p.add_argument("--module", "-m", type=int, default=15, help="DSSC module (default 15)")
    add_job_options(
        p,
        "2:00:00",
        "folder of the JSON file (default "
        "<proposal>/usr/processed_runs/r<run>); the notebook and log go below it",
    )
    p.set_defaults(func=cmd_submit_boz)
    return p


def boz_submit_parameters(
    proposal, dark, run, gain, rois_th=1.0, sat_level=500, module=15, path=""
) -> dict:
    """The template parameters of one submission (the seed script's papermill parameters).

    Parameters
    ----------
    proposal : int or str
        The proposal number.
    dark : int
        The dark run.
    run : int
        The run on three broken or empty membranes.
    gain : float
        DSSC gain in photons per bin.
    rois_th : float
        Threshold of the beam ROIs.
    sat_level : int
        Raw value (ADU) from which a pixel is saturated.
    module : int
        The DSSC module.

    The constraints are those of the ``boz_Ia`` template
    (``scs_nb.routines.boz.params.CORRECTION_CONSTRAINTS``).
    path : str
        Folder of the JSON file ('' : the template's default).

    Returns
    -------
    dict
        Validated parameters of the ``boz_Ia`` template.
    """
    # the constraints of the boz_Ia template's parameters, defined once in the library
    flags = {
        "module": "--module",
        "gain": "--gain",
        "rois_th": "--rois-th",
        "sat_level": "--sat-level",
    }
    values = {"module": module, "gain": gain, "rois_th": rois_th, "sat_level": sat_level}
    for name, value in values.items():
        try:
            check_correction_inputs(**{name: value})
        except ToolBoxValueError:
            raise ToolBoxValueError(
                f"{flags[name]} must be {CORRECTION_CONSTRAINTS[name]}, got {value}"
            ) from None
    params = {
        "proposal": validate_proposal(proposal),
        "darkrun": int(dark),
        "run": int(run),
        "module": int(module),
        "gain": float(gain),
        "rois_th": float(rois_th),
        "sat_level": int(sat_level),
    }
    if path:
        params["path"] = str(path)
    return params


def build_boz_scripts(args):
    """The sbatch script of a parsed ``scs-nb submit boz-correction``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by :func:`build_parser`.

    Returns
    -------
    list of scs_nb.batch.slurm.SbatchScript
        One single-task job.
    """
    out = output_folder(args.out, args.proposal, args.run, default_path)
    params = boz_submit_parameters(
        args.proposal,
        args.dark,
        args.run,
        args.gain,
        args.rois_th,
        args.sat_level,
        args.module,
        out,
    )
    return profile_scripts(args, TEMPLATE, params, out, "boz-correction")


def cmd_submit_boz(args) -> int:
    """Run ``scs-nb submit boz-correction``: print (``--dry-run``) or submit the job.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by :func:`build_parser`.

    Returns
    -------
    int
        The exit code.
    """
    return print_or_submit(build_boz_scripts(args), args.dry_run)
