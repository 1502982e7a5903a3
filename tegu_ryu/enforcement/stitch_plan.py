"""What the switches hold for a stitched segment: its local path, with the handoff label
pushed where traffic leaves for the WAN and popped where it arrives from it.

Per direction the segment is a bandwidth reservation's path (metered where
the traffic enters this domain, by the host's port or the stitch port);
the hop that outputs to the stitch port pushes the VLAN id, the hop that
reads from it matches that VLAN id and pops it. Tunnel handoffs (GRE,
VXLAN) are booked but not yet put on the switches: ``enforced`` says so.
"""

from __future__ import annotations

from tegu_ryu.enforcement.classify import RESERVATION_PRIORITY, classifiers
from tegu_ryu.enforcement.mirror_plan import VLAN_PRESENT
from tegu_ryu.openflow.flows import Action, Flow, Output, PopVlan, PushVlan, SetField, Table, match
from tegu_ryu.reservations.model import (
    Direction,
    Endpoint,
    Match,
    Route,
    StitchReservation,
    StitchRole,
)


def enforced(segment: StitchReservation) -> bool:
    """Whether this version can put the segment's handoff on the switches (VLAN only)."""
    return segment.handoff == "vlan"


def remote_endpoint(segment: StitchReservation) -> Endpoint:
    """The far host as an endpoint of the local flows (known by what its controller said)."""
    remote = segment.remote
    return Endpoint(given=remote.given, mac=remote.mac, ip=remote.ip, attach=None)


def stitch_flows(
    segment: StitchReservation, cookie: int, meters: dict[Direction, int]
) -> list[tuple[int, Flow]]:
    """(switch, flow) for every hop of both directions of ``segment``."""
    if not enforced(segment):
        return []
    local, remote = segment.local, remote_endpoint(segment)
    origin = segment.role is StitchRole.ORIGIN
    ends = {
        Direction.OUT: (local, remote) if origin else (remote, local),
        Direction.IN: (remote, local) if origin else (local, remote),
    }
    return [
        flow
        for direction, route in segment.routes.items()
        for flow in _direction_flows(segment, route, ends[direction], cookie, meters[direction])
    ]


def _direction_flows(
    segment: StitchReservation,
    route: Route,
    ends: tuple[Endpoint, Endpoint],
    cookie: int,
    meter: int,
) -> list[tuple[int, Flow]]:
    sender, receiver = ends
    tag = VLAN_PRESENT | segment.label
    stitch = segment.port
    result = []
    for fields in classifiers(sender, receiver, Match()):
        for index, hop in enumerate(route.hops):
            hop_fields = dict(fields)
            actions: tuple[Action, ...] = ()
            if hop.dpid == stitch.dpid and hop.in_port == stitch.port:
                hop_fields["vlan_vid"] = tag
                actions = (PopVlan(),)
            assert hop.out_port is not None  # both ends are switch ports
            if hop.dpid == stitch.dpid and hop.out_port == stitch.port:
                actions = (*actions, PushVlan(), SetField("vlan_vid", tag))
            result.append(
                (
                    hop.dpid,
                    Flow(
                        priority=RESERVATION_PRIORITY + len(hop_fields) + 1,
                        match=match(**hop_fields, in_port=hop.in_port),
                        actions=(*actions, Output(hop.out_port)),
                        cookie=cookie,
                        table=Table.RESERVATIONS,
                        meter=meter if index == 0 else None,
                        until=segment.window.end,
                        description=f"stitched {segment.id} label {segment.label} hop {index}",
                    ),
                )
            )
    return result
