"""``scs-create-toolbox-env``: a per-proposal environment with its own scs_nb checkout.

    scs-create-toolbox-env --proposal 2780 [--version v0.1.0] [--identifier beamtime2]

creates, in the proposal folder (``findxfel``)::

    scratch/checkouts/toolbox_<ID>/   git checkout of scs_nb at --version (default: the
                                      version this command runs from)
    scratch/envs/toolbox_<ID>/        venv: the checkout installed in development mode,
                                      ipykernel and ipympl

and registers the kernel ``toolbox_<ID>`` (see ``scs-activate-toolbox-kernel``); edits
in the checkout take effect in the environment at once. ``<ID>`` is the proposal
number (the ToolBox's layout, e.g. ``toolbox_2780``) unless ``--identifier`` is given;
the kernel is still named ``toolbox_p00NNNN``.

``--offline`` builds the environment without a network: the venv sees the packages of
the environment running this command, and the checkout is linked in development mode
by a path finder (what ``pip install -e`` installs), with the console scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import scs_nb
from scs_nb.atomic import locked
from scs_nb.errors import ToolBoxError, ToolBoxPathError, ToolBoxValueError

from .activate import install_kernel, kernel_name
from .proposal import EnvPaths, env_paths, validate_identifier

__all__ = [
    "create_env",
    "validate_version",
    "validate_source",
    "project_source",
    "local_changes",
    "main",
]

_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,99}")
_COMMIT = re.compile(r"[0-9a-fA-F]{7,40}")
_SOURCE = re.compile(r"[A-Za-z0-9_./:@~+=-]+")
# packages of this project and their folders in a checkout (setup.py's layout)
PACKAGE_FOLDERS = {
    "scs_nb": "scs_nb",
    "scs_nb.widgets": "widgets",
    "scs_nb.kernels": "kernels",
    "scs_nb.templates": "templates",
}
CONSOLE_SCRIPTS = {
    "scs-nb": "scs_nb.cli",
    "scs-activate-toolbox-kernel": "scs_nb.kernels.activate",
    "scs-create-toolbox-env": "scs_nb.kernels.create_env",
}


def validate_version(version) -> str:
    """A git tag, branch or commit: letters, digits, '.', '_', '/', '+', '-'; no '..',
    not starting with '-' (so it is never read as an option).

    Parameters
    ----------
    version : str
        The version asked for.

    Returns
    -------
    str
        ``version`` itself (ToolBoxValueError if it is not a safe git name).
    """
    if (
        not isinstance(version, str)
        or not _VERSION.fullmatch(version)
        or ".." in version
        or version.endswith((".lock", "/", "."))
        or "//" in version
    ):
        raise ToolBoxValueError(
            f"version must be a git tag, branch or commit such as v0.1.0, main or 3f2a9c1; "
            f"got {version!r}"
        )
    return version


def validate_source(source) -> str:
    """A git URL or a local repository path, never starting with '-'.

    Parameters
    ----------
    source : str
        The repository to clone.

    Returns
    -------
    str
        ``source`` itself (ToolBoxValueError for unsafe characters,
        ToolBoxPathError for a path that is not an existing folder).
    """
    if not isinstance(source, str) or source.startswith("-") or not _SOURCE.fullmatch(source):
        raise ToolBoxValueError(f"source must be a git URL or a repository folder, got {source!r}")
    if not re.match(r"(https?|ssh|git)://|[A-Za-z0-9_.-]+@", source) and not Path(source).is_dir():
        raise ToolBoxPathError(f"source {source!r} is neither a URL nor an existing folder")
    return source


def project_source():
    """The git repository this scs_nb runs from, or None (installed from a wheel).

    Returns
    -------
    str or None
        The repository folder, or None when it is not a git checkout with a
        commit (or git cannot read it).
    """
    root = Path(scs_nb.__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        _git(["-C", str(root), "rev-parse", "--verify", "HEAD"])
    except (ToolBoxError, OSError):  # no commit yet, no git, or not a trusted owner
        return None
    return str(root)


def _git(args, cwd=None, echo=None) -> str:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    if echo:
        echo("$ git " + " ".join(args))
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise ToolBoxError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _run(cmd, echo=None):
    if echo:
        echo("$ " + " ".join(str(c) for c in cmd))
    proc = subprocess.run(
        [str(c) for c in cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ToolBoxError(
            f"{cmd[0]} {' '.join(map(str, cmd[1:3]))} ... failed "
            f"({proc.returncode}):\n{proc.stdout[-2000:]}"
        )
    return proc.stdout


def _clone(source, version, dest: Path, echo):
    dest.parent.mkdir(parents=True, exist_ok=True)
    if version is None:
        _git(["clone", "--quiet", "--", source, str(dest)], echo=echo)
    elif _COMMIT.fullmatch(version):
        _git(["clone", "--quiet", "--no-checkout", "--", source, str(dest)], echo=echo)
        _git(["-C", str(dest), "checkout", "--quiet", "--detach", version, "--"], echo=echo)
    else:
        _git(["clone", "--quiet", "--branch", version, "--", source, str(dest)], echo=echo)
    return _git(["-C", str(dest), "rev-parse", "HEAD"])


def _site_packages(python) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


_FINDER = '''"""Development-mode link of an scs_nb checkout (written by scs-create-toolbox-env)."""
import importlib.util
import sys
from importlib.machinery import PathFinder

MAPPING = {mapping!r}


class _CheckoutFinder:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname in MAPPING:
            folder = MAPPING[fullname]
            return importlib.util.spec_from_file_location(
                fullname, folder + "/__init__.py", submodule_search_locations=[folder])
        parent, _, child = fullname.rpartition(".")
        if parent in MAPPING and fullname not in MAPPING:
            return PathFinder.find_spec(fullname, [MAPPING[parent]])
        return None


def install():
    if not any(getattr(f, "__name__", "") == "_CheckoutFinder" for f in sys.meta_path):
        sys.meta_path.insert(0, _CheckoutFinder)
'''


def _link_checkout(env_python: Path, env: Path, checkout: Path, echo):
    """Offline development install: a finder mapping the packages to the checkout,
    the current environment's packages on the path, and the console scripts."""
    site = _site_packages(env_python)
    mapping = {}
    for package, folder in PACKAGE_FOLDERS.items():
        if (checkout / folder / "__init__.py").is_file():
            mapping[package] = str((checkout / folder).absolute())
    if "scs_nb" not in mapping:
        raise ToolBoxPathError(
            f"{checkout} has no scs_nb package; is --source an scs_nb repository?"
        )
    (site / "_scs_nb_checkout_finder.py").write_text(_FINDER.format(mapping=mapping))
    parent_paths = []
    for p in [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]:
        if p not in parent_paths and os.path.isdir(p):
            parent_paths.append(p)
    # the finder first (an import line), then the parent environment's packages
    (site / "00_scs_nb_checkout.pth").write_text(
        "import _scs_nb_checkout_finder; _scs_nb_checkout_finder.install()\n"
    )
    (site / "zz_parent_environment.pth").write_text("\n".join(parent_paths) + "\n")
    for script, module in CONSOLE_SCRIPTS.items():
        path = env / "bin" / script
        path.write_text(
            f"#!{env_python}\nimport sys\nfrom {module} import main\nsys.exit(main())\n"
        )
        path.chmod(0o755)
    if echo:
        echo(f"linked {checkout} into {env} (offline development install)")


def local_changes(checkout: Path) -> str:
    """``git status --short`` of a checkout (uncommitted edits and untracked files); a
    folder git cannot read counts as changed.

    Parameters
    ----------
    checkout : str or Path
        The checkout folder.

    Returns
    -------
    str
        The changes, one per line; empty when there are none.
    """
    if not (Path(checkout) / ".git").exists():
        entries = (
            sorted(p.name for p in Path(checkout).iterdir()) if Path(checkout).is_dir() else []
        )
        return ("(not a git checkout: " + ", ".join(entries[:10]) + ")") if entries else ""
    try:
        return _git(["-C", str(checkout), "status", "--short", "--untracked-files=all"])
    except ToolBoxError as exc:
        return f"(git status failed: {exc})"


@contextlib.contextmanager
def _creation_lock(paths: EnvPaths):
    """Hold the lock ``.<checkout name>.lock`` beside the checkout, or refuse at once."""
    hold = locked(paths.checkout, timeout=0)
    try:
        hold.__enter__()
    except ToolBoxPathError:
        raise ToolBoxPathError(
            f"another scs-create-toolbox-env is creating {paths.checkout} and {paths.env} "
            f"right now; wait until it has finished (then use its environment, or pass "
            f"--force to recreate it), or choose another --identifier"
        ) from None
    try:
        yield
    finally:
        hold.__exit__(None, None, None)


def create_env(
    proposal,
    version=None,
    identifier=None,
    source=None,
    offline=False,
    force=False,
    kernel=True,
    user=True,
    prefix=None,
    system_site_packages=False,
    proposal_dir=None,
    echo=print,
    discard_changes=False,
) -> EnvPaths:
    """Create the checkout and environment of a proposal; returns their paths.

    Parameters
    ----------
    proposal : int or str
        Proposal number, e.g. 2780 or 'p002780'.
    version : str, optional
        Git tag, branch or commit (default: the commit this scs_nb runs from).
    identifier : str, optional
        Environment identifier (default: the proposal number).
    source : str, optional
        Git URL or folder of the scs_nb repository (default: the repository
        this scs_nb runs from).
    offline : bool, optional
        Build without network: reuse this environment's packages and link
        the checkout with a path finder.
    force : bool, optional
        Delete and recreate an existing checkout and environment.
    kernel : bool, optional
        Register the Jupyter kernel.
    user : bool, optional
        Register the kernel for this user (False: system-wide).
    prefix : str or Path, optional
        Register the kernel under this prefix.
    system_site_packages : bool, optional
        Let the venv see the base Python's packages (online mode).
    proposal_dir : str or Path, optional
        The proposal folder (default: ``find_proposal``).
    echo : callable, optional
        Called with each progress message (default ``print``).
    discard_changes : bool, optional
        With ``force``, also delete a checkout with local changes.

    Returns
    -------
    EnvPaths
        The paths of the checkout and of the environment.
    """
    if identifier is not None:  # '' is refused, not read as "the default"
        validate_identifier(identifier)
    paths = env_paths(proposal, identifier, proposal_dir)
    if version is not None:
        validate_version(version)
    if source is None:
        source = project_source()
        if source is None:
            raise ToolBoxPathError(
                "this scs_nb is not a git checkout; pass --source with "
                "the URL or folder of the scs_nb repository"
            )
        if version is None:  # the version this command runs from
            version = _git(["-C", source, "rev-parse", "HEAD"])
    source = validate_source(source)
    # one creation per checkout at a time: a second one would clone into the same
    # folder, fail, and its clean-up would delete the first one's checkout and env
    with _creation_lock(paths):
        existing = [p for p in (paths.checkout, paths.env) if os.path.lexists(p)]
        if existing:
            if not force:
                raise ToolBoxPathError(
                    f"{existing[0]} already exists; pass --force to delete and recreate it, "
                    "or choose another --identifier"
                )
            if paths.checkout in existing and not discard_changes:
                changes = local_changes(paths.checkout)
                if changes:
                    raise ToolBoxPathError(
                        f"the checkout {paths.checkout} has local changes that --force would "
                        f"delete:\n{changes}\ncommit or copy them, or pass --force "
                        "--discard-changes to delete them"
                    )
            for p in existing:
                echo(f"removing {p}")
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
        try:
            commit = _clone(source, version, paths.checkout, echo)
            echo(f"checked out {commit[:12]} in {paths.checkout}")
            paths.env.parent.mkdir(parents=True, exist_ok=True)
            python = paths.python
            if offline:
                _run([sys.executable, "-m", "venv", "--without-pip", paths.env], echo)
                _link_checkout(python, paths.env, paths.checkout, echo)
            else:
                cmd = [sys.executable, "-m", "venv", paths.env]
                if system_site_packages:
                    cmd.insert(3, "--system-site-packages")
                _run(cmd, echo)
                _run(
                    [
                        python,
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "-e",
                        paths.checkout,
                        "ipykernel",
                        "ipympl",
                    ],
                    echo,
                )
            out = _run(
                [
                    python,
                    "-c",
                    "import scs_nb, ipykernel, ipympl, scs_nb.kernels; print(scs_nb.__file__)",
                ]
            )
            where = Path(out.strip().splitlines()[-1])
            if not where.resolve().is_relative_to(paths.checkout.resolve()):
                raise ToolBoxError(
                    f"the environment imports scs_nb from {where}, not from the "
                    f"checkout {paths.checkout}"
                )
        except BaseException:
            for p in (paths.checkout, paths.env):
                if p.exists():
                    shutil.rmtree(p, ignore_errors=True)
            raise
    echo(f"environment ready: {paths.env}")
    if kernel:
        dest = install_kernel(paths.proposal, identifier, python=python, user=user, prefix=prefix)
        echo(f"registered kernel {kernel_name(paths.proposal, identifier)} in {dest}")
    return paths


def build_parser():
    """The command line of ``scs-create-toolbox-env``.

    Returns
    -------
    argparse.ArgumentParser
        Options --proposal, --version, --identifier, --source, --offline, ...
    """
    p = argparse.ArgumentParser(
        prog="scs-create-toolbox-env",
        description="Create <proposal>/scratch/checkouts/toolbox_<ID> (a git checkout of "
        "scs_nb) and <proposal>/scratch/envs/toolbox_<ID> (a venv with it "
        "installed in development mode), and register its Jupyter kernel.",
    )
    p.add_argument("--proposal", required=True, help="proposal number, e.g. 2780")
    p.add_argument(
        "--version", help="git tag, branch or commit (default: the version running this command)"
    )
    p.add_argument(
        "--identifier",
        help="environment identifier (default: the proposal "
        "number, as the ToolBox: scratch/envs/toolbox_2780)",
    )
    p.add_argument(
        "--source",
        help="git URL or folder of the scs_nb repository (default: "
        "the repository this command runs from)",
    )
    p.add_argument(
        "--offline", action="store_true", help="no network: reuse this environment's packages"
    )
    p.add_argument(
        "--system-site-packages",
        action="store_true",
        help="let the venv see the base Python's packages (online mode)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="delete and recreate an existing env (refused when the checkout has local changes)",
    )
    p.add_argument(
        "--discard-changes",
        action="store_true",
        help="with --force: also delete a checkout with local changes",
    )
    p.add_argument("--no-kernel", action="store_true", help="do not register the kernel")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--system", action="store_true", help="register the kernel for every user of this Jupyter"
    )
    where.add_argument("--prefix", metavar="DIR", help="register the kernel under DIR")
    return p


def main(argv=None) -> int:
    """Run ``scs-create-toolbox-env``: create a proposal's environment and kernel.

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
        create_env(
            args.proposal,
            args.version,
            args.identifier,
            args.source,
            args.offline,
            args.force,
            kernel=not args.no_kernel,
            user=not args.system,
            prefix=args.prefix,
            system_site_packages=args.system_site_packages,
            discard_changes=args.discard_changes,
        )
        return 0
    except ToolBoxError as exc:
        print(f"scs-create-toolbox-env: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
