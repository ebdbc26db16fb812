"""Front-end detection inside a real kernel, and the interactive layouts.

A notebook front end sends cell metadata (``cellId``) with each execute
request; papermill/nbconvert send none. The widgets show live controls in the
first case and static figures in the second.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import xarray as xr

from scs_nb.widgets import PeakWindowTuner, ROISelector, ScanExplorer, ThresholdTuner


def _execute(kc, code, metadata):
    msg = kc.session.msg(
        "execute_request",
        {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        metadata=metadata,
    )
    kc.shell_channel.send(msg)
    out = []
    while True:
        m = kc.get_iopub_msg(timeout=60)
        if m["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        if m["msg_type"] == "stream":
            out.append(m["content"]["text"])
        elif m["msg_type"] == "error":
            raise AssertionError("\n".join(m["content"]["traceback"]))
        elif m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            return "".join(out)


def test_interactive_detection_in_kernel(monkeypatch):
    from jupyter_client.manager import start_new_kernel

    monkeypatch.delenv("SCS_NB_INTERACTIVE", raising=False)
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        code = "from scs_nb.widgets import interactive_available as f; print('I', f())"
        # what JupyterLab sends with a cell
        assert "I True" in _execute(kc, code, {"cellId": "abc", "recordTiming": False})
        # what papermill / nbclient send
        assert "I False" in _execute(kc, code, {})
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_interactive_layouts_have_ipympl_canvas():
    from ipympl.backend_nbagg import Canvas

    rng = np.random.default_rng(2)
    y = np.full(200, 10.0)
    y[50:55] -= 40
    tools = [
        ThresholdTuner(rng.normal(size=100), interactive=True),
        PeakWindowTuner(y, interactive=True),
        ROISelector(rng.random((20, 30)), interactive=True),
        ScanExplorer(
            xr.Dataset(
                {"s": ("trainId", rng.random(40)), "x": ("trainId", np.repeat(np.arange(4.0), 10))}
            ),
            "s",
            "x",
            interactive=True,
        ),
    ]
    for tool in tools:
        box = tool.widget()
        canvases = [c for c in box.children if isinstance(c, Canvas)]
        assert len(canvases) == 1 and canvases[0].figure is tool.fig
        assert f"scs-{type(tool).__name__.lower()}" in box._dom_classes
    # a callback error is shown in the tool's output area, not raised
    t = tools[0]
    t.observe(lambda _t: 1 / 0)
    t.set_thresholds(-1, 1)
    assert isinstance(t.last_error, ZeroDivisionError)
    with pytest.raises(ZeroDivisionError):  # headless: errors propagate
        t2 = ThresholdTuner(rng.normal(size=10), interactive=False)
        t2.observe(lambda _t: 1 / 0)
        t2.set_thresholds(-1, 1)
