"""The ToolBox module layout over scs_nb's own, from one table.

Notebooks written for the ToolBox import its module paths
(``import toolbox_scs.detectors as tbdet``, ``tb.misc.bunch_pattern``,
``from toolbox_scs.detectors.hrixs import hRIXS``, ``tb.routines.boz``,
``tb.constants.mnemonics``). Under ``scs_nb`` each of these paths resolves to
the module that implements it — the *same* module object, not a copy:

* ``MODULES`` maps a ToolBox path (relative to the package) to the scs_nb
  module that implements it; ``None`` makes a package of aliases (``misc``,
  ``util``). Paths not listed are scs_nb's own modules (``load``,
  ``detectors.dssc``, ``routines.boz``, ...).
* ``FLAT`` lists, for a package, the modules whose public names it also
  offers directly (``tb.detectors.get_xgm``, ``tb.misc.positionToDelay``),
  found when first asked for.

A meta path finder serves the aliases to the import system; the packages'
``__getattr__`` (``lazy_attributes``) serves the flat names. ``alias_toolbox()``
also makes ``toolbox_scs`` itself an alias of ``scs_nb``, so that a ToolBox
notebook runs without a single edit.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

from .errors import ToolBoxValueError

PACKAGE = "scs_nb"

#: ToolBox module path -> implementing scs_nb module (None: a package of aliases)
MODULES = {
    "constants": "scs_nb.mnemonics",
    "mnemonics_machinery": "scs_nb.reader.discovery",
    "detectors.bam_detectors": "scs_nb.pulses.bam",
    "detectors.digitizers": "scs_nb.pulses.digitizers",
    "detectors.xgm": "scs_nb.pulses.xgm",
    "detectors.azimuthal_integrator": "scs_nb.detectors.dssc.azimuthal.integrator",
    "detectors.dssc_data": "scs_nb.detectors.dssc.binning.store",
    "detectors.dssc_misc": "scs_nb.detectors.dssc.binning.inputs",
    "detectors.dssc_plot": "scs_nb.detectors.dssc.plot",
    "detectors.dssc_processing": "scs_nb.detectors.dssc.binning.process",
    "misc": None,
    "misc.bunch_pattern": "scs_nb.pulses.bunch_pattern",
    "misc.bunch_pattern_external": "scs_nb.pulses.bunch_pattern",
    "misc.laser_utils": "scs_nb.routines.laser",
    "misc.undulator": "scs_nb.routines.undulator",
    "routines.XAS": "scs_nb.routines.xas",
    "routines.Reflectivity": "scs_nb.routines.reflectivity",
    "util": None,
    "util.exceptions": "scs_nb.errors",
    "util.pkg": "scs_nb._pkg",
}

#: package -> ToolBox paths whose public names it offers directly
FLAT = {
    "detectors": [
        "detectors.xgm",
        "detectors.digitizers",
        "detectors.bam_detectors",
        "detectors.dssc",
        "detectors.dssc_data",
        "detectors.dssc_misc",
        "detectors.dssc_plot",
        "detectors.dssc_processing",
        "detectors.azimuthal_integrator",
        "detectors.hrixs",
        "detectors.viking",
        "detectors.pes",
        "detectors.fccd",
    ],
    "misc": [
        "misc.bunch_pattern",
        "misc.bunch_pattern_external",
        "misc.laser_utils",
        "misc.undulator",
    ],
    "routines": [
        "routines.laser",
        "routines.undulator",
        "routines.XAS",
        "routines.Reflectivity",
        "routines.knife_edge",
        "routines.boz",
    ],
    "base": ["base.knife_edge"],
    "util": ["util.exceptions", "util.pkg"],
    "": ["load", "mnemonics_machinery", "detectors", "misc", "routines", "util"],
}


def _module(path):
    """The scs_nb module of a ToolBox path ('' = the package), imported."""
    return importlib.import_module(PACKAGE + ("." + path if path else ""))


def public_names(module) -> list:
    """A module's public names: its ``__all__``, else its public functions and
    classes defined in scs_nb."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and isinstance(v, (types.FunctionType, type))
        and getattr(v, "__module__", "").startswith(PACKAGE)
    ]


def _optional(path):
    """The module of ``path``, or None when it does not exist (yet)."""
    try:
        return _module(path)
    except ModuleNotFoundError as exc:
        if exc.name and (PACKAGE + "." + path).startswith(exc.name):
            return None
        raise


def lazy_attributes(package_path):
    """``__getattr__`` for a package: its alias submodules and flat names."""

    def __getattr__(name):
        if name.startswith("_"):
            raise AttributeError(name)
        sub = f"{package_path}.{name}" if package_path else name
        if sub in MODULES or importlib.util.find_spec(f"{PACKAGE}.{sub}") is not None:
            return _module(sub)
        for path in FLAT.get(package_path, ()):
            mod = _optional(path)
            if mod is not None and name in public_names(mod) and hasattr(mod, name):
                return getattr(mod, name)
        where = f"{PACKAGE}.{package_path}" if package_path else PACKAGE
        raise AttributeError(f"module {where!r} has no attribute {name!r}")

    return __getattr__


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``scs_nb.<ToolBox path>`` (and ``toolbox_scs.*`` once aliased)."""

    toolbox_alias = False

    def _target(self, fullname):
        """(kind, target): ('alias', module name), ('package', None) or None."""
        if self.toolbox_alias and (
            fullname == "toolbox_scs" or fullname.startswith("toolbox_scs.")
        ):
            return "alias", PACKAGE + fullname[len("toolbox_scs") :]
        if not fullname.startswith(PACKAGE + "."):
            return None
        path = fullname[len(PACKAGE) + 1 :]
        if path not in MODULES:
            return None
        target = MODULES[path]
        return ("package", None) if target is None else ("alias", target)

    def find_spec(self, fullname, path=None, target=None):
        found = self._target(fullname)
        if found is None:
            return None
        kind, _ = found
        return importlib.machinery.ModuleSpec(fullname, self, is_package=kind == "package")

    def create_module(self, spec):
        kind, target = self._target(spec.name)
        if kind == "package":
            mod = types.ModuleType(spec.name, f"ToolBox package {spec.name} (aliases)")
            mod.__path__ = []
            mod.__getattr__ = lazy_attributes(spec.name[len(PACKAGE) + 1 :])
            return mod
        mod = importlib.import_module(target)
        mod.__dict__.setdefault("__scs_nb_spec__", mod.__spec__)
        return mod

    def exec_module(self, module):
        # the import system set __spec__ to the alias's spec: give the module its own back
        if "__scs_nb_spec__" in module.__dict__:
            module.__spec__ = module.__dict__["__scs_nb_spec__"]


_FINDER = _AliasFinder()
if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    # first: for toolbox_scs.* the path finder would load scs_nb's files a second time
    sys.meta_path.insert(0, _FINDER)


#: packages of scs_nb that also offer the ToolBox's flat names and module paths
LAZY_PACKAGES = ("detectors", "routines")


def flat_paths(package_path="") -> list:
    """The ToolBox paths whose public names ``package_path`` offers, in precedence order.

    Parameters
    ----------
    package_path : str
        A key of ``FLAT`` ('' is the top package).

    Returns
    -------
    list of str
        ``FLAT[package_path]`` with each entry that is itself a key of ``FLAT``
        expanded first (depth first): where two modules offer one name, the
        earlier one wins, as in ``lazy_attributes``.
    """
    out, seen = [], set()

    def walk(path):
        for sub in FLAT.get(path, ()):
            if sub in FLAT and sub not in seen:
                seen.add(sub)
                walk(sub)
            out.append(sub)

    walk(package_path)
    return out


def install(namespace):
    """Give the top package the ToolBox's flat API, and ``scs_nb.detectors`` /
    ``scs_nb.routines`` their flat names and module paths.

    Parameters
    ----------
    namespace : dict
        The top package's ``globals()``. Each public name of each module of
        ``flat_paths('')`` is set there once: names that scs_nb set itself are
        kept, except submodules that the import system bound as attributes
        (``tb.load`` is the ToolBox's function, not the module ``scs_nb.load``).
        So the flat API is derived from ``FLAT``, the one table of
        the ToolBox's layout, instead of a list of imports to keep in step.

    Notes
    -----
    Done by the package's top, so that the analysis packages never import this
    module (it sits above them).
    """
    for path in LAZY_PACKAGES:
        mod = _module(path)
        if "__getattr__" not in vars(mod):
            mod.__getattr__ = lazy_attributes(path)
    flat = set()
    for path in flat_paths(""):
        mod = _optional(path)
        if mod is None:
            continue
        for name in public_names(mod):
            if name in flat or not hasattr(mod, name):
                continue
            if name not in namespace or isinstance(namespace[name], types.ModuleType):
                namespace[name] = getattr(mod, name)
                flat.add(name)


def alias_toolbox():
    """Make ``import toolbox_scs`` (and every ``toolbox_scs.*`` path) give scs_nb,
    so that a ToolBox notebook runs unchanged. Refused when the real ToolBox is
    importable: it is never shadowed."""
    if "toolbox_scs" in sys.modules and not sys.modules["toolbox_scs"].__name__ == PACKAGE:
        raise ToolBoxValueError(
            "toolbox_scs is already imported (the real ToolBox); "
            "use it, or import scs_nb as tb in a fresh kernel"
        )
    if not _FINDER.toolbox_alias and importlib.util.find_spec("toolbox_scs") is not None:
        raise ToolBoxValueError(
            "the SCS ToolBox (toolbox_scs) is installed in this "
            "environment; scs_nb does not shadow it. Write "
            "`import scs_nb as tb` instead"
        )
    _FINDER.toolbox_alias = True
    sys.modules.setdefault("toolbox_scs", sys.modules[PACKAGE])
