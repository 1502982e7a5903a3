"""The rows the controller wants on this host's bridges, and writing them.

The controller sends the whole desired set (by datapath id) whenever it
changes; the keeper remembers the last one and, when asked, compares each
bridge with what its OVSDB holds and writes the difference in one
transaction per bridge (``tegu_ryu.ovsdb.rows``). Asked periodically, that is
drift repair: a row deleted by hand is written again. Nothing is touched
before the controller has said what it wants.
"""

from __future__ import annotations

import logging

from tegu_ryu.agents.protocol import Applied
from tegu_ryu.ovsdb.rows import BridgeRows
from tegu_ryu.ovsdb.sync import RowStore, describe, sync_bridge

LOG = logging.getLogger(__name__)


class Keeper:
    def __init__(self) -> None:
        self.desired: dict[int, BridgeRows] | None = None  # None: the controller has not said

    def want(self, desired: dict[int, BridgeRows]) -> None:
        self.desired = desired

    def apply(self, store: RowStore, names: dict[int, str], quiet: bool) -> list[Applied]:
        """Bring every desired bridge (``names``: bridge name by dpid) to its rows.

        Returns what to report: every bridge, or with ``quiet`` (a periodic
        check) only those written to or failing.
        """
        results = []
        if self.desired is not None:
            self._purge(store)
        for dpid, rows in sorted((self.desired or {}).items()):
            result = self._apply_one(store, dpid, names.get(dpid), rows)
            if not quiet or result.written or result.error is not None:
                results.append(result)
        return results

    def _apply_one(
        self, store: RowStore, dpid: int, bridge: str | None, rows: BridgeRows
    ) -> Applied:
        if bridge is None:
            return Applied(dpid, 0, f"this host has no bridge with datapath id {dpid:016x}")
        try:
            result = sync_bridge(store, bridge, rows)
        except Exception as exc:  # the OVSDB said no: report it, try again next time
            LOG.error("bridge %s: writing tegu rows failed: %s", bridge, exc)
            return Applied(dpid, 0, f"{type(exc).__name__}: {exc}")
        if result.changes:
            LOG.info("bridge %s: %s", bridge, describe(result.changes))
        return Applied(dpid, len(result.changes), result.problem)

    @staticmethod
    def _purge(store: RowStore) -> None:
        """tegu_ryu's QoS and Queue rows that no port uses any more (left by a hand edit)."""
        try:
            purged = store.purge_orphans()
        except Exception as exc:  # the OVSDB said no: the bridges may still be written
            LOG.error("purging unused tegu rows failed: %s", exc)
            return
        if purged:
            LOG.info("purged %d unused tegu QoS/Queue rows", purged)
