"""``scs-nb submit dssc-binning``: DSSC binning on SLURM with the seed script's named options.

    scs-nb submit dssc-binning --proposal 2719 --dark 180 --run 179 --module-group 0-3 \\
        --xaxis delay --bin-width 0.1 [--reservation upex_002719] [--kernel K] [--dry-run]

is the ToolBox's ``sbatch bin_dssc_module_job.sh -p 2719 -d 180 -r 179 -m 0 -x delay -b 0.1``
(once per module group) as one job array: a thin layer over the generic
``scs-nb submit dssc_binning -p ... --over module_group=...``. Every value is
validated (numbers, template parameter types, SLURM option patterns) and
quoted by ``scs_nb.batch.slurm``; sbatch is called with an argument list.
The SLURM options are those of ``scs-nb submit`` (``--mem``, ``--constraint``, ...).
The job name starts with the run (``r0179-dssc-binning``); logs go to
``<out>/logs``, one per array task; the module files of all groups go to one
folder (``<proposal>/usr/processed_runs/r<run>`` by default) that
``xr.open_mfdataset(path + '/*.h5', parallel=True, join='inner')`` combines.
"""

from __future__ import annotations

import argparse

from ...detectors.dssc import default_output_path
from ...errors import ToolBoxValueError
from ...facility import validate_proposal
from ..batch import parse_runs
from .common import add_job_options, output_folder, print_or_submit, profile_scripts

TEMPLATE = "dssc_binning"


def build_parser(prog="scs-nb submit dssc-binning"):
    """The parser of ``scs-nb submit dssc-binning``.

    Parameters
    ----------
    prog : str
        The program name shown in the help.

    Returns
    -------
    argparse.ArgumentParser
        Its ``func`` default is :func:`cmd_submit_dssc`.
    """
    p = argparse.ArgumentParser(
        prog=prog,
        allow_abbrev=False,
        description="Write (and submit, unless --dry-run) the sbatch job array that runs the "
        "'DSSC binning' template for each module group of a run.",
    )
    p.add_argument("--proposal", "-p", required=True, help="proposal number")
    p.add_argument("--run", "-r", type=int, required=True, help="run number")
    p.add_argument("--dark", "-d", type=int, help="dark run (default: no dark subtraction)")
    p.add_argument(
        "--module-group",
        "-m",
        default="0-3",
        help="module group(s) 0..3, e.g. 2 or 0-3 (default 0-3: all 16 modules)",
    )
    p.add_argument(
        "--xaxis",
        "-x",
        default="delay",
        help="delay (ps, BAM corrected), nrj (eV) or a slow mnemonic",
    )
    p.add_argument("--bin-width", "-b", type=float, default=0.1, help="bin width (xaxis units)")
    p.add_argument("--pattern", help="comma list of frame labels (default pumped,unpumped)")
    p.add_argument(
        "--no-xgm-normalization", action="store_true", help="do not divide by the XGM pulse energy"
    )
    p.add_argument(
        "--n-workers",
        type=int,
        default=4,
        metavar="N",
        help="dask workers per task, one module each (default 4; 0 = the "
        "group's modules one after the other, no dask)",
    )
    add_job_options(
        p,
        "12:00:00",
        "folder of the module files (default "
        "<proposal>/usr/processed_runs/r<run>); notebooks and logs go below it",
    )
    p.set_defaults(func=cmd_submit_dssc)
    return p


def dssc_submit_parameters(
    proposal,
    run,
    dark=None,
    xaxis="delay",
    bin_width=0.1,
    path="",
    pattern=None,
    xgm_normalization=True,
    n_workers=4,
) -> dict:
    """The template parameters of one submission (the module group varies per task).

    Parameters
    ----------
    proposal : int or str
        The proposal number.
    run : int
        The run number.
    dark : int, optional
        The dark run (None: no dark subtraction).
    xaxis : str
        ``'delay'`` (ps, BAM corrected), ``'nrj'`` (eV) or a slow mnemonic.
    bin_width : float
        Bin width in units of ``xaxis`` (> 0).
    path : str
        Output folder of the module files ('' : the template's default).
    pattern : str, optional
        Comma list of frame labels.
    xgm_normalization : bool
        Divide by the XGM pulse energy.
    n_workers : int
        dask workers per task, 0..64 (0: no dask).

    Returns
    -------
    dict
        Validated parameters of the ``dssc_binning`` template.
    """
    try:
        bw = float(bin_width)
    except (TypeError, ValueError):
        raise ToolBoxValueError(f"--bin-width must be a number, got {bin_width!r}") from None
    if not bw > 0:
        raise ToolBoxValueError(f"--bin-width must be > 0, got {bin_width}")
    params = {
        "proposal": validate_proposal(proposal),
        "run": int(run),
        "xaxis": str(xaxis),
        "bin_width": bw,
        "dark_run": None if dark is None else int(dark),
        "n_workers": _workers(n_workers),
        "xgm_normalization": bool(xgm_normalization),
    }
    if path:
        params["path"] = str(path)
    if pattern:
        params["pattern"] = [p for p in str(pattern).split(",") if p]
    return params


def _workers(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 64:
        raise ToolBoxValueError(f"--n-workers must be an integer 0..64, got {n!r}")
    return n


def module_groups(text) -> list:
    """The module groups of a ``--module-group`` text.

    Parameters
    ----------
    text : str
        ``'0-3'``, ``'2'``, ``'0,2'``, ...

    Returns
    -------
    list of int
        Module groups, each 0..3 (four modules each).
    """
    try:
        groups = parse_runs(str(text))
    except Exception:
        groups = None
    if not groups or any(not 0 <= g <= 3 for g in groups):
        raise ToolBoxValueError(
            f"--module-group takes groups 0..3 (4 modules each) such as 2, "
            f"0-3 or 0,2; got {text!r}"
        )
    return groups


def build_dssc_scripts(args):
    """The sbatch script of a parsed ``scs-nb submit dssc-binning``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by :func:`build_parser`.

    Returns
    -------
    list of scs_nb.batch.slurm.SbatchScript
        One job array, a task per module group.
    """
    groups = module_groups(args.module_group)
    out = output_folder(args.out, args.proposal, args.run, default_output_path)
    params = dssc_submit_parameters(
        args.proposal,
        args.run,
        args.dark,
        args.xaxis,
        args.bin_width,
        out,
        args.pattern,
        not args.no_xgm_normalization,
        getattr(args, "n_workers", 4),
    )
    return profile_scripts(
        args,
        TEMPLATE,
        params,
        out,
        "dssc-binning",
        ("module_group", ",".join(str(g) for g in groups)),
    )


def cmd_submit_dssc(args) -> int:
    """Run ``scs-nb submit dssc-binning``: print (``--dry-run``) or submit the job.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by :func:`build_parser`.

    Returns
    -------
    int
        The exit code.
    """
    return print_or_submit(build_dssc_scripts(args), args.dry_run)
