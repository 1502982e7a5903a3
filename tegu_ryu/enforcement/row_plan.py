"""What OVSDB rows every switch should hold for the reservations active now: a pure function.

Flows are planned per reservation and compared incrementally (``desired.py``);
rows are few (a tunnel port per tunnelled mirror, a queue set per egress port
in queue mode), so they are planned whole whenever the reservations change
and compared per bridge by the OVSDB sync (``ovsdb/watcher.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping

from tegu_ryu.enforcement.unmetered import queue_rows
from tegu_ryu.ovsdb.rows import BridgeRows, TunnelPort
from tegu_ryu.reservations.model import MirrorReservation, Reservation, State
from tegu_ryu.topology.refs import LinkId


def plan_rows(
    reservations: Collection[Reservation],
    queue_switches: Mapping[int, bool],
    capacity_of: Callable[[LinkId], int],
) -> dict[int, BridgeRows]:
    """Per switch, the rows the active reservations need: a tunnel port for each active mirror
    whose copies are tunnelled, and the queues of reservations crossing queue-mode switches
    (``queue_switches``: dpid -> whether queues may borrow idle capacity)."""
    tunnels: defaultdict[int, set[TunnelPort]] = defaultdict(set)
    for reservation in reservations:
        if reservation.state is not State.ACTIVE:
            continue
        if isinstance(reservation, MirrorReservation) and reservation.tunnel is not None:
            sink = reservation.tunnel
            tunnels[reservation.switch].add(
                TunnelPort(
                    str(reservation.tunnel_port),
                    sink.kind,
                    sink.remote_ip,
                    sink.key,
                    sink.ofport,
                    reservation.id,
                )
            )
    queues = queue_rows(reservations, queue_switches, capacity_of) if queue_switches else {}
    return {
        dpid: BridgeRows(
            frozenset(tunnels.get(dpid, ())),
            queues[dpid].queues if dpid in queues else {},
        )
        for dpid in set(tunnels) | set(queues)
    }
