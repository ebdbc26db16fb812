"""The README's marked snippets (``<!-- snippet: test -->`` before a fence) run as written on
a small copy of the demo's runs, and its stated counts match the code: they cannot go stale.

The data root is ``<tmp>/demo/exp`` and the snippets run in ``<tmp>``, as after ``make demo``
in a checkout; the demo's run numbers are those of ``scs_nb.sim.demo.demo_plan``.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import scs_nb as tb
from scs_nb import sim
from scs_nb.sim.demo import DEMO_PROPOSAL, demo_plan, demo_series

README = Path(__file__).resolve().parents[1] / "README.md"
MARK = "<!-- snippet: test -->"
#: the runs the marked snippets read, small (scenario -> simulator options)
RUNS = {
    "delay_scan": dict(trains=20),
    "dssc_dark": dict(modules="0,1,2,3", trains=4, npulses=4),
    "dssc_delay_scan": dict(modules="0,1,2,3", trains=6, npulses=4),
    "pump_probe": dict(trains=20),
    "knife_edge": dict(trains=40),
    "reflectivity": dict(trains=60),
    "xas_xmcd": dict(trains=40),
    "pes": dict(trains=10),
    "viking_dark": dict(trains=5),
    "viking_reference": dict(trains=10),
    "viking_sample": dict(trains=10),
}


def snippets():
    """``(language, code)`` of every marked fenced block of the README."""
    text = README.read_text()
    pattern = re.escape(MARK) + r"\s*\n```(\w+)\n(.*?)\n```"
    return re.findall(pattern, text, flags=re.S)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """``<tmp>`` with the demo's runs the snippets need under ``<tmp>/demo/exp``."""
    top = tmp_path_factory.mktemp("readme")
    root = top / "demo" / "exp"
    root.mkdir(parents=True)
    plan = demo_plan()
    for scenario, opts in RUNS.items():
        sim.simulate(scenario, DEMO_PROPOSAL, plan[scenario], data_root=root, seed=1, **opts)
    # the Viking calibration runs (mono energies) numbered after the plan, as in the demo
    for run, scenario, opts in demo_series(plan)[("viking", "calibration_runs")]:
        sim.simulate(scenario, DEMO_PROPOSAL, run, data_root=root, seed=1, trains=5, **opts)
    return top


def test_readme_has_marked_snippets():
    langs = [lang for lang, _ in snippets()]
    assert langs.count("bash") >= 3 and langs.count("python") >= 8, langs


@pytest.mark.parametrize("index", range(len(snippets())))
def test_readme_snippet_runs(index, demo_dir):
    lang, code = snippets()[index]
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "MPLBACKEND": "Agg",
        # as after the README's `export EXTRA_DATA_DATA_ROOT=$PWD/demo/exp`
        "EXTRA_DATA_DATA_ROOT": str(demo_dir / "demo" / "exp"),
    }
    if lang == "bash":
        cmd = ["bash", "-e", "-c", code]
    elif lang == "python":
        script = demo_dir / f"snippet{index}.py"
        script.write_text(code + "\n")
        cmd = [sys.executable, str(script)]  # as a script: __main__ guards matter
    else:
        pytest.fail(f"marked snippet {index} is {lang!r}, not bash or python")
    res = subprocess.run(cmd, cwd=demo_dir, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"{lang} snippet {index}:\n{code}\n--- stderr:\n{res.stderr}"


def test_readme_counts_match_the_code():
    text = README.read_text()
    n = len(tb.mnemonics)
    inferred = sum(1 for alts in tb.mnemonics.values() if alts[0].get("inferred"))
    assert f"({n} names:" in text
    assert f"marks the {inferred} entries" in text
