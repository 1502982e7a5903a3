"""Admission of mirrors: which ports, whose they are, the copy's path, and what it books.

A mirror copies the traffic of some ports of one switch to a collector port
anywhere in the fabric. Admission resolves the ports (hosts, or ``DPID:PORT``
for admins), checks that the tenant owns every host it names (the static
topology's ``tenant`` of a host), finds the copy's path from the mirrored
switch to the collector, and, when the mirror has a ``bandwidth``, books that
path and the collector's port over the window (409 naming the link when it
does not fit), exactly as a bandwidth reservation is booked. Each mirror gets
a VLAN id from ``MirrorSettings.tags`` that marks its copies on fabric links.

Two live mirrors whose windows overlap may not both select one packet on one
switch (the switch's mirror table copies a packet once), so a mirror is
refused (409 ``mirror_conflict``) when another one on the same switch selects
the same port in the same direction, or one selects received and the other
sent packets there.

A mirror whose output is a tunnel sends its copies into a GRE or VXLAN port
that tegu_ryu creates on the mirrored switch; the remote address must lie in
``MirrorSettings.allowed_remotes`` (none by default: copies of tenants'
traffic leave the network only where the operator said they may), and the
port's OpenFlow number is chosen now so that the flows can name it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace

from tegu_ryu.errors import Conflict, Forbidden, InvalidField, NotFound
from tegu_ryu.reservations.engine import Engine
from tegu_ryu.reservations.mirror_requests import MirrorRequest, TunnelRequest
from tegu_ryu.reservations.model import (
    MirrorReservation,
    PortChoice,
    Route,
    State,
    TunnelSink,
    cookie_digest,
)
from tegu_ryu.reservations.paths import Hop
from tegu_ryu.reservations.refusals import clash
from tegu_ryu.reservations.window import Window
from tegu_ryu.tenancy import Principal
from tegu_ryu.topology.refs import PortRef, RefError, dpid_str, parse_port_ref

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MirrorSettings:
    """``min_duration``: the shortest window a mirror may have (seconds); ``tags``: the VLAN
    ids reserved for copies on fabric links (traffic tagged with them is not the tenants');
    ``unbounded``: how long Tegu's ``"end_time": "unbounded"`` lasts (seconds)."""

    min_duration: float = 60.0
    tags: range = range(3000, 4095)
    unbounded: float = 365 * 86400.0
    allowed_remotes: tuple[Network, ...] = ()  # where tunnelled copies may go
    labels: dict[str, TunnelRequest] = field(default_factory=dict)  # Tegu's label:NAME
    tunnel_ports: range = range(64000, 65280)  # OpenFlow numbers of tegu's tunnel ports


def admit_mirror(
    engine: Engine,
    now: float,
    principal: Principal,
    request: MirrorRequest,
    settings: MirrorSettings,
) -> MirrorReservation:
    """Admit and book ``request`` for ``principal``, or raise saying why (nothing changes)."""
    ports = tuple(
        resolve_port(engine, principal, given, f"ports[{n}]")
        for n, given in enumerate(request.ports)
    )
    switches = sorted({choice.port.dpid for choice in ports})
    if len(switches) > 1:
        raise InvalidField(
            "ports",
            f"a mirror's ports must be on one switch; these are on {len(switches)} "
            f"({', '.join(dpid_str(s) for s in switches)}): make one mirror per switch",
        )
    tunnel: TunnelSink | None = None
    if isinstance(request.output, TunnelRequest):
        tunnel = _tunnel_sink(engine, request.output, settings)
        output = PortChoice(request.output.describe(), PortRef(switches[0], tunnel.ofport))
    else:
        output = resolve_port(engine, principal, request.output, "output")
    if output.port in {choice.port for choice in ports}:
        raise InvalidField("output", f"{request.output} is one of the mirrored ports")
    if engine.topology.is_link_port(output.port):
        raise InvalidField(
            "output",
            f"{request.output} is a port between switches; the collector must be on an edge port",
        )
    src = (
        None if request.src is None else engine.resolve(request.src, "match.src", external_ok=True)
    )
    dst = (
        None if request.dst is None else engine.resolve(request.dst, "match.dst", external_ok=True)
    )
    if src is not None and dst is not None and _family(src.ip) != _family(dst.ip):
        raise InvalidField("match.dst", "src and dst must both be IPv4, both IPv6, or hosts")
    for n, vlan in enumerate(request.vlans):
        if vlan in settings.tags:
            raise InvalidField(f"vlan[{n}]", reserved_vlan_words(settings.tags))
    candidate = MirrorReservation(
        id="",
        owner=principal.tenant,
        window=request.window,
        created=now,
        state=State.PENDING,
        name=request.name,
        ports=ports,
        direction=request.direction,
        output=output,
        vlans=request.vlans,
        match=request.match,
        src=src,
        dst=dst,
        bandwidth=request.bandwidth,
        cookie_digest=None if request.cookie is None else cookie_digest(request.cookie),
        tunnel=tunnel,
    )
    _refuse_clashes(engine, candidate)
    route = (
        engine.copy_route(
            principal.tenant, request.window, switches[0], output.port, request.bandwidth or 0
        )
        if tunnel is None
        else Route((Hop(switches[0], 0, tunnel.ofport),), ())
    )
    tag = _free_tag(engine, request.window, settings.tags)
    return engine.admitted(now, replace(candidate, route=route, tag=tag))


def modify_mirror(
    engine: Engine,
    now: float,
    mirror: MirrorReservation,
    change: tuple[float | None, int | None],
    settings: MirrorSettings,
) -> MirrorReservation:
    """A new end and/or copy bandwidth (``change``), admitted without counting the mirror
    against itself; a longer window must still clash with no other mirror."""
    end, bandwidth = change
    window = engine.changed_window(mirror, end)
    if window.end - window.start < settings.min_duration:
        raise InvalidField(
            "end", f"a mirror lasts at least {settings.min_duration:g} s (mirror_min_duration)"
        )
    _refuse_clashes(engine, replace(mirror, window=window))
    tag = mirror.tag
    if tag in _tags_in_use(engine, window, but=mirror.id):
        tag = _free_tag(engine, window, settings.tags, but=mirror.id)
    rate = bandwidth if bandwidth is not None else mirror.bandwidth
    route = (
        engine.without_itself(
            mirror.id,
            lambda: engine.copy_route(
                mirror.owner, window, mirror.switch, mirror.output.port, rate or 0
            ),
        )
        if mirror.tunnel is None
        else mirror.route
    )
    changed = replace(mirror, window=window, bandwidth=rate, route=route, tag=tag, reason=None)
    return engine.rebooked(now, changed)


def resolve_port(engine: Engine, principal: Principal, given: str, field: str) -> PortChoice:
    """A host's attachment port, or ``DPID:PORT`` (admins only); 404 for neither.

    Tenants name hosts, and only hosts whose ``tenant`` (static topology) is theirs.
    """
    try:
        endpoint = engine.resolve(given, field, external_ok=False)
    except NotFound:
        endpoint = None
    if endpoint is not None and endpoint.attach is not None:
        host = engine.topology.host_by_mac(endpoint.mac or "")
        if not principal.admin and (host is None or host.tenant != principal.tenant):
            raise Forbidden(
                f"{field}: {given} is not a host of tenant {principal.tenant} "
                "(a host's tenant is set in the static topology)"
            )
        return PortChoice(given, endpoint.attach)
    try:
        port = parse_port_ref(given)
    except RefError:
        port = None
    if port is None or port.dpid not in engine.topology.switch_ids():
        raise NotFound(
            f"{field} {given!r} is neither a host the controller knows nor a port of a known "
            "switch (DPID:PORT)",
            code="unknown_endpoint",
            details={"field": field},
        )
    if not principal.admin:
        raise Forbidden(f"{field}: only admins may name a port by DPID:PORT; name a host")
    return PortChoice(given, port)


def _tunnel_sink(engine: Engine, request: TunnelRequest, settings: MirrorSettings) -> TunnelSink:
    """The tunnel port for a mirror toward ``request.remote_ip``, if copies may go there."""
    address = ipaddress.ip_address(request.remote_ip)
    if not any(address in network for network in settings.allowed_remotes):
        allowed = ", ".join(str(n) for n in settings.allowed_remotes) or "none are configured"
        raise Forbidden(
            f"output: copies may be tunnelled only to addresses in mirror_allowed_remotes "
            f"({allowed}); {request.remote_ip} is not one",
            details={"field": "output.remote_ip"},
        )
    used = {
        other.tunnel.ofport
        for other in engine.reservations.values()
        if isinstance(other, MirrorReservation) and other.tunnel and not other.state.final
    }
    for ofport in settings.tunnel_ports:
        if ofport not in used:
            return TunnelSink(request.kind, request.remote_ip, request.key, ofport)
    raise Conflict(
        f"every tunnel port number for mirrors ({settings.tunnel_ports.start}-"
        f"{settings.tunnel_ports.stop - 1}) is taken by a live mirror",
        code="no_tunnel_port",
    )


def _refuse_clashes(engine: Engine, candidate: MirrorReservation) -> None:
    """409 for a duplicate (same ports, direction and collector) or a clash on one switch."""
    ports = {choice.port for choice in candidate.ports}
    for other in engine.reservations.values():
        if (
            not isinstance(other, MirrorReservation)
            or other.id == candidate.id
            or other.state.final
            or other.switch != candidate.switch
            or not other.window.overlaps(candidate.window)
        ):
            continue
        theirs = {choice.port for choice in other.ports}
        if (
            other.owner == candidate.owner
            and theirs == ports
            and other.direction is candidate.direction
            and other.output.port == candidate.output.port
        ):
            raise Conflict(
                f"duplicates mirror {other.id} (same ports, direction and collector, "
                "overlapping window)",
                code="duplicate",
                details={"reservation": other.id},
            )
        shared = (ports & theirs) and (
            (candidate.direction.ingress and other.direction.ingress)
            or (candidate.direction.egress and other.direction.egress)
        )
        crossed = (candidate.direction.ingress and other.direction.egress) or (
            candidate.direction.egress and other.direction.ingress
        )
        if shared or crossed:
            raise clash(
                other,
                candidate.owner,
                "mirror",
                f"already selects traffic on switch {dpid_str(other.switch)} over an overlapping "
                "window; one switch copies a packet to one collector",
                "mirror_conflict",
            )


def reserved_vlan_words(tags: range) -> str:
    return (
        f"VLAN ids {tags.start}-{tags.stop - 1} mark mirror copies between switches "
        "(mirror_vlans); traffic must not use them"
    )


def _tags_in_use(engine: Engine, window: Window, but: str = "") -> set[int]:
    return {
        other.tag
        for other in engine.reservations.values()
        if isinstance(other, MirrorReservation)
        and other.id != but
        and not other.state.final
        and other.window.overlaps(window)
    }


def _free_tag(engine: Engine, window: Window, tags: range, but: str = "") -> int:
    used = _tags_in_use(engine, window, but)
    for tag in tags:
        if tag not in used:
            return tag
    raise Conflict(
        f"every VLAN id reserved for mirror copies ({tags.start}-{tags.stop - 1}) is in use "
        "over this window",
        code="no_tag",
    )


def _family(ip: str | None) -> int | None:
    return None if ip is None else ipaddress.ip_address(ip).version
