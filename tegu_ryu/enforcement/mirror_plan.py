"""What switches hold for a mirror, and how a mirror's switch sends packets to its mirror table.

On the mirrored switch, every flow that may carry a selected packet also
continues to the mirror table (2), with the port it sent the packet out of
written as metadata (``selecting``); the flow's own match, actions and meter
are untouched, so mirrored traffic is forwarded exactly as before. In the
mirror table the mirror's entries pick what it selects (``in_port`` for
received packets, the metadata for sent ones, plus its VLAN and traffic
filters), meter the copy at the mirror's rate when it has one, and send the
copy on: straight out of the collector's port when the collector is on the
same switch, otherwise tagged with the mirror's VLAN id onto the first link
of its path. Every further switch of the path forwards the tagged copy by
``in_port`` and tag in table 0 above everything else (so a copy is never
forwarded by its addresses, never reaches the mirrored hosts and is never
mirrored again), and the collector's switch removes the tag. Anything else
that reaches the mirror table is dropped there; the original has already
left.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from tegu_ryu.openflow.flows import (
    ICMPV6,
    IP_PROTOCOLS,
    OFPP_IN_PORT,
    Action,
    Flow,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    Table,
    match,
)
from tegu_ryu.reservations.model import MirrorReservation

MIRROR_PRIORITY = 1000  # + number of match fields, in the mirror table
COPY_PRIORITY = 60000  # copies in transit, in table 0: above every reservation and base flow
VLAN_PRESENT = 0x1000


@dataclass(frozen=True)
class Selection:
    """The ports of one switch whose packets some active mirror selects."""

    ingress: frozenset[int] = frozenset()
    egress: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.ingress or self.egress)


def selections(mirrors: Iterable[MirrorReservation]) -> dict[int, Selection]:
    """Per switch, the ports the given (active, routed) mirrors select."""
    ingress: defaultdict[int, set[int]] = defaultdict(set)
    egress: defaultdict[int, set[int]] = defaultdict(set)
    for mirror in mirrors:
        for choice in mirror.ports:
            if mirror.direction.ingress:
                ingress[mirror.switch].add(choice.port.port)
            if mirror.direction.egress:
                egress[mirror.switch].add(choice.port.port)
    return {
        dpid: Selection(frozenset(ingress[dpid]), frozenset(egress[dpid]))
        for dpid in set(ingress) | set(egress)
    }


def selecting(flow: Flow, selection: Selection) -> Flow:
    """``flow`` as it must be on a switch with ``selection``: continuing to the mirror table
    when it may carry a selected packet, as it is otherwise."""
    if flow.goto is not None and flow.goto != Table.MIRROR:
        return flow
    if flow.table == Table.MIRROR or (
        flow.table == Table.RESERVATIONS and flow.priority >= COPY_PRIORITY - 1
    ):
        return flow  # a copy is never mirrored again (nor is a guard: it outputs nothing)
    plain = unselecting(flow)
    outputs = flow.output_ports()
    if not outputs or not selection:
        return plain
    in_port = dict(flow.match).get("in_port")
    received = (
        bool(selection.ingress)
        if flow.table == Table.FORWARDING
        else flow.table == Table.RESERVATIONS and in_port in selection.ingress
    )
    sent = any(port in selection.egress for port in outputs)
    if not (received or sent):
        return plain
    return replace(plain, goto=Table.MIRROR, metadata=outputs[0])


def unselecting(flow: Flow) -> Flow:
    """``flow`` without the mirror table continuation ``selecting`` may have added."""
    if flow.goto == Table.MIRROR:
        return replace(flow, goto=None, metadata=None)
    return flow


def mirror_flows(
    mirror: MirrorReservation, cookie: int, meter: int | None
) -> dict[int, list[Flow]]:
    """The mirror table entries on the mirrored switch and the copy's path, per switch."""
    route = mirror.route
    if route is None:
        return {}
    flows: dict[int, list[Flow]] = defaultdict(list)
    first = route.hops[0]
    tag = VLAN_PRESENT | mirror.tag
    for fields in _selected(mirror, first.out_port):
        flows[mirror.switch].append(
            Flow(
                priority=MIRROR_PRIORITY + len(fields),
                match=match(**fields),
                actions=_copy_actions(
                    first.out_port, fields.get("in_port"), None if len(route.hops) == 1 else tag
                ),
                cookie=cookie,
                table=Table.MIRROR,
                meter=meter,
                until=mirror.window.end,
                description=f"mirror {mirror.id}: copy",
            )
        )
    for index, hop in enumerate(route.hops[1:], start=1):
        assert hop.out_port is not None
        last = index == len(route.hops) - 1
        actions: tuple[Action, ...] = (
            (PopVlan(), Output(hop.out_port)) if last else (Output(hop.out_port),)
        )
        flows[hop.dpid].append(
            Flow(
                priority=COPY_PRIORITY,
                match=match(in_port=hop.in_port, vlan_vid=tag),
                actions=actions,
                cookie=cookie,
                table=Table.RESERVATIONS,
                until=mirror.window.end,
                description=f"mirror {mirror.id}: copy in transit, hop {index}",
            )
        )
    return flows


def guard_flows(
    switch_ids: Iterable[int],
    mirrors: Iterable[MirrorReservation],
    cookie_of: Callable[[MirrorReservation], int],
) -> dict[int, list[Flow]]:
    """On every switch, drop frames carrying a live mirror's tag that are not its copies.

    A host could send frames with that tag; once past its own switch they
    would look like copies and reach the collector. The copies' own entries
    are one priority higher, on the ports they arrive at. The guards carry
    the mirror's cookie (``cookie_of``): they come and go with it.
    """
    switches = list(switch_ids)
    guards: dict[int, list[Flow]] = {dpid: [] for dpid in switches}
    for mirror in mirrors:
        if mirror.route is None or len(mirror.route.hops) == 1:
            continue  # no copy crosses a link between switches: no tag is in use
        guard = Flow(
            priority=COPY_PRIORITY - 1,
            match=match(vlan_vid=VLAN_PRESENT | mirror.tag),
            actions=(),
            cookie=cookie_of(mirror),
            table=Table.RESERVATIONS,
            until=mirror.window.end,
            description=f"mirror {mirror.id}: frames with its tag that are not its copies",
        )
        for dpid in switches:
            guards[dpid].append(guard)
    return {dpid: flows for dpid, flows in guards.items() if flows}


def _copy_actions(
    out_port: int | None, in_port: int | str | None, tag: int | None
) -> tuple[Action, ...]:
    """Send the copy out of ``out_port``, tagged with ``tag`` when it crosses a link.

    A packet that arrived on ``out_port`` itself must leave by ``OFPP_IN_PORT``:
    a switch drops a plain output to the port a packet came in by.
    """
    if out_port is None:
        return ()
    output = Output(OFPP_IN_PORT if in_port == out_port else out_port)
    return (output,) if tag is None else (PushVlan(), SetField("vlan_vid", tag), output)


def _selected(mirror: MirrorReservation, out_port: int | None) -> list[dict[str, int | str]]:
    """The mirror table matches: each selected port and way, times each traffic filter.

    A sent packet may have come in by ``out_port``, the copy's way out; it gets
    an entry of its own that matches that ``in_port`` (one field more, so one
    priority higher), whose copy leaves by ``OFPP_IN_PORT``.
    """
    ways: list[dict[str, int | str]] = []
    for choice in mirror.ports:
        if mirror.direction.ingress:
            ways.append({"in_port": choice.port.port})
        if mirror.direction.egress:
            ways.append({"metadata": choice.port.port})
            if out_port is not None and out_port != choice.port.port:
                ways.append({"metadata": choice.port.port, "in_port": out_port})
    return [{**way, **traffic} for way in ways for traffic in _filters(mirror)]


def _filters(mirror: MirrorReservation) -> list[dict[str, int | str]]:
    """OXM fields for the mirror's VLAN and traffic filters (one entry when there are none)."""
    base: dict[str, int | str] = {}
    for key, endpoint in (("src", mirror.src), ("dst", mirror.dst)):
        if endpoint is None:
            continue
        if endpoint.ip is not None:
            family = ipaddress.ip_address(endpoint.ip).version
            base["eth_type"] = 0x0800 if family == 4 else 0x86DD
            base[f"ipv{family}_{key}"] = endpoint.ip
        elif endpoint.mac is not None:
            base[f"eth_{key}"] = endpoint.mac
    traffic = mirror.match
    protocols: list[str | None] = [traffic.protocol]
    if traffic.protocol is None and (traffic.src_port, traffic.dst_port) != (None, None):
        protocols = ["tcp", "udp"]
    with_protocol = []
    for protocol in protocols:
        fields = dict(base)
        if protocol is not None:
            fields.setdefault("eth_type", 0x0800)
            number = IP_PROTOCOLS[protocol]
            fields["ip_proto"] = ICMPV6 if number == 1 and fields["eth_type"] == 0x86DD else number
            if traffic.src_port is not None:
                fields[f"{protocol}_src"] = traffic.src_port
            if traffic.dst_port is not None:
                fields[f"{protocol}_dst"] = traffic.dst_port
        with_protocol.append(fields)
    if not mirror.vlans:
        return with_protocol
    return [
        {**fields, "vlan_vid": VLAN_PRESENT | vlan}
        for fields in with_protocol
        for vlan in mirror.vlans
    ]
