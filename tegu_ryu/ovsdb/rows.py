"""The OVSDB rows tegu_ryu owns, as values: what a bridge should hold, what it holds, and the
difference.

Flows are found again by their cookie; OVSDB rows by ``external_ids``: every
row tegu_ryu creates carries ``tegu-owner=tegu_ryu`` and the id of the
reservation it serves, and rows without that tag are never changed or
deleted. Two kinds of rows exist:

* a **tunnel port** (``Port`` + ``Interface`` of type ``gre`` or ``vxlan``)
  that a mirror sends its copies into, at an OpenFlow port number chosen at
  admission (``ofport_request``) so that flows can name it before it exists,
  or that carries a WAN stitch point's reservations, at the number its
  configuration gives and with ``key=flow`` (each reservation's flows set
  and match their own key);
* a **queue set** on an egress port (``QoS`` of type ``linux-htb`` whose
  max-rate is the link's capacity, and one ``Queue`` per reservation with its
  min- and max-rate), for switches that enforce with queues.

``row_changes`` compares the desired rows of one bridge with those read back
and returns the changes that make them equal; nothing when they already are,
so a restart with nothing changed writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

OWNER_KEY = "tegu-owner"
OWNER = "tegu_ryu"
RESERVATION_KEY = "tegu-reservation"
TUNNEL_KINDS = ("gre", "vxlan")
PORT_PREFIX = "tegu-"  # the names of the ports tegu_ryu creates (the topology leaves them out)
FLOW_KEY: Final = "flow"  # a tunnel key that flows set (set_field to tunnel_id) and match


def owner_tag(reservation: str | None = None) -> dict[str, str]:
    """The ``external_ids`` that mark a row as tegu_ryu's, serving ``reservation`` (a QoS row
    serves every reservation queued on its port, and names none)."""
    tag = {OWNER_KEY: OWNER}
    if reservation is not None:
        tag[RESERVATION_KEY] = reservation
    return tag


def is_owned(external_ids: Mapping[str, str]) -> bool:
    return external_ids.get(OWNER_KEY) == OWNER


@dataclass(frozen=True, order=True)
class TunnelPort:
    """A port that encapsulates what is sent out of it toward ``remote_ip``, with a fixed
    ``key``, none, or the one each flow sets (``FLOW_KEY``). ``reservation`` is the one it
    serves; empty for a port shared by many (a stitch point's)."""

    name: str
    kind: str  # gre | vxlan
    remote_ip: str
    key: int | Literal["flow"] | None
    ofport: int
    reservation: str

    def options(self) -> dict[str, str]:
        options = {"remote_ip": self.remote_ip}
        if self.key is not None:
            options["key"] = str(self.key)
        return options


@dataclass(frozen=True, order=True)
class QueueRow:
    """One reservation's share of an egress port: at least ``min_rate``, at most ``max_rate``
    (bit/s), selected by flows with ``set_queue:queue_id``."""

    queue_id: int
    min_rate: int
    max_rate: int
    reservation: str


@dataclass(frozen=True)
class PortQueues:
    """The linux-htb QoS of one egress port (by OpenFlow port number) and its queues; queue 0,
    the default, is best effort and is left to the QoS (it takes what the others leave)."""

    ofport: int
    max_rate: int
    queues: tuple[QueueRow, ...]


@dataclass(frozen=True)
class BridgeRows:
    """What one bridge should hold, or holds, of tegu_ryu's rows."""

    tunnels: frozenset[TunnelPort] = frozenset()
    queues: Mapping[int, PortQueues] = field(default_factory=dict)  # by OpenFlow port

    def __bool__(self) -> bool:
        return bool(self.tunnels or self.queues)


@dataclass(frozen=True)
class RowChanges:
    """What to write to one bridge, all in one OVSDB transaction."""

    bridge: str
    add_tunnels: tuple[TunnelPort, ...] = ()
    delete_tunnels: tuple[str, ...] = ()  # port names
    set_queues: tuple[PortQueues, ...] = ()  # created, or replaced whole
    clear_queues: tuple[int, ...] = ()  # OpenFlow ports whose tegu QoS goes

    def __bool__(self) -> bool:
        return bool(self.add_tunnels or self.delete_tunnels or self.set_queues or self.clear_queues)

    def __len__(self) -> int:
        return (
            len(self.add_tunnels)
            + len(self.delete_tunnels)
            + len(self.set_queues)
            + len(self.clear_queues)
        )


def row_changes(
    bridge: str, desired: BridgeRows, held: BridgeRows, foreign_qos: frozenset[int] = frozenset()
) -> RowChanges:
    """The changes that make ``bridge`` hold ``desired`` given what it ``held`` when read.

    A tunnel port that differs in anything is replaced (deleted and added in
    the same transaction). Queues are not set on a port whose QoS belongs to
    someone else (``foreign_qos``): that is reported by the caller, not
    overwritten.
    """
    held_by_name = {tunnel.name: tunnel for tunnel in held.tunnels}
    wanted_by_name = {tunnel.name: tunnel for tunnel in desired.tunnels}
    add = tuple(
        sorted(
            (t for name, t in wanted_by_name.items() if held_by_name.get(name) != t),
            key=lambda t: t.name,
        )
    )
    delete = tuple(
        sorted(name for name, tunnel in held_by_name.items() if wanted_by_name.get(name) != tunnel)
    )
    set_queues = tuple(
        queues
        for port, queues in sorted(desired.queues.items())
        if port not in foreign_qos and held.queues.get(port) != queues
    )
    clear = tuple(sorted(port for port in held.queues if port not in desired.queues))
    return RowChanges(bridge, add, delete, set_queues, clear)


def rows_to_wire(rows: BridgeRows) -> dict[str, Any]:
    """``rows`` as plain lists and numbers (msgpack or JSON), for an agent that writes them."""
    return {
        "tunnels": [
            [t.name, t.kind, t.remote_ip, t.key, t.ofport, t.reservation]
            for t in sorted(rows.tunnels, key=lambda t: t.name)
        ],
        "queues": [
            [
                q.ofport,
                q.max_rate,
                [[r.queue_id, r.min_rate, r.max_rate, r.reservation] for r in q.queues],
            ]
            for _, q in sorted(rows.queues.items())
        ],
    }


def rows_from_wire(value: Any) -> BridgeRows:
    """The inverse of ``rows_to_wire``; ``ValueError`` for anything else."""
    try:
        tunnels = frozenset(
            TunnelPort(
                str(name),
                str(kind),
                str(ip),
                _key(key),
                int(ofport),
                str(res),
            )
            for name, kind, ip, key, ofport, res in value["tunnels"]
        )
        queues = {
            int(ofport): PortQueues(
                int(ofport),
                int(max_rate),
                tuple(sorted(QueueRow(int(a), int(b), int(c), str(d)) for a, b, c, d in entries)),
            )
            for ofport, max_rate, entries in value["queues"]
        }
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"not a set of OVSDB rows: {exc}") from exc
    if any(t.kind not in TUNNEL_KINDS for t in tunnels):
        raise ValueError("a tunnel port must be gre or vxlan")
    return BridgeRows(tunnels, queues)


def _key(value: Any) -> int | Literal["flow"] | None:
    if value is None:
        return None
    if value == FLOW_KEY:
        return FLOW_KEY
    if isinstance(value, str):
        raise ValueError(f"a tunnel key is a number or {FLOW_KEY!r}, not {value!r}")
    return int(value)
