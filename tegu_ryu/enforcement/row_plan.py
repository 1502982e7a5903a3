"""What OVSDB rows every switch should hold for the reservations active now: a pure function.

Flows are planned per reservation and compared incrementally (``desired.py``);
rows are few (a tunnel port per tunnelled mirror and per tunnel stitch point
in use, a queue set per egress port in queue mode), so they are planned
whole whenever the reservations change and compared per bridge by the OVSDB
sync (``ovsdb/watcher.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping

from tegu_ryu.enforcement.unmetered import queue_rows
from tegu_ryu.ovsdb.rows import FLOW_KEY, BridgeRows, TunnelPort
from tegu_ryu.reservations.model import (
    MirrorReservation,
    Reservation,
    State,
    StitchReservation,
)
from tegu_ryu.stitching.points import StitchPoint
from tegu_ryu.topology.refs import LinkId


def plan_rows(
    reservations: Collection[Reservation],
    queue_switches: Mapping[int, bool],
    capacity_of: Callable[[LinkId], int],
    stitch_points: Mapping[str, StitchPoint] | None = None,
) -> dict[int, BridgeRows]:
    """Per switch, the rows the active reservations need: a tunnel port for each active mirror
    whose copies are tunnelled and for each tunnel stitch point (of ``stitch_points``) with
    an active segment, and the queues of reservations crossing queue-mode switches
    (``queue_switches``: dpid -> whether queues may borrow idle capacity)."""
    tunnels: defaultdict[int, set[TunnelPort]] = defaultdict(set)
    for reservation in reservations:
        if reservation.state is not State.ACTIVE:
            continue
        if isinstance(reservation, StitchReservation):
            point = (stitch_points or {}).get(reservation.point)
            if point is not None and point.handoff.kind == reservation.handoff:
                tunnel = stitch_tunnel(point)
                if tunnel is not None:
                    tunnels[point.port.dpid].add(tunnel)
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


def stitch_tunnel(point: StitchPoint) -> TunnelPort | None:
    """The tunnel port of a GRE or VXLAN stitch point (none for VLAN): one for all its
    segments, at the configured port number, each segment's flows setting and matching its
    own key. It exists while a segment is active: an idle stitch point leaves no port that
    would take in whatever the far end sends."""
    if point.tunnel_port is None or point.handoff.remote_ip is None:
        return None
    return TunnelPort(
        point.tunnel_port,
        point.handoff.kind,
        point.handoff.remote_ip,
        FLOW_KEY,
        point.port.port,
        "",
    )
