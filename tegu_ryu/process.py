"""Process-wide stop request, so any thread can end the controller cleanly.

Signal handlers and failed event handlers both ask for a stop here; the
launcher's main thread waits on it, then closes the apps in order. A failure
sets a non-zero exit status so a supervisor restarts a clean process instead
of living with one that stopped handling events.
"""

from __future__ import annotations

import threading


class StopRequest:
    """A one-shot event carrying the exit status and the reason."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.exit_status = 0
        self.reason = ""

    def request(self, exit_status: int, reason: str) -> None:
        if not self._event.is_set():
            self.exit_status = exit_status
            self.reason = reason
            self._event.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    @property
    def requested(self) -> bool:
        return self._event.is_set()


STOP = StopRequest()
