"""The agents the controller knows: who they are, what their hosts hold, when they last spoke.

One record per host name; an agent reconnecting (or a second one for the
same host) replaces the record and its older connection. A record stays
after its agent is gone (heartbeat timeout, closed connection), marked
disconnected, so that an operator sees a lost agent and names of VMs on it
still resolve; ``dpids`` only counts connected agents, since only they can
write their bridges' rows.

Thread-safe: connection threads write, the REST API and the listener read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

from tegu_ryu.agents.protocol import Applied, Interface, InventoryBridge
from tegu_ryu.errors import Conflict
from tegu_ryu.timefmt import format_time

ENDPOINT_PREFIXES = ("vm:", "iface:")


@dataclass(frozen=True)
class AgentRecord:
    host: str
    version: str
    peer: str  # address:port the agent connected from
    session: int  # which connection this record belongs to
    connected_since: float
    last_heartbeat: float
    connected: bool = True
    bridges: tuple[InventoryBridge, ...] = ()
    applied: dict[int, tuple[float, Applied]] = field(default_factory=dict)  # by dpid


class AgentRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, AgentRecord] = {}
        self._sessions = 0

    def connected(self, host: str, version: str, peer: str, now: float) -> int:
        """Record a new connection for ``host``; returns its session number."""
        with self._lock:
            self._sessions += 1
            self._records[host] = AgentRecord(host, version, peer, self._sessions, now, now)
            return self._sessions

    def _update(self, host: str, session: int, **changes: Any) -> bool:
        with self._lock:
            record = self._records.get(host)
            if record is None or record.session != session:
                return False  # a replaced connection: its news is stale
            self._records[host] = replace(record, **changes)
            return True

    def inventory(self, host: str, session: int, bridges: tuple[InventoryBridge, ...]) -> bool:
        return self._update(host, session, bridges=bridges)

    def heartbeat(self, host: str, session: int, now: float) -> bool:
        return self._update(host, session, last_heartbeat=now)

    def applied(self, host: str, session: int, result: Applied, now: float) -> None:
        with self._lock:
            record = self._records.get(host)
            if record is not None and record.session == session:
                record.applied[result.dpid] = (now, result)

    def gone(self, host: str, session: int) -> None:
        self._update(host, session, connected=False)

    def bridges_of(self, host: str) -> tuple[InventoryBridge, ...]:
        with self._lock:
            record = self._records.get(host)
            return record.bridges if record is not None else ()

    def dpids(self) -> frozenset[int]:
        """The datapath ids whose OVSDB rows connected agents write (the controller's own
        OVSDB sync leaves these alone)."""
        with self._lock:
            return frozenset(
                b.dpid for r in self._records.values() if r.connected for b in r.bridges
            )

    def endpoint_mac(self, name: str) -> str | None:
        """The MAC of ``vm:NAME`` (a VM name or uuid) or ``iface:ID`` (an interface's
        iface-id or name) in the inventories reported; None if no agent knows it.

        VM names need not be unique (uuids are): a name that several interfaces with
        different MACs answer to is refused (409 ``ambiguous_endpoint``), not guessed.
        """
        kind, _, wanted = name.partition(":")
        found = {
            interface.endpoint_mac
            for interface in self._interfaces()
            if (kind == "vm" and wanted in (interface.vm_name, interface.vm_uuid))
            or (kind == "iface" and wanted in (interface.iface_id, interface.name))
        }
        if len(found) > 1:
            raise Conflict(
                f"{name} names {len(found)} interfaces ({', '.join(sorted(found))}); "
                "name the VM by its uuid or the interface by its iface-id",
                code="ambiguous_endpoint",
            )
        return next(iter(found), None)

    def _interfaces(self) -> list[Interface]:
        with self._lock:
            records = sorted(self._records.values(), key=lambda r: (not r.connected, r.host))
        return [i for r in records for b in r.bridges for i in b.interfaces if i.endpoint_mac]

    def view(self) -> list[dict[str, Any]]:
        """Every agent as ``GET /v1/agents`` shows it."""
        with self._lock:
            records = sorted(self._records.values(), key=lambda r: r.host)
            return [_record_json(r) for r in records]


def _record_json(record: AgentRecord) -> dict[str, Any]:
    return {
        "host": record.host,
        "version": record.version,
        "peer": record.peer,
        "connected": record.connected,
        "connected_since": format_time(record.connected_since),
        "last_heartbeat": format_time(record.last_heartbeat),
        "bridges": [_bridge_json(b, record.applied.get(b.dpid)) for b in record.bridges],
    }


def _bridge_json(bridge: InventoryBridge, applied: tuple[float, Applied] | None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": bridge.name,
        "dpid": f"{bridge.dpid:016x}",
        "interfaces": [
            {
                "name": i.name,
                "ofport": i.ofport,
                "mac": i.mac,
                **{
                    k: v
                    for k in ("iface_id", "attached_mac", "vm_uuid", "vm_name")
                    if (v := getattr(i, k))
                },
            }
            for i in bridge.interfaces
        ],
    }
    if applied is not None:
        at, result = applied
        view["applied"] = {"at": format_time(at), "written": result.written, "error": result.error}
    return view
