"""One OVSDB server through ovsdbapp: its bridges by datapath id, their datapath types and the
Open vSwitch version, and the rows tegu_ryu owns on them.

ovsdbapp keeps one IDL thread per connection, replicating only the tables
registered here, and answers reads from that replica. The controller learns
from it what OpenFlow cannot say: whether a bridge runs the userspace
datapath (``netdev``, where ``set_queue`` means nothing) or the kernel one,
and which OVS it is. It also reads back the tunnel ports and queues tegu_ryu
created (``rows.py``) and writes the changes to them, each bridge's in one
transaction.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from tegu_ryu.ovsdb.rows import (
    FLOW_KEY,
    RESERVATION_KEY,
    BridgeRows,
    PortQueues,
    QueueRow,
    RowChanges,
    TunnelPort,
    is_owned,
    owner_tag,
)

T = TypeVar("T")
TABLES = ("Open_vSwitch", "Bridge", "Port", "Interface", "QoS", "Queue")


@dataclass(frozen=True)
class OvsdbBridge:
    name: str
    dpid: int
    datapath_type: str  # "system" (the kernel's) where the row leaves it empty, as OVS does


@dataclass(frozen=True)
class OvsdbView:
    ovs_version: str | None  # None where the server's row does not say
    datapath_types: tuple[str, ...]
    bridges: tuple[OvsdbBridge, ...]


class OvsdbClient:
    """A connection to one OVSDB server (``unix:PATH``, ``tcp:HOST:PORT``, ``ssl:...``)."""

    def __init__(self, remote: str, timeout: float = 5.0) -> None:
        # Imported here: only a controller with an OVSDB remote needs python-ovs, which
        # imports eventlet when it is installed, and eventlet warns that it is deprecated.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
            from ovsdbapp.backend.ovs_idl import command, connection  # noqa: PLC0415
            from ovsdbapp.schema.open_vswitch import impl_idl  # noqa: PLC0415
        idl = connection.OvsdbIdl.from_server(remote, "Open_vSwitch", helper_tables=TABLES)
        self._connection = connection.Connection(idl, timeout)
        self._api = impl_idl.OvsdbIdl(self._connection)
        self._command = command.BaseCommand

    def view(self) -> OvsdbView:
        """The server's version, datapath types and bridges (those with a datapath id)."""
        system = self._api.db_list(
            "Open_vSwitch", columns=["ovs_version", "datapath_types"]
        ).execute(check_error=True)
        rows = self._api.db_list(
            "Bridge", columns=["name", "datapath_id", "datapath_type"]
        ).execute(check_error=True)
        first: dict[str, Any] = system[0] if system else {}
        bridges = tuple(
            OvsdbBridge(
                str(row["name"]),
                int(_single(row["datapath_id"]), 16),
                str(row["datapath_type"]) or "system",
            )
            for row in rows
            if _single(row["datapath_id"])
        )
        return OvsdbView(
            ovs_version=str(_single(first.get("ovs_version", ""))) or None,
            datapath_types=tuple(sorted(first.get("datapath_types", []) or [])),
            bridges=bridges,
        )

    def read(self, reader: Callable[[Mapping[str, Any]], T]) -> T:
        """``reader`` applied to the replica's tables (python-ovs ``TableSchema`` objects whose
        ``rows`` are ``Row`` objects), under the connection's lock: one consistent view."""
        with self._connection.lock:
            return reader(self._api.tables)

    def held(self, bridge: str) -> tuple[BridgeRows, frozenset[int]]:
        """The tegu_ryu rows ``bridge`` holds, and its ports whose QoS is someone else's."""
        return self.read(lambda tables: _held(tables, bridge))

    def ofports(self, bridge: str) -> frozenset[int]:
        """The OpenFlow port numbers ``bridge`` has now."""
        return self.read(lambda tables: _ofports(tables, bridge))

    def apply(self, changes: RowChanges) -> None:
        """Write ``changes`` to their bridge in one transaction (all or nothing)."""
        self._write(changes).execute(check_error=True, log_errors=False)

    def purge_orphans(self) -> int:
        """Delete tegu_ryu's QoS rows no port uses and its Queue rows no QoS uses (QoS and
        Queue are root tables: a port deleted or its QoS cleared by hand leaves them); the
        number deleted. tegu_ryu's own writes never leave any (each is one transaction)."""
        if not self.read(_orphans):
            return 0

        class Purge(self._command):  # type: ignore[name-defined,misc]
            def run_idl(self, txn: Any) -> None:
                self.result = 0
                for row in _orphans(self.api.tables):
                    row.delete()
                    self.result += 1

        return int(Purge(self._api).execute(check_error=True, log_errors=False))

    def _write(self, changes: RowChanges) -> Any:
        class Write(self._command):  # type: ignore[name-defined,misc]
            def run_idl(self, txn: Any) -> None:
                write_changes(self.api, txn, changes)

        return Write(self._api)

    def close(self) -> None:
        self._connection.stop()


def _ofports(tables: Mapping[str, Any], bridge: str) -> frozenset[int]:
    row = _bridge_row(tables, bridge)
    if row is None:
        return frozenset()
    numbers = (_single(iface.ofport) for port in row.ports for iface in port.interfaces)
    return frozenset(n for n in numbers if isinstance(n, int) and n > 0)


def _held(tables: Mapping[str, Any], bridge: str) -> tuple[BridgeRows, frozenset[int]]:
    row = _bridge_row(tables, bridge)
    if row is None:
        return BridgeRows(), frozenset()
    tunnels: set[TunnelPort] = set()
    queues: dict[int, PortQueues] = {}
    foreign: set[int] = set()
    for port in row.ports:
        iface = port.interfaces[0] if len(port.interfaces) == 1 else None
        if iface is None:
            continue
        if is_owned(port.external_ids):  # whatever its type now: it is compared, and replaced
            tunnels.add(_tunnel(port, iface))
        ofport = _single(iface.ofport)
        if not port.qos or not isinstance(ofport, int) or ofport <= 0:
            continue
        qos = port.qos[0]
        if is_owned(qos.external_ids):
            queues[ofport] = _port_queues(ofport, qos)
        else:
            foreign.add(ofport)
    return BridgeRows(frozenset(tunnels), queues), frozenset(foreign)


def write_changes(api: Any, txn: Any, changes: RowChanges) -> None:
    """Inside an ovsdbapp transaction: the row operations that carry out ``changes``."""
    bridge = _bridge_row(api.tables, changes.bridge)
    if bridge is None:
        raise LookupError(f"bridge {changes.bridge} is gone")
    ports_by_name = {port.name: port for port in bridge.ports}
    by_ofport = {  # read before new rows join: they have no ofport yet
        _single(port.interfaces[0].ofport): port
        for port in bridge.ports
        if len(port.interfaces) == 1
    }
    for name in changes.delete_tunnels:
        port = ports_by_name.get(name)
        if port is not None and is_owned(port.external_ids):
            bridge.delvalue("ports", port)
            for iface in port.interfaces:
                iface.delete()
            port.delete()
    for tunnel in changes.add_tunnels:
        iface = txn.insert(api._tables["Interface"])
        iface.name = tunnel.name
        iface.type = tunnel.kind
        iface.options = tunnel.options()
        iface.ofport_request = tunnel.ofport
        iface.external_ids = owner_tag(tunnel.reservation or None)
        port = txn.insert(api._tables["Port"])
        port.name = tunnel.name
        port.interfaces = [iface]
        port.external_ids = owner_tag(tunnel.reservation or None)
        bridge.addvalue("ports", port)
    # A port's QoS is verified: if anyone changes it before this commits, the transaction is
    # tried again on fresh data instead of overwriting their QoS.
    for ofport in changes.clear_queues:
        port = by_ofport.get(ofport)
        if port is not None:
            port.verify("qos")
            if port.qos and is_owned(port.qos[0].external_ids):
                _drop_qos(api.tables, port)
    for wanted in changes.set_queues:
        port = by_ofport.get(wanted.ofport)
        if port is None:
            continue  # gone since the sync looked: the next sync reports it
        port.verify("qos")
        if port.qos and not is_owned(port.qos[0].external_ids):
            continue  # someone else's QoS: reported, never overwritten
        if port.qos:
            _drop_qos(api.tables, port)
        queues = {}
        for queue in wanted.queues:
            row = txn.insert(api._tables["Queue"])
            row.other_config = {"min-rate": str(queue.min_rate), "max-rate": str(queue.max_rate)}
            row.external_ids = owner_tag(queue.reservation or None)
            queues[queue.queue_id] = row
        qos = txn.insert(api._tables["QoS"])
        qos.type = "linux-htb"
        qos.other_config = {"max-rate": str(wanted.max_rate)}
        qos.queues = queues
        qos.external_ids = owner_tag()
        port.qos = qos


def _orphans(tables: Mapping[str, Any]) -> list[Any]:
    used_qos = {port.qos[0].uuid for port in tables["Port"].rows.values() if port.qos}
    qos_rows = [q for q in tables["QoS"].rows.values() if is_owned(q.external_ids)]
    orphan_qos = [q for q in qos_rows if q.uuid not in used_qos]
    used_queues = {
        queue.uuid
        for qos in tables["QoS"].rows.values()
        if qos.uuid in used_qos or not is_owned(qos.external_ids)
        for queue in qos.queues.values()
    }
    orphan_queues = [
        q
        for q in tables["Queue"].rows.values()
        if is_owned(q.external_ids) and q.uuid not in used_queues
    ]
    return orphan_qos + orphan_queues


def _drop_qos(tables: Mapping[str, Any], port: Any) -> None:
    """Take tegu_ryu's QoS off ``port``; delete it and its queues unless another port (set by
    hand) still uses it (then it goes when unused: ``purge_orphans``)."""
    qos = port.qos[0]
    port.qos = []
    if any(
        other.qos and other.qos[0].uuid == qos.uuid and other.uuid != port.uuid
        for other in tables["Port"].rows.values()
    ):
        return
    for queue in qos.queues.values():
        if is_owned(queue.external_ids):
            queue.delete()
    qos.delete()


def _bridge_row(tables: Mapping[str, Any], name: str) -> Any:
    for row in tables["Bridge"].rows.values():
        if row.name == name:
            return row
    return None


def _tunnel(port: Any, iface: Any) -> TunnelPort:
    text = iface.options.get("key")
    key: int | Literal["flow"] | None = None
    if text == FLOW_KEY:
        key = FLOW_KEY
    elif text and text.isdigit():
        key = int(text)
    return TunnelPort(
        name=port.name,
        kind=iface.type,
        remote_ip=iface.options.get("remote_ip", ""),
        key=key,
        ofport=int(_single(iface.ofport_request) or 0),
        reservation=port.external_ids.get(RESERVATION_KEY, ""),
    )


def _port_queues(ofport: int, qos: Any) -> PortQueues:
    queues = tuple(
        sorted(
            QueueRow(
                int(queue_id),
                _rate(queue.other_config, "min-rate"),
                _rate(queue.other_config, "max-rate"),
                queue.external_ids.get(RESERVATION_KEY, ""),
            )
            for queue_id, queue in qos.queues.items()
        )
    )
    return PortQueues(ofport, _rate(qos.other_config, "max-rate"), queues)


def _rate(config: dict[str, str], key: str) -> int:
    value = config.get(key, "")
    return int(value) if value.isdigit() else -1


def _single(value: Any) -> Any:
    """An optional OVSDB column's value: ovsdbapp gives [] when it is unset."""
    if isinstance(value, list):
        return value[0] if value else ""
    return value
