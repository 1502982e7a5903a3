"""Reservation records: typed, frozen values that the engine, the store and the API share."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field, replace
from enum import Enum

from tegu_ryu.ovsdb.rows import PORT_PREFIX
from tegu_ryu.reservations.paths import Hop, PathMode
from tegu_ryu.reservations.window import Window
from tegu_ryu.topology.refs import LinkId, PortRef, from_host, to_host


class Kind(str, Enum):
    BANDWIDTH = "bandwidth"
    ONEWAY = "oneway"


class State(str, Enum):
    HELD = "held"  # a stitched reservation admitted here, waiting for both domains to commit
    PENDING = "pending"
    ACTIVE = "active"
    DEGRADED = "degraded"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (State.EXPIRED, State.CANCELLED)


class Direction(str, Enum):
    OUT = "out"
    IN = "in"


DSCP_CLASSES = {"voice": 46, "control": 26, "data": 18}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of a reservation: what the user wrote and what it resolved to.

    ``attach`` is None only for an external destination of a one-way
    reservation, known by address alone.
    """

    given: str
    mac: str | None
    ip: str | None
    attach: PortRef | None
    name: str | None = None

    @property
    def identity(self) -> str:
        """What makes two endpoints the same host (for duplicate detection)."""
        return self.mac or self.ip or self.given


@dataclass(frozen=True, slots=True)
class Match:
    """Which of the endpoints' traffic the reservation covers."""

    protocol: str | None = None
    src_port: int | None = None
    dst_port: int | None = None
    vlan: int | None = None

    def reversed(self) -> Match:
        """The same traffic seen from the other end."""
        return replace(self, src_port=self.dst_port, dst_port=self.src_port)


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """bit/s from src to dst (``out``) and from dst to src (``in``)."""

    out: int
    in_: int

    def of(self, direction: Direction) -> int:
        return self.out if direction is Direction.OUT else self.in_


@dataclass(frozen=True, slots=True)
class Route:
    """An admitted path for one direction: per-switch hops and the links booked."""

    hops: tuple[Hop, ...]
    links: tuple[LinkId, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """The envelope every kind of reservation shares.

    Identity, ownership, the window and the lifecycle are the same for a
    bandwidth reservation, a mirror or a steering chain; what a kind asks of
    the network lives in its subclass. The engine's clock, the store's
    envelope, listings and paging only ever need this part.
    """

    id: str
    owner: str
    window: Window
    created: float
    state: State
    name: str | None = None
    reason: str | None = None
    ended: float | None = None
    serial: int = 0  # unique and stable: names the reservation's flows (cookie) and meters
    cookie_digest: str | None = None  # SHA-256 of the Tegu-style secret, if one was given

    @property
    def type(self) -> str:
        """The ``type`` a client asked for and sees (the kind's registry name)."""
        raise NotImplementedError

    def cookie_matches(self, cookie: str) -> bool:
        """True if ``cookie`` is this reservation's secret (no secret: any cookie will do)."""
        return self.cookie_digest is None or hmac.compare_digest(
            self.cookie_digest, cookie_digest(cookie)
        )

    def state_at(self, now: float) -> State:
        """The state time alone would give (degraded and final states are sticky)."""
        if self.state.final:
            return self.state
        if now >= self.window.end:
            return State.EXPIRED
        if self.state is State.DEGRADED:
            return State.DEGRADED
        return State.ACTIVE if now >= self.window.start else State.PENDING

    def booked_links(self) -> list[tuple[Direction, LinkId]]:
        """The switch links whose capacity the reservation holds (none unless a kind books)."""
        return []

    def bookings(self) -> list[tuple[Direction, LinkId]]:
        """Everything the reservation holds capacity on."""
        return self.booked_links()

    def rate(self, direction: Direction) -> int:
        """bit/s booked in ``direction`` on each of its ``bookings`` (0: nothing booked)."""
        return 0

    def switches(self) -> set[int]:
        """The switches that carry flows for it."""
        return set()

    def path_links(self) -> list[LinkId]:
        """The switch links its traffic is pinned to: losing one means finding another path."""
        return [link for _, link in self.booked_links()]


@dataclass(frozen=True, slots=True, kw_only=True)
class BandwidthReservation(Reservation):
    """Guaranteed bit/s between two endpoints (both ways, or one way to an outside address)."""

    kind: Kind
    src: Endpoint
    dst: Endpoint
    requested: Bandwidth
    bandwidth: Bandwidth
    match: Match
    dscp: int | None
    path_mode: PathMode
    routes: dict[Direction, Route] = field(default_factory=dict)
    dscp_exit: bool = True  # the marking stays when the traffic is delivered (Tegu's global_)

    @property
    def type(self) -> str:
        return self.kind.value

    def rate(self, direction: Direction) -> int:
        return self.bandwidth.of(direction)

    def switches(self) -> set[int]:
        return {hop.dpid for route in self.routes.values() for hop in route.hops}

    def booked_links(self) -> list[tuple[Direction, LinkId]]:
        """The switch links of the reservation's paths."""
        return [(d, link) for d, route in self.routes.items() for link in route.links]

    def access_links(self) -> list[tuple[Direction, LinkId]]:
        """The hosts' own ports it crosses: up from the sender, down to the receiver."""
        ends = {Direction.OUT: (self.src, self.dst), Direction.IN: (self.dst, self.src)}
        return [
            (direction, link)
            for direction in self.routes
            for link in access_links_between(*ends[direction])
        ]

    def bookings(self) -> list[tuple[Direction, LinkId]]:
        """Everything the reservation holds capacity on: paths and access links."""
        return self.booked_links() + self.access_links()


class MirrorDirection(str, Enum):
    """Which packets of a mirrored port are copied."""

    BOTH = "both"
    INGRESS = "ingress"  # what the switch receives on the port
    EGRESS = "egress"  # what the switch sends out of it

    @property
    def ingress(self) -> bool:
        return self is not MirrorDirection.EGRESS

    @property
    def egress(self) -> bool:
        return self is not MirrorDirection.INGRESS


@dataclass(frozen=True, slots=True)
class PortChoice:
    """A switch port as the user named it (a host, or ``DPID:PORT``) and what it resolved to."""

    given: str
    port: PortRef


@dataclass(frozen=True, slots=True)
class TunnelSink:
    """Where a mirror's copies leave the network encapsulated: a GRE or VXLAN port tegu_ryu
    creates on the mirrored switch, at OpenFlow port ``ofport`` (chosen at admission, one per
    live tunnelled mirror), toward a collector at ``remote_ip``."""

    kind: str  # gre | vxlan
    remote_ip: str
    key: int | None
    ofport: int

    def describe(self) -> str:
        key = "" if self.key is None else f" key {self.key}"
        return f"{self.kind} to {self.remote_ip}{key}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorReservation(Reservation):
    """Copies of the traffic of some ports of one switch, sent to a collector port.

    The copy travels from the mirrored switch to the collector along
    ``route`` (its last hop outputs to the collector; one hop when the
    collector is on the same switch), tagged on fabric links with VLAN
    ``tag``. With ``bandwidth`` the route's links and the collector's port
    are booked and the copy is metered at that rate; without it the copy is
    best effort. ``route`` is None while no path exists (degraded).
    """

    ports: tuple[PortChoice, ...]
    direction: MirrorDirection
    output: PortChoice
    vlans: tuple[int, ...] = ()
    match: Match = field(default_factory=Match)
    src: Endpoint | None = None
    dst: Endpoint | None = None
    bandwidth: int | None = None
    route: Route | None = None
    tag: int = 0
    tunnel: TunnelSink | None = None  # copies leave through a tunnel port, not a collector port

    @property
    def type(self) -> str:
        return "mirror"

    @property
    def switch(self) -> int:
        """The one switch whose ports are mirrored."""
        return self.ports[0].port.dpid

    def rate(self, direction: Direction) -> int:
        return (self.bandwidth or 0) if direction is Direction.OUT else 0

    @property
    def tunnel_port(self) -> str | None:
        """The name of the tunnel port tegu_ryu creates for it: by serial, which is never
        reused (a port number is, and names are unique in the whole OVSDB)."""
        return None if self.tunnel is None else f"{PORT_PREFIX}m{self.serial}"

    def path_links(self) -> list[LinkId]:
        return [] if self.route is None else list(self.route.links)

    def switches(self) -> set[int]:
        return set() if self.route is None else {hop.dpid for hop in self.route.hops}

    def booked_links(self) -> list[tuple[Direction, LinkId]]:
        """The fabric links the copy crosses (booked when it has a bandwidth)."""
        if self.route is None or not self.bandwidth:
            return []
        return [(Direction.OUT, link) for link in self.route.links]

    def bookings(self) -> list[tuple[Direction, LinkId]]:
        """The copy's fabric links and the collector's own port (a tunnel's underlay is not
        the fabric's: nothing is booked for it)."""
        if self.route is None or not self.bandwidth or self.tunnel is not None:
            return []
        return [*self.booked_links(), (Direction.OUT, to_host(self.output.port))]


@dataclass(frozen=True, slots=True)
class Middlebox:
    """One stop of a steering chain, resolved.

    Traffic is delivered to it on ``in_port`` and comes back out of
    ``out_port`` (the same port for a one-armed middlebox, such as a router
    that forwards by IP). ``in_mac``/``out_mac`` are the MACs of the hosts on
    those ports, when they are hosts: traffic delivered to the middlebox is
    addressed to them, so that a router accepts it.
    """

    given: str
    in_port: PortRef
    out_port: PortRef
    in_mac: str | None
    out_mac: str | None

    def turned(self) -> Middlebox:
        """The same middlebox as the reverse traffic of a symmetric chain crosses it."""
        return Middlebox(self.given, self.out_port, self.in_port, self.out_mac, self.in_mac)


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg of a chain in one direction: from where the traffic enters (the source's
    port, or the previous middlebox's out port) to where it is delivered.

    ``index`` is the leg's place in the chain (0: to the first middlebox);
    with an "any" source there is a leg 0 from every host. ``target`` is None
    after the last middlebox towards an "any" destination: there the traffic
    is handed back to base forwarding. ``deliver_mac`` is the destination MAC
    it is delivered with.
    """

    index: int
    source: PortRef
    target: PortRef | None
    deliver_mac: str | None
    route: Route


@dataclass(frozen=True, slots=True, kw_only=True)
class SteeringReservation(Reservation):
    """Traffic from ``src`` to ``dst`` (None: any) sent through a chain of middleboxes.

    ``legs`` holds, per direction carried (``in`` only when ``symmetric``),
    every leg's path; it is empty while no path exists (degraded). With
    ``bandwidth`` every leg's links and the ports on the way are booked.
    """

    src: Endpoint | None
    dst: Endpoint | None
    match: Match
    chain: tuple[Middlebox, ...]
    symmetric: bool = True
    bandwidth: int | None = None
    legs: dict[Direction, tuple[Leg, ...]] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return "steering"

    def rate(self, direction: Direction) -> int:
        return (self.bandwidth or 0) if direction in self.legs else 0

    def switches(self) -> set[int]:
        return {hop.dpid for legs in self.legs.values() for leg in legs for hop in leg.route.hops}

    def path_links(self) -> list[LinkId]:
        return [link for legs in self.legs.values() for leg in legs for link in leg.route.links]

    def booked_links(self) -> list[tuple[Direction, LinkId]]:
        """Every leg's fabric links (a link two legs cross is booked twice)."""
        if not self.bandwidth:
            return []
        return [
            (d, link) for d, legs in self.legs.items() for leg in legs for link in leg.route.links
        ]

    def bookings(self) -> list[tuple[Direction, LinkId]]:
        """The legs' fabric links and the ports they enter and leave by."""
        if not self.bandwidth:
            return []
        ports = [
            (d, link)
            for d, legs in self.legs.items()
            for leg in legs
            for link in (
                from_host(leg.source),
                *(() if leg.target is None else (to_host(leg.target),)),
            )
        ]
        return [*self.booked_links(), *ports]


@dataclass(frozen=True, slots=True, kw_only=True)
class PassthruReservation(Reservation):
    """One host's traffic keeps its own DSCP marking over the window.

    Only meaningful where the network resets the marking of traffic entering
    it (``dscp_policy = reset``); ``match`` narrows it to a protocol and ports,
    ``src_ip`` to packets with that source address (any address: a host may
    forward for others, as Tegu allowed). Nothing is booked.
    """

    host: Endpoint
    match: Match = field(default_factory=Match)
    src_ip: str | None = None  # only packets from this source address (Tegu's proto=address)

    @property
    def type(self) -> str:
        return "passthru"

    def switches(self) -> set[int]:
        return set() if self.host.attach is None else {self.host.attach.dpid}


@dataclass(frozen=True, slots=True)
class RemoteEnd:
    """The far host of a stitched reservation: in which domain, and what its controller said
    about it (its MAC and address, for answering ARP here)."""

    domain: str
    host: str
    mac: str | None = None
    ip: str | None = None

    @property
    def given(self) -> str:
        return f"{self.domain}/{self.host}"


class StitchRole(str, Enum):
    """Which side of a stitched reservation this domain is."""

    ORIGIN = "origin"  # asked for here: the local host is the source
    PEER = "peer"  # held for a peer domain: the local host is the destination


@dataclass(frozen=True, slots=True)
class HeldChange:
    """A change of a stitched segment's end and bandwidth, held until the peer decides it.

    While held, the segment books the larger of the terms before (``was_end``,
    ``was_bandwidth``) and after (``end``, ``bandwidth``), so that either outcome
    fits without a new admission. The participant's hold lapses at
    ``hold_until`` (back to the terms before); the coordinator's
    (``hold_until`` None) waits for the participant's word, asked again until it
    answers once ``committing`` (the participant may have committed).
    """

    token: str
    end: float
    bandwidth: Bandwidth
    was_end: float
    was_bandwidth: Bandwidth
    hold_until: float | None = None
    committing: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StitchReservation(Reservation):
    """This domain's segment of a bandwidth reservation that crosses into a peer domain.

    The segment runs between the local host and the stitch port (``port``,
    of stitch point ``point``) and carries ``label`` on the wire beyond it,
    booked like any bandwidth reservation over the same window. ``out`` is
    always the direction from the origin's host to the peer's, on both
    sides. Until both domains commit it is ``held`` and ``hold_until`` says
    when the hold lapses by itself; ``peer_pending`` is a cancel the peer
    has not yet acknowledged, or a held ``change`` whose outcome the peer has
    not told yet (retried, and stored, until it answers). ``settled`` is the
    token of the last change committed, so that a commit asked again is
    answered rather than refused.
    """

    role: StitchRole
    local: Endpoint
    remote: RemoteEnd
    point: str
    port: PortRef
    handoff: str
    label: int
    bandwidth: Bandwidth
    routes: dict[Direction, Route] = field(default_factory=dict)
    peer_id: str | None = None
    hold_until: float | None = None
    peer_pending: str | None = None
    change: HeldChange | None = None
    settled: str | None = None

    @property
    def type(self) -> str:
        return "stitch"

    @property
    def stitch_end(self) -> Endpoint:
        """The stitch port as an endpoint of the local segment."""
        return Endpoint(given=f"stitch:{self.point}", mac=None, ip=None, attach=self.port)

    @property
    def src(self) -> Endpoint:
        """Where the segment's ``out`` traffic enters this domain."""
        return self.local if self.role is StitchRole.ORIGIN else self.stitch_end

    @property
    def dst(self) -> Endpoint:
        """Where the segment's ``out`` traffic leaves this domain."""
        return self.stitch_end if self.role is StitchRole.ORIGIN else self.local

    def state_at(self, now: float) -> State:
        """A hold lapses by itself at ``hold_until``; a committed segment goes by its window."""
        if self.state.final:
            return self.state
        if self.hold_until is not None:
            if now >= self.hold_until or now >= self.window.end:
                return State.EXPIRED
            return State.DEGRADED if self.state is State.DEGRADED else State.HELD
        return Reservation.state_at(self, now)

    def rate(self, direction: Direction) -> int:
        return self.bandwidth.of(direction)

    def switches(self) -> set[int]:
        return {hop.dpid for route in self.routes.values() for hop in route.hops}

    def booked_links(self) -> list[tuple[Direction, LinkId]]:
        return [(d, link) for d, route in self.routes.items() for link in route.links]

    def bookings(self) -> list[tuple[Direction, LinkId]]:
        """The segment's links, the local host's port and the stitch port, per direction."""
        ends = {Direction.OUT: (self.src, self.dst), Direction.IN: (self.dst, self.src)}
        access = [
            (direction, link)
            for direction in self.routes
            for link in access_links_between(*ends[direction])
        ]
        return self.booked_links() + access


def access_links_between(sender: Endpoint, receiver: Endpoint) -> list[LinkId]:
    """Access links traffic from ``sender`` to ``receiver`` uses (none at an outside end)."""
    links = []
    if sender.attach is not None:
        links.append(from_host(sender.attach))
    if receiver.attach is not None:
        links.append(to_host(receiver.attach))
    return links


def cookie_digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()
