"""The kernel process of a headless execution: its environment and its stderr.

The runner gives each kernel a few environment variables of its own (where to
record results) without touching this process's environment, which threads of
a batch share. The kernel's own stderr (ipykernel's log) goes to a temporary
file: the lines every kernel prints (the TCP transport warning, the interrupt
papermill sends at shutdown) are dropped, anything else is passed on.
"""

from __future__ import annotations

import os
import sys

__all__ = ["kernel_manager_class", "relay_kernel_stderr", "KERNEL_NOISE"]

#: ipykernel log lines that say nothing about the template
KERNEL_NOISE = (
    "Kernel is running over TCP without encryption",
    "KeyboardInterrupt caught in kernel",
    "To connect another client to this kernel",
    "--existing kernel-",
)


def kernel_manager_class(env: dict, stderr):
    """A jupyter_client kernel manager class that starts kernels with ``env`` added
    to the environment and their stderr written to ``stderr``.

    Parameters
    ----------
    env : dict
        Extra environment variables of the kernel process.
    stderr : file object
        A binary file with a descriptor (a ``tempfile.TemporaryFile``).

    Returns
    -------
    type
        A subclass of ``jupyter_client.AsyncKernelManager`` (for papermill's
        ``kernel_manager_class``).
    """
    from jupyter_client.manager import AsyncKernelManager  # heavy: jupyter machinery

    extra = {str(k): str(v) for k, v in env.items()}

    class _KernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            base = kw.pop("env", None)
            kw["env"] = {**(base if base is not None else os.environ), **extra}
            kw["stderr"] = stderr
            return await super().start_kernel(**kw)

    return _KernelManager


def relay_kernel_stderr(log, template: str, out=None):
    """Pass on what a kernel wrote to stderr, less :data:`KERNEL_NOISE`; close ``log``.

    Parameters
    ----------
    log : file object
        The binary file given to :func:`kernel_manager_class`.
    template : str
        The template's name (prefix of each line).
    out : file object, optional
        Where to write (default ``sys.stderr``).
    """
    out = out or sys.stderr
    try:
        log.seek(0)
        text = log.read().decode(errors="replace")
    finally:
        log.close()
    keep, skip = [], False
    for line in text.splitlines():
        if any(n in line for n in KERNEL_NOISE):
            skip = True  # a noise message may continue on indented lines
            continue
        if skip and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        skip = False
        keep.append(line)
    for line in keep:
        print(f"[{template} kernel] {line}", file=out)
