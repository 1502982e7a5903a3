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
from typing import Protocol

from tegu_ryu.agents.protocol import Applied
from tegu_ryu.ovsdb.rows import BridgeRows, RowChanges, row_changes

LOG = logging.getLogger(__name__)


class RowStore(Protocol):
    """What the keeper needs of an OVSDB connection (``OvsdbClient``)."""

    def held(self, bridge: str) -> tuple[BridgeRows, frozenset[int]]: ...

    def apply(self, changes: RowChanges) -> None: ...


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
            changes = row_changes(bridge, rows, *store.held(bridge))
            if changes:
                store.apply(changes)
                LOG.info("bridge %s: wrote %d changes (%s)", bridge, len(changes), changes)
        except Exception as exc:  # the OVSDB said no: report it, try again next time
            LOG.error("bridge %s: writing tegu rows failed: %s", bridge, exc)
            return Applied(dpid, 0, f"{type(exc).__name__}: {exc}")
        return Applied(dpid, len(changes), None)
