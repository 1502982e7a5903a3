"""Keeps the controller told what each OVSDB server says about its bridges.

One thread per remote: it connects (retrying every ``RETRY`` seconds, logging
the problem once per streak), reads the server's view every ``PERIOD``
seconds and whenever ``refresh`` is called (a switch connected: its bridge
may be new), and hands each bridge's datapath type and the OVS version to
``report``. An unreachable or failing server costs only its own thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tegu_ryu.ovsdb.client import OvsdbClient, OvsdbView

LOG = logging.getLogger(__name__)
PERIOD = 30.0
RETRY = 30.0


class OvsdbWatcher:
    def __init__(
        self,
        remote: str,
        report: Callable[[OvsdbView], None],
        stopping: threading.Event,
        connect: Callable[[str], OvsdbClient] = OvsdbClient,
    ) -> None:
        self.remote = remote
        self._report = report
        self._stopping = stopping
        self._connect = connect
        self._wake = threading.Event()

    def refresh(self) -> None:
        """Read the server again now (and wake the thread to see ``stopping``)."""
        self._wake.set()

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def run(self) -> None:
        failing: str | None = None
        while not self._stopping.is_set():
            client = None
            try:
                client = self._connect(self.remote)
                while not self._stopping.is_set():
                    self._report(client.view())
                    if failing is not None:
                        LOG.info("OVSDB %s: answering again", self.remote)
                        failing = None
                    self._pause(PERIOD)
            except Exception as exc:  # any failure: reconnect later, say so once
                problem = f"{type(exc).__name__}: {exc}"
                if problem != failing:
                    LOG.warning("OVSDB %s: %s; retrying every %.0f s", self.remote, problem, RETRY)
                failing = problem
                self._pause(RETRY)
            finally:
                if client is not None:
                    client.close()
