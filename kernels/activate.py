"""``scs-activate-toolbox-kernel``: register the Jupyter kernel of a proposal environment.

    scs-activate-toolbox-kernel --proposal 2780            # kernel toolbox_p002780
    scs-activate-toolbox-kernel --proposal 2780 --identifier beamtime2
    scs-activate-toolbox-kernel --proposal 2780 --remove

The kernel runs ``<proposal>/scratch/envs/toolbox_<ID>/bin/python -m ipykernel_launcher``
(without ``--identifier``: ``toolbox_<PROPOSAL>`` as the ToolBox creates it, e.g.
``toolbox_2780``, or else ``toolbox_p00NNNN``)
with IPython's history database disabled (it locks on shared file systems). It is
installed through jupyter_client's KernelSpecManager: for this user by default,
``--system`` for every user of this Jupyter installation, or ``--prefix DIR`` (e.g. a
folder on the proposal's JUPYTER_PATH, so every proposal member sees it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from scs_nb.errors import ToolBoxError, ToolBoxPathError

from .proposal import _number, default_identifier, env_paths, validate_identifier

__all__ = ["kernel_name", "display_name", "kernel_spec", "install_kernel", "remove_kernel", "main"]


def kernel_name(proposal, identifier=None) -> str:
    """``toolbox_p002780`` (or ``toolbox_<identifier>``).

    Parameters
    ----------
    proposal : int or str
        Proposal number, e.g. 2780 or 'p002780'.
    identifier : str, optional
        Environment identifier; names the kernel instead of the proposal.

    Returns
    -------
    str
        The kernel name.
    """
    return "toolbox_" + (
        validate_identifier(identifier) if identifier is not None else default_identifier(proposal)
    )


def display_name(proposal, identifier=None) -> str:
    """``SCS Toolbox (p002780)`` (``SCS Toolbox (p002780, <identifier>)`` with an identifier).

    Parameters
    ----------
    proposal : int or str
        Proposal number, e.g. 2780 or 'p002780'.
    identifier : str, optional
        Environment identifier.

    Returns
    -------
    str
        The name Jupyter shows in its kernel list.
    """
    base = default_identifier(proposal)
    if identifier and identifier != base:
        return f"SCS Toolbox ({base}, {validate_identifier(identifier)})"
    return f"SCS Toolbox ({base})"


def kernel_spec(python, proposal, identifier=None) -> dict:
    """The kernel.json content for the environment whose interpreter is ``python``.

    Parameters
    ----------
    python : str or Path
        The environment's interpreter (made absolute, symlinks kept).
    proposal : int or str
        Proposal number, e.g. 2780 or 'p002780'.
    identifier : str, optional
        Environment identifier.

    Returns
    -------
    dict
        ``argv`` (ipykernel_launcher, IPython history disabled),
        ``display_name``, ``language``, ``interrupt_mode``, ``env`` and
        ``metadata`` (proposal, identifier, environment folder).
    """
    python = os.path.abspath(str(python))  # absolute, but keep the venv's symlink
    return {
        "argv": [
            python,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--HistoryManager.enabled=False",
        ],
        "display_name": display_name(proposal, identifier),
        "language": "python",
        "interrupt_mode": "signal",
        "env": {},
        "metadata": {
            "debugger": True,
            "scs_nb": {
                "proposal": _number(proposal),
                "identifier": identifier or default_identifier(proposal),
                "env": os.path.dirname(os.path.dirname(python)),
            },
        },
    }


def _manager():
    from jupyter_client.kernelspec import KernelSpecManager  # heavy (zmq, traitlets): CLI only

    return KernelSpecManager()


def install_kernel(
    proposal, identifier=None, python=None, user=True, prefix=None, proposal_dir=None
) -> Path:
    """Register the kernel of a proposal environment; returns the kernelspec folder.

    python: the environment's interpreter (default
        ``<proposal>/scratch/envs/toolbox_<ID>/bin/python``, which must exist).
    user: install for this user (default); False = system-wide.
    prefix: install under ``<prefix>/share/jupyter/kernels`` instead.

    Parameters
    ----------
    proposal : int or str
        Proposal number, e.g. 2780 or 'p002780'.
    identifier : str, optional
        Environment identifier.
    python : str or Path, optional
        The environment's interpreter (see above).
    user : bool, optional
        Install for this user (see above).
    prefix : str or Path, optional
        Install under this prefix (see above).
    proposal_dir : str or Path, optional
        The proposal folder (default: ``find_proposal``).

    Returns
    -------
    Path
        The installed kernelspec folder.
    """
    name = kernel_name(proposal, identifier)
    if python is None:
        # the ToolBox's toolbox_<PROPOSAL> or toolbox_p00NNNN, whichever exists
        python = env_paths(proposal, identifier, proposal_dir, existing=True).python
    spec = kernel_spec(python, proposal, identifier)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / name
        src.mkdir()
        (src / "kernel.json").write_text(json.dumps(spec, indent=1))
        try:  # the usual Python logos, if ipykernel ships them
            from ipykernel.kernelspec import RESOURCES  # optional: only for the logos

            for logo in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
                if os.path.exists(os.path.join(RESOURCES, logo)):
                    shutil.copy(os.path.join(RESOURCES, logo), src / logo)
        except ImportError:
            pass
        try:
            dest = _manager().install_kernel_spec(
                str(src),
                name,
                user=bool(user and not prefix),
                prefix=str(prefix) if prefix else None,
            )
        except PermissionError as exc:
            raise ToolBoxPathError(
                f"cannot write the kernel spec ({exc}); install it for yourself (default) "
                "or choose a writable --prefix"
            ) from None
    return Path(dest)


def remove_kernel(proposal, identifier=None) -> Path:
    """Remove the kernel ``toolbox_<ID>``; returns the removed folder.

    Parameters
    ----------
    proposal : int or str
        Proposal number, e.g. 2780 or 'p002780'.
    identifier : str, optional
        Environment identifier.

    Returns
    -------
    Path
        The removed kernelspec folder (ToolBoxPathError if none is installed).
    """
    name = kernel_name(proposal, identifier)
    try:
        return Path(_manager().remove_kernel_spec(name))
    except KeyError:  # jupyter_client's NoSuchKernel is a KeyError, and so is its own
        raise ToolBoxPathError(f"no kernel named {name} is installed") from None


def build_parser():
    """The command line of ``scs-activate-toolbox-kernel``.

    Returns
    -------
    argparse.ArgumentParser
        Options --proposal, --identifier, --user/--system/--prefix, --remove.
    """
    p = argparse.ArgumentParser(
        prog="scs-activate-toolbox-kernel",
        description="Register (or remove) the Jupyter kernel 'SCS Toolbox (p00NNNN)' that runs "
        "the proposal's toolbox environment <proposal>/scratch/envs/toolbox_<ID>.",
    )
    p.add_argument("--proposal", required=True, help="proposal number, e.g. 2780")
    p.add_argument(
        "--identifier",
        help="environment identifier (default: toolbox_<PROPOSAL> "
        "or toolbox_p00NNNN, whichever exists)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--user", action="store_true", default=True, help="install for this user (default)"
    )
    where.add_argument(
        "--system", action="store_true", help="install for every user of this Jupyter installation"
    )
    where.add_argument(
        "--prefix",
        metavar="DIR",
        help="install under DIR/share/jupyter/kernels (a shared location on "
        "the proposal members' JUPYTER_PATH)",
    )
    p.add_argument("--remove", action="store_true", help="remove the kernel instead")
    return p


def main(argv=None) -> int:
    """Run ``scs-activate-toolbox-kernel``: install (or remove) a proposal's kernel.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a ToolBoxError (printed to stderr).
    """
    args = build_parser().parse_args(argv)
    try:
        if args.remove:
            path = remove_kernel(args.proposal, args.identifier)
            print(f"removed kernel {kernel_name(args.proposal, args.identifier)} ({path})")
            return 0
        path = install_kernel(
            args.proposal, args.identifier, user=not args.system, prefix=args.prefix
        )
        print(
            f"installed kernel {kernel_name(args.proposal, args.identifier)} "
            f"'{display_name(args.proposal, args.identifier)}' in {path}\n"
            "refresh the Jupyter page to see it"
        )
        return 0
    except ToolBoxError as exc:
        print(f"scs-activate-toolbox-kernel: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
