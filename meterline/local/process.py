"""Ending a child process this program started."""

from __future__ import annotations

import signal
import subprocess

__all__ = ["terminate"]


def terminate(process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM ``process``, and SIGKILL it if it has not exited after ``timeout`` seconds.
    Always reaps it; a process that already exited is left alone."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
