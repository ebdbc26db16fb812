"""The ToolBox's module layout resolves under scs_nb to the same objects.

tests/data/toolbox_api.txt lists every public function and class of the seed's
API reference with its module path (generated from the seed)."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import scs_nb as tb

API = [
    tuple(line.split())
    for line in (Path(__file__).parent / "data" / "toolbox_api.txt").read_text().splitlines()
    if line and not line.startswith("#")
]


def _module(mod):
    return importlib.import_module("scs_nb" if mod == "." else f"scs_nb.{mod}")


@pytest.mark.parametrize("mod", sorted({m for m, _ in API}))
def test_every_module_path_resolves(mod):
    assert _module(mod) is not None


def test_every_api_name_resolves():
    missing = [f"{m}.{n}" for m, n in API if not hasattr(_module(m), n)]
    assert not missing, f"ToolBox names missing under scs_nb: {missing}"
    assert len(API) > 250


def test_aliases_are_the_same_objects():
    import scs_nb.detectors as tbdet
    from scs_nb.detectors.xgm import get_xgm
    from scs_nb.misc import bunch_pattern

    assert get_xgm is tb.get_xgm is tbdet.get_xgm
    assert bunch_pattern is tb.pulses.bunch_pattern
    assert tb.misc.laser_utils.positionToDelay is tb.positionToDelay
    assert tb.detectors.dssc_misc.quickmask_DSSC_ASIC is tb.quickmask_DSSC_ASIC
    assert tb.constants.mnemonics is tb.mnemonics
    assert tb.util.exceptions.ToolBoxValueError is tb.ToolBoxValueError
    assert tb.mnemonics_machinery.mnemonics_for_run is tb.mnemonics_for_run
    # an alias keeps its own identity: no second copy of the module, its spec intact
    assert tb.detectors.xgm.__spec__.name == "scs_nb.pulses.xgm"
    assert importlib.import_module("scs_nb.detectors.digitizers") is tb.pulses.digitizers
    assert isinstance(tb.util.pkg.get_version(), str)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        tb.detectors.nosuch
    with pytest.raises(AttributeError):
        tb.misc.nosuch


def test_toolbox_scs_alias_runs_a_toolbox_notebook_unchanged():
    code = """
import scs_nb
scs_nb.alias_toolbox()
import toolbox_scs as tb
import toolbox_scs.detectors as tbdet
from toolbox_scs.misc.bunch_pattern import get_sase_pId
from toolbox_scs.detectors.xgm import get_xgm
from toolbox_scs.constants import mnemonics
assert tb is scs_nb and tbdet is scs_nb.detectors and get_xgm is scs_nb.get_xgm
assert get_sase_pId is scs_nb.get_sase_pId and mnemonics is scs_nb.mnemonics
import scs_nb.pulses.xgm
assert len({id(m) for m in __import__('sys').modules.values()
            if getattr(m, '__file__', None) == scs_nb.pulses.xgm.__file__}) == 1
print('ok')
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
