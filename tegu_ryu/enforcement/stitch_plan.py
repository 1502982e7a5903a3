"""What the switches hold for a stitched segment: its local path, with the handoff label
put on where traffic leaves for the WAN and recognised where it arrives from it.

Per direction the segment is a bandwidth reservation's path (metered where
the traffic enters this domain, by the host's port or the stitch port).
With a VLAN handoff the hop that outputs to the stitch port pushes the VLAN
id and the hop that reads from it matches that id and pops it. With a GRE
or VXLAN handoff the stitch port is the stitch point's tunnel port (created
with ``key=flow``: ``row_plan.stitch_tunnel``): the label is the tunnel key,
set (``tunnel_id``) before the output and matched on arrival; the frame
inside the tunnel is the host's own, so nothing is pushed or popped.
``labelling`` is the one place that tells the two apart.
"""

from __future__ import annotations

from typing import NamedTuple

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


class Labelling(NamedTuple):
    """How a segment's label is carried across the stitch port."""

    arriving: dict[str, int]  # the fields that recognise the segment's traffic from the WAN
    on_arrival: tuple[Action, ...]  # what is done to it there, before the local path
    on_leaving: tuple[Action, ...]  # what is done before the output toward the WAN


def labelling(segment: StitchReservation) -> Labelling:
    """The VLAN id pushed and popped, or the tunnel key set and matched."""
    if segment.handoff == "vlan":
        tag = VLAN_PRESENT | segment.label
        return Labelling({"vlan_vid": tag}, (PopVlan(),), (PushVlan(), SetField("vlan_vid", tag)))
    return Labelling({"tunnel_id": segment.label}, (), (SetField("tunnel_id", segment.label),))


def remote_endpoint(segment: StitchReservation) -> Endpoint:
    """The far host as an endpoint of the local flows (known by what its controller said)."""
    remote = segment.remote
    return Endpoint(given=remote.given, mac=remote.mac, ip=remote.ip, attach=None)


def stitch_flows(
    segment: StitchReservation, cookie: int, meters: dict[Direction, int]
) -> list[tuple[int, Flow]]:
    """(switch, flow) for every hop of both directions of ``segment``."""
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
    label = labelling(segment)
    stitch = segment.port
    result = []
    for fields in classifiers(sender, receiver, Match()):
        for index, hop in enumerate(route.hops):
            hop_fields = dict(fields)
            actions: tuple[Action, ...] = ()
            if hop.dpid == stitch.dpid and hop.in_port == stitch.port:
                hop_fields.update(label.arriving)
                actions = label.on_arrival
            assert hop.out_port is not None  # both ends are switch ports
            if hop.dpid == stitch.dpid and hop.out_port == stitch.port:
                actions = (*actions, *label.on_leaving)
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
