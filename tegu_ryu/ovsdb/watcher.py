"""Keeps the controller told what each OVSDB server says about its bridges, and keeps the rows
tegu_ryu owns on those bridges what the reservations need.

One thread per remote: it connects (retrying every ``RETRY`` seconds, logging
the problem once per streak), and every ``period`` seconds and whenever
``refresh`` is called (a switch connected, reservations changed) it reads the
server's view, hands each bridge's datapath type and the OVS version to
``report``, and brings every bridge the controller manages (``RowSource``) to
its desired rows: compared with what the replica holds, written in one
transaction per bridge when they differ, not at all when they don't. A row
deleted by hand therefore comes back at the next period; rows of a reservation
that ended while the controller was down go at the first pass. An unreachable
or failing server costs only its own thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from tegu_ryu.ovsdb.client import OvsdbClient, OvsdbView
from tegu_ryu.ovsdb.rows import BridgeRows, RowChanges
from tegu_ryu.ovsdb.sync import describe, sync_bridge
from tegu_ryu.topology.refs import dpid_str

LOG = logging.getLogger(__name__)
PERIOD = 10.0
RETRY = 30.0
SPACING = 0.1  # seconds at least between passes: a burst of changes costs one pass per spacing


class RowSource(Protocol):
    """What the controller says about the rows of a bridge (``Controller``)."""

    def desired_rows(self, dpid: int) -> BridgeRows | None:
        """The rows bridge ``dpid`` should hold, or None when it is not this server's to manage."""
        ...

    def rows_written(self, dpid: int, changes: RowChanges | None, problem: str | None) -> None:
        """What one pass wrote to bridge ``dpid`` (``changes``, possibly empty) or why it failed."""
        ...


class OvsdbWatcher:
    def __init__(
        self,
        remote: str,
        report: Callable[[OvsdbView], None],
        stopping: threading.Event,
        *,
        connect: Callable[[str], OvsdbClient] = OvsdbClient,
        rows: RowSource | None = None,
        period: float | None = None,
    ) -> None:
        self.remote = remote
        self._report = report
        self._stopping = stopping
        self._connect = connect
        self._rows = rows
        self._period = PERIOD if period is None else period
        self._wake = threading.Event()

    def refresh(self) -> None:
        """Read the server again now (and wake the thread to see ``stopping``)."""
        self._wake.set()

    def _pause(self, seconds: float) -> None:
        """Until woken or ``seconds`` passed, and at least ``SPACING`` after the last pass: a
        change after a quiet time is handled at once, a burst of them once per spacing."""
        began = time.monotonic()
        self._wake.wait(seconds)
        self._wake.clear()
        self._stopping.wait(max(0.0, SPACING - (time.monotonic() - began)))

    def run(self) -> None:
        failing: str | None = None
        while not self._stopping.is_set():
            client = None
            try:
                client = self._connect(self.remote)
                while not self._stopping.is_set():
                    view = client.view()
                    self._report(view)
                    if self._rows is not None:
                        self._sync(client, view, self._rows)
                    if failing is not None:
                        LOG.info("OVSDB %s: answering again", self.remote)
                        failing = None
                    self._pause(self._period)
            except Exception as exc:  # any failure: reconnect later, say so once
                problem = f"{type(exc).__name__}: {exc}"
                if problem != failing:
                    LOG.warning("OVSDB %s: %s; retrying every %.0f s", self.remote, problem, RETRY)
                failing = problem
                self._pause(RETRY)
            finally:
                if client is not None:
                    client.close()

    def _sync(self, client: OvsdbClient, view: OvsdbView, rows: RowSource) -> None:
        """Each managed bridge brought to its desired rows; one failing bridge spares the rest."""
        try:
            purged = client.purge_orphans()
        except Exception as exc:  # the server refused: the bridges may still be synced
            LOG.error("OVSDB %s: purging unused tegu_ryu rows: %s", self.remote, exc)
            purged = 0
        if purged:
            LOG.info("OVSDB %s: %d unused tegu_ryu QoS/Queue rows purged", self.remote, purged)
        for bridge in view.bridges:
            desired = rows.desired_rows(bridge.dpid)
            if desired is None:
                continue
            try:
                result = sync_bridge(client, bridge.name, desired)
            except Exception as exc:  # the server refused: say why, try again next period
                LOG.error("OVSDB %s bridge %s: %s", self.remote, bridge.name, exc)
                rows.rows_written(bridge.dpid, None, f"OVSDB refused the change: {exc}")
                continue
            if result.changes:
                LOG.info(
                    "OVSDB %s bridge %s (%s): %s",
                    self.remote,
                    bridge.name,
                    dpid_str(bridge.dpid),
                    describe(result.changes),
                )
            rows.rows_written(bridge.dpid, result.changes, result.problem)
