"""Which OpenFlow connection is each switch's current one.

A switch that reconnects gets a new connection (os-ken: a new ``Datapath``)
while the old one may still be delivering its last events from another
thread: its disconnect, late replies, errors, barrier replies. Those events
carry the old connection, and xids restart on the new one, so an old reply
could even match a request just sent on the new connection. Everything that
arrives is checked against the current connection first; what belongs to a
replaced one is dropped, and a replaced connection's disconnect disconnects
nothing.
"""

from __future__ import annotations

from typing import Generic, TypeVar

ConnT = TypeVar("ConnT")


class Connections(Generic[ConnT]):
    """The current connection of each switch, by datapath id."""

    def __init__(self) -> None:
        self._current: dict[int, ConnT] = {}

    def connected(self, dpid: int, connection: ConnT) -> ConnT | None:
        """``connection`` is now the switch's; returns the one it replaces, if any."""
        replaced = self._current.get(dpid)
        self._current[dpid] = connection
        return replaced if replaced is not connection else None

    def disconnected(self, dpid: int, connection: ConnT) -> bool:
        """True if ``connection`` was current (the switch is now unreachable); False if stale."""
        if self._current.get(dpid) is not connection:
            return False
        del self._current[dpid]
        return True

    def is_current(self, dpid: int | None, connection: object) -> bool:
        return dpid is not None and self._current.get(dpid) is connection

    def current(self, dpid: int) -> ConnT | None:
        return self._current.get(dpid)

    def __len__(self) -> int:
        return len(self._current)
