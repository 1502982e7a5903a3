"""One bridge brought to its desired tegu_ryu rows: the step the controller's OVSDB watcher and
the host agent share.

Queues are only set on ports the bridge has and whose QoS is not someone
else's; the others are left out of the transaction (so one missing port, a
VM deleted while its reservation is active, does not block the bridge's
other rows) and reported as the bridge's problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tegu_ryu.ovsdb.rows import BridgeRows, RowChanges, row_changes


class RowStore(Protocol):
    """What a sync needs of an OVSDB connection (``OvsdbClient``)."""

    def held(self, bridge: str) -> tuple[BridgeRows, frozenset[int]]: ...

    def ofports(self, bridge: str) -> frozenset[int]: ...

    def apply(self, changes: RowChanges) -> None: ...

    def purge_orphans(self) -> int: ...


@dataclass(frozen=True)
class BridgeSync:
    """What one sync wrote to a bridge, and what it could not do there."""

    changes: RowChanges
    problem: str | None


def sync_bridge(store: RowStore, bridge: str, desired: BridgeRows) -> BridgeSync:
    """Write what ``bridge`` lacks of ``desired`` in one transaction (nothing when it has it);
    the store's errors propagate (the caller reports them and tries again later)."""
    held, foreign = store.held(bridge)
    missing = frozenset(desired.queues) - store.ofports(bridge)
    changes = row_changes(bridge, desired, held, foreign | missing)
    if changes:
        store.apply(changes)
    return BridgeSync(changes, _problem(frozenset(desired.queues) & foreign, missing))


def describe(changes: RowChanges) -> str:
    """What a sync wrote, in words, for the log."""
    parts = [
        (len(changes.add_tunnels), "tunnel ports added"),
        (len(changes.delete_tunnels), "tunnel ports removed"),
        (len(changes.set_queues), "port queue sets written"),
        (len(changes.clear_queues), "port queue sets removed"),
    ]
    return ", ".join(f"{count} {what}" for count, what in parts if count) or "nothing"


def _problem(foreign: frozenset[int], missing: frozenset[int]) -> str | None:
    problems = []
    if foreign:
        problems.append(
            f"port {', '.join(map(str, sorted(foreign)))} already has a QoS that tegu_ryu did "
            "not create; its reservations' queues are not set there (remove that QoS or use "
            "meters)"
        )
    if missing:
        problems.append(
            f"port {', '.join(map(str, sorted(missing)))} is not on the bridge; its "
            "reservations' queues wait for it"
        )
    return "; ".join(problems) or None
