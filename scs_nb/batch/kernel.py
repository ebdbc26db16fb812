"""The kernel process of a headless execution: its environment and its stderr.

The runner gives each kernel a few environment variables of its own (where to
record results) without touching this process's environment, which threads of
a batch share. The kernel's own stderr (ipykernel's log) goes to a temporary
file: the lines every kernel prints (the TCP transport warning, the interrupt
papermill sends at shutdown) are dropped, anything else is passed on. A
:class:`KernelRegistry` keeps the kernel processes of running executions, so that
an interrupted batch can stop them at once instead of waiting for them.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

__all__ = ["kernel_manager_class", "relay_kernel_stderr", "KERNEL_NOISE", "KernelRegistry"]

#: ipykernel log lines that say nothing about the template
KERNEL_NOISE = (
    "Kernel is running over TCP without encryption",
    "KeyboardInterrupt caught in kernel",
    "To connect another client to this kernel",
    "--existing kernel-",
)


class KernelRegistry:
    """The kernel processes started for running executions (thread-safe).

    Each execution registers its kernel under a key of its own and releases the key
    when papermill has returned (a process id is never killed after it may have been
    reused). :meth:`stop` kills every registered kernel with its process group (the
    kernel's own child processes) and any kernel registered afterwards; ``stopped``
    tells the executions that their kernel was stopped on purpose.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pids = {}
        self.stopped = threading.Event()

    def add(self, key, pid: int):
        """Register a kernel process (killed at once after :meth:`stop`).

        Parameters
        ----------
        key : hashable
            The execution's key.
        pid : int
            The kernel's process id (leader of its own process group).
        """
        with self._lock:
            self._pids.setdefault(key, set()).add(pid)
            stopped = self.stopped.is_set()
        if stopped:
            self._kill(pid)

    def release(self, key):
        """Forget the kernels of an execution that has ended.

        Parameters
        ----------
        key : hashable
        """
        with self._lock:
            self._pids.pop(key, None)

    def stop(self) -> list:
        """Kill every registered kernel and those registered later.

        Returns
        -------
        list of int
            The process ids killed.
        """
        with self._lock:
            self.stopped.set()
            pids = sorted(p for group in self._pids.values() for p in group)
            for pid in pids:
                self._kill(pid)
        return pids

    @staticmethod
    def _kill(pid):
        # jupyter_client starts each kernel in a session of its own: its group is its pid
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
                return
            except (ProcessLookupError, PermissionError):
                continue


def kernel_manager_class(env: dict, stderr, registry: KernelRegistry | None = None, key=None):
    """A jupyter_client kernel manager class that starts kernels with ``env`` added
    to the environment and their stderr written to ``stderr``.

    Parameters
    ----------
    env : dict
        Extra environment variables of the kernel process.
    stderr : file object
        A binary file with a descriptor (a ``tempfile.TemporaryFile``).
    registry : KernelRegistry, optional
        Where each started kernel is registered, under ``key``; the caller releases
        the key when the execution has ended.
    key : hashable, optional
        The execution's key in ``registry``.

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
            out = await super().start_kernel(**kw)
            pid = getattr(self.provisioner, "pid", None)
            if registry is not None and pid:
                registry.add(key, pid)
            return out

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
