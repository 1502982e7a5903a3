"""Reservations on switches that do not enforce with meters: queues, or DSCP marks only.

The planners write every reservation for the meter backend. On a switch in
**queue** mode (``enforcement/backends.py``) its entries instead pick the
reservation's queue (``set_queue``) before every output, and carry no meter:
a linux-htb ``Queue`` on each egress port guarantees the reserved rate
(min-rate) and caps it (max-rate: the reserved rate, or the link's capacity
with ``queue_borrow``), and best-effort traffic is left in the port's default
queue (queue 0, guaranteed what the reservations leave, up to the link's
capacity; without a queue 0 HTB would send unclassified traffic unshaped,
ahead of every reservation), so no best-effort meters either. The queues
are OVSDB rows (``queue_rows``), written by the OVSDB sync. On a switch
in **dscp** mode a bandwidth reservation's traffic is marked where it
enters (its own ``dscp``, else ``DEFAULT_DSCP``) and nothing is policed: the
network beyond is trusted to honour the mark.

A queue's id on a port is derived from the reservation's serial, so the
flows of one reservation can be planned without looking at the others; two
reservations active on one port whose serials collide share one queue, sized
for both (guaranteed together, never lost).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from tegu_ryu.openflow.flows import Action, Flow, Output, SetField, SetQueue
from tegu_ryu.ovsdb.rows import BridgeRows, PortQueues, QueueRow
from tegu_ryu.reservations.model import BandwidthReservation, Reservation, State
from tegu_ryu.topology.refs import HOST_SIDE, LinkId

QUEUES, DSCP = "queues", "dscp"
QUEUE_IDS = 0xF000 - 1  # linux-htb in OVS takes queue ids below 0xf000; 0 is the default
BEST_EFFORT_QUEUE = 0  # what no flow picks a queue for: without it HTB would not shape it
DEFAULT_DSCP = 34  # AF41: what a reservation is marked with on a dscp switch unless it says
IP_TYPES = (0x0800, 0x86DD)


def queue_id(reservation: Reservation) -> int:
    """The reservation's queue on every queue-mode port it crosses (1 .. 0xefff)."""
    return 1 + reservation.serial % QUEUE_IDS


def unmetered_flow(flow: Flow, mode: str, reservation: Reservation, dscp: int | None) -> Flow:
    """A reservation's entry as a switch in ``mode`` (queues or dscp) holds it."""
    if mode == QUEUES:
        actions: list[Action] = []
        for action in flow.actions:
            if isinstance(action, Output):
                actions.append(SetQueue(queue_id(reservation)))
            actions.append(action)
        return replace(flow, actions=tuple(actions), meter=None)
    if flow.meter is None:  # marked where it enters (the entry that held its meter) only
        return flow
    if dscp is None and not isinstance(reservation, BandwidthReservation):
        return replace(flow, meter=None)  # a mirror's copy or a chain: not rewritten
    marked = any(isinstance(a, SetField) and a.field == "ip_dscp" for a in flow.actions)
    fields = dict(flow.match)
    if marked or fields.get("eth_type") not in IP_TYPES:
        return replace(flow, meter=None)
    mark = SetField("ip_dscp", DEFAULT_DSCP if dscp is None else dscp)
    return replace(flow, actions=(mark, *flow.actions), meter=None)


def queue_rows(
    reservations: Iterable[Reservation],
    queue_switches: Mapping[int, bool],
    capacity_of: Callable[[LinkId], int],
) -> dict[int, BridgeRows]:
    """Per queue-mode switch (``queue_switches``: dpid -> borrow), the queues of the active
    reservations on its egress ports, each port's QoS capped at the link's capacity."""
    shares: defaultdict[tuple[int, int], dict[int, QueueRow]] = defaultdict(dict)
    capacity: dict[tuple[int, int], int] = {}
    for reservation in reservations:
        if reservation.state is not State.ACTIVE:
            continue
        for direction, link in reservation.bookings():
            rate = reservation.rate(direction)
            if link.src == HOST_SIDE or link.src.dpid not in queue_switches or not rate:
                continue
            egress = (link.src.dpid, link.src.port)
            capacity[egress] = capacity_of(link)
            most = capacity[egress] if queue_switches[link.src.dpid] else rate
            wanted = QueueRow(queue_id(reservation), rate, most, reservation.id)
            held = shares[egress].get(wanted.queue_id)
            if held is not None:  # serials that collide: one queue for both
                wanted = QueueRow(
                    held.queue_id,
                    held.min_rate + rate,
                    min(capacity[egress], held.max_rate + most),
                    held.reservation,
                )
            shares[egress][wanted.queue_id] = wanted
    by_switch: defaultdict[int, dict[int, PortQueues]] = defaultdict(dict)
    for (dpid, port), queues in shares.items():
        most = capacity[(dpid, port)]
        reserved = sum(queue.min_rate for queue in queues.values())
        best_effort = QueueRow(BEST_EFFORT_QUEUE, max(0, most - reserved), most, "")
        by_switch[dpid][port] = PortQueues(port, most, (best_effort, *sorted(queues.values())))
    return {dpid: BridgeRows(queues=queues) for dpid, queues in by_switch.items()}
