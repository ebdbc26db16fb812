"""Proposal folders and the per-proposal environment paths.

``find_proposal`` is the ToolBox's ``findxfel``: the folder
``<data root>/<instrument>/<cycle>/p<proposal>`` under ``$EXTRA_DATA_DATA_ROOT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scs_nb.errors import ToolBoxPathError
from scs_nb.facility import find_proposal as _facility_find_proposal
from scs_nb.facility import validate_identifier, validate_proposal

__all__ = [
    "find_proposal",
    "validate_identifier",
    "default_identifier",
    "env_paths",
    "env_identifiers",
    "EnvPaths",
]


def find_proposal(proposal) -> Path:
    """The folder of ``proposal`` (number or 'p002780'), as ``findxfel`` prints it.

    Parameters
    ----------
    proposal : int or str
        Proposal number, e.g. 2780 or 'p002780'.

    Returns
    -------
    Path
        ``<data root>/<instrument>/<cycle>/p<proposal>``.
    """
    return Path(_facility_find_proposal(proposal))


def _number(proposal) -> int:
    return validate_proposal(proposal)


def default_identifier(proposal) -> str:
    """``p002780`` for proposal 2780: environments and kernels are named toolbox_p002780.

    Parameters
    ----------
    proposal : int or str
        Proposal number, e.g. 2780 or 'p002780'.

    Returns
    -------
    str
        ``p`` and the six-digit proposal number.
    """
    return f"p{_number(proposal):06d}"


@dataclass
class EnvPaths:
    """Where the checkout and the environment of a proposal live.

    Parameters
    ----------
    proposal : int
        Proposal number.
    identifier : str
        Environment identifier (``<ID>`` of ``toolbox_<ID>``).
    proposal_dir : Path
        The proposal folder.
    checkout : Path
        ``<proposal>/scratch/checkouts/toolbox_<ID>``: the scs_nb git checkout.
    env : Path
        ``<proposal>/scratch/envs/toolbox_<ID>``: the venv.
    """

    proposal: int
    identifier: str
    proposal_dir: Path
    checkout: Path  # <proposal>/scratch/checkouts/toolbox_<ID>
    env: Path  # <proposal>/scratch/envs/toolbox_<ID>

    @property
    def python(self) -> Path:
        """The environment's interpreter, ``<env>/bin/python``."""
        return self.env / "bin" / "python"

    @property
    def name(self) -> str:
        """``toolbox_<ID>``: the folder name of the checkout and of the environment."""
        return f"toolbox_{self.identifier}"


def env_identifiers(proposal) -> list:
    """The environment identifiers a proposal's default environment may have:
    the ToolBox's layout ``toolbox_<PROPOSAL>`` (e.g. ``toolbox_2780``, what
    ``scs-create-toolbox-env`` creates) and ``toolbox_p00NNNN``.

    Parameters
    ----------
    proposal : int or str
        Proposal number, e.g. 2780 or 'p002780'.

    Returns
    -------
    list of str
        ``['2780', 'p002780']`` for proposal 2780, in the order they are tried.
    """
    p = _number(proposal)
    return [str(p), default_identifier(p)]


def env_paths(proposal, identifier=None, proposal_dir=None, existing=False) -> EnvPaths:
    """Where the checkout and the environment of a proposal live.

    Without ``identifier``: the ToolBox's layout ``scratch/envs/toolbox_<PROPOSAL>``;
    with ``existing=True`` the first of ``env_identifiers`` whose environment exists
    (ToolBoxPathError naming the folders tried if none does). The proposal folder is
    found with ``find_proposal`` unless ``proposal_dir`` is given.

    Parameters
    ----------
    proposal : int or str
        Proposal number, e.g. 2780 or 'p002780'.
    identifier : str, optional
        Environment identifier (``toolbox_<identifier>``).
    proposal_dir : str or Path, optional
        The proposal folder (default: ``find_proposal``).
    existing : bool, optional
        Return the first candidate whose environment exists.

    Returns
    -------
    EnvPaths
        The paths; both stay inside ``<proposal>/scratch`` (else
        ToolBoxPathError).
    """
    p = _number(proposal)
    pdir = Path(proposal_dir) if proposal_dir else find_proposal(p)
    if not pdir.is_dir():
        raise ToolBoxPathError(f"proposal folder {pdir} does not exist")
    pdir = Path(pdir).absolute()
    if identifier is not None:  # '' is refused, not read as "the default"
        candidates = [validate_identifier(identifier)]
    else:
        candidates = env_identifiers(p)
    options = [_paths(p, ident, pdir) for ident in candidates]
    if not existing:
        return options[0]
    for paths in options:
        if paths.python.exists():
            return paths
    tried = ", ".join(str(o.env) for o in options)
    raise ToolBoxPathError(
        f"no environment of proposal {p}: looked for {tried}; create it with "
        f"`scs-create-toolbox-env --proposal {p}"
        + (f" --identifier {identifier}" if identifier else "")
        + "`"
    )


def _paths(p, ident, pdir) -> EnvPaths:
    scratch = pdir / "scratch"
    paths = EnvPaths(
        p,
        ident,
        pdir,
        scratch / "checkouts" / f"toolbox_{ident}",
        scratch / "envs" / f"toolbox_{ident}",
    )
    for path in (paths.checkout, paths.env):  # defence in depth: stay in the proposal
        if not path.resolve().is_relative_to(scratch.resolve()):
            raise ToolBoxPathError(f"{path} is outside {scratch}")
    return paths
