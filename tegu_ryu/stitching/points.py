"""Stitching configuration: this domain's name, its stitch points and its peers.

A stitch point is a switch port that leads out of the domain toward one named
peer domain, with the handoff the two sides agreed on (VLAN ids, or a GRE or
VXLAN tunnel with a key range) and how much the WAN behind it carries. Peers
are other tegu_ryu controllers, reached at their API URL with a token both
sides share (read from a file, never written in the configuration).

Entry forms (``[DEFAULT]`` of the config file, repeatable)::

    domain = siteA
    stitch = wan1:0000000000000002:3 peer=siteB vlan=100-199 capacity=1G
    stitch = wan2:2:63000 peer=siteC vxlan=10.99.0.3 keys=1000-1999 capacity=500M
    peer = siteB=http://127.0.0.1:29445
    peer_token_file = siteB=/etc/tegu/siteB.token

A VLAN stitch point's PORT is the switch port that leads to the WAN. A
tunnel stitch point's PORT is the OpenFlow number tegu_ryu gives the tunnel
port it creates on that switch (``tegu-sNAME``, ``ofport_request``), so that
everything that names a stitch port (paths, the drop of what arrives
unclaimed, flows written before the port exists) treats both handoffs alike;
it must be a number no other port of the bridge has, below the mirrors'
tunnel ports (``TUNNEL_PORTS``).
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tegu_ryu.agents.listener import read_token
from tegu_ryu.errors import ConfigurationError
from tegu_ryu.ovsdb.rows import PORT_PREFIX
from tegu_ryu.topology.refs import PortRef, RefError, parse_port_ref
from tegu_ryu.units import UnitError, parse_bitrate

HANDOFFS = ("vlan", "gre", "vxlan")
LABEL_LIMITS = {"vlan": (1, 4094), "gre": (0, 2**32 - 1), "vxlan": (0, 2**24 - 1)}
TUNNEL_PORTS = range(1, 64000)  # OpenFlow numbers of stitch tunnel ports (mirrors' start above)
TUNNEL_NAME_PREFIX = f"{PORT_PREFIX}s"
MAX_PORT_NAME = 15  # a network device name (IFNAMSIZ - 1): the tunnel port's name must fit


@dataclass(frozen=True)
class Handoff:
    """How traffic crosses the stitch point: tagged with a VLAN id, or in a tunnel by key.

    ``labels`` is the range each reservation gets one label from (a VLAN id or
    a tunnel key); ``remote_ip`` is the tunnel's far end (tunnels only).
    """

    kind: str
    labels: range
    remote_ip: str | None = None

    @property
    def tunnel(self) -> bool:
        return self.kind != "vlan"


@dataclass(frozen=True)
class StitchPoint:
    name: str
    peer: str
    port: PortRef
    handoff: Handoff
    capacity_bps: int

    @property
    def tunnel_port(self) -> str | None:
        """The name of the tunnel port tegu_ryu creates for a tunnel handoff (none for VLAN)."""
        return f"{TUNNEL_NAME_PREFIX}{self.name}" if self.handoff.tunnel else None


@dataclass(frozen=True)
class Peer:
    """Another domain's controller: where its API is and the token both sides present."""

    name: str
    url: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class StitchSettings:
    """Everything stitching needs from configuration, validated."""

    domain: str | None = None
    points: dict[str, StitchPoint] = field(default_factory=dict)
    peers: dict[str, Peer] = field(default_factory=dict)
    hold_timeout: float = 30.0
    peer_timeout: float = 5.0
    retry_interval: float = 5.0

    @property
    def enabled(self) -> bool:
        return self.domain is not None and bool(self.points)

    def point_toward(self, peer: str, name: str | None = None) -> StitchPoint | None:
        """The stitch point toward ``peer`` (``name``: that one; else the first configured)."""
        for point in self.points.values():
            if point.peer == peer and (name is None or point.name == name):
                return point
        return None

    def peer_by_token(self, token: str) -> Peer | None:
        """The peer whose shared token this is (compared in constant time)."""
        for peer in self.peers.values():
            if hmac.compare_digest(peer.token.encode(), token.encode()):
                return peer
        return None


def stitch_settings(
    domain: str | None,
    stitches: list[str],
    peers: list[str],
    token_files: list[str],
    *,
    hold_timeout: float = 30.0,
    peer_timeout: float = 5.0,
    retry_interval: float = 5.0,
) -> StitchSettings:
    """Validated settings from the option values; ConfigurationError naming the bad entry."""
    points: dict[str, StitchPoint] = {}
    for entry in stitches:
        point = parse_stitch(entry)
        if point.name in points:
            raise ConfigurationError(f"stitch: {point.name!r} is configured twice")
        for other in points.values():
            _check_apart(point, other)
        points[point.name] = point
    tokens = _pairs("peer_token_file", token_files)
    urls = _pairs("peer", peers)
    found: dict[str, Peer] = {}
    for name, url in urls.items():
        _check_url(name, url)
        if name not in tokens:
            raise ConfigurationError(f"peer {name}: no peer_token_file {name}=PATH for its token")
        try:
            token = read_token(tokens[name]).decode()
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"peer_token_file {name}: {exc}") from exc
        twin = next((p.name for p in found.values() if p.token == token), None)
        if twin is not None:  # a peer is known by its token: two with one could act as each other
            raise ConfigurationError(f"peer {name}: its token is also peer {twin}'s")
        found[name] = Peer(name, url.rstrip("/"), token)
    for point in points.values():
        if point.peer not in found:
            raise ConfigurationError(
                f"stitch {point.name}: peer {point.peer!r} has no peer = {point.peer}=URL entry"
            )
    if points and not domain:
        raise ConfigurationError("stitch points need this controller's domain name (domain)")
    if domain is not None and ("/" in domain or not domain.strip()):
        raise ConfigurationError(f"domain: {domain!r} must be a non-empty name without '/'")
    return StitchSettings(domain, points, found, hold_timeout, peer_timeout, retry_interval)


def parse_stitch(entry: str) -> StitchPoint:
    """``NAME:DPID:PORT peer=P vlan=A-B|gre=IP keys=A-B|vxlan=IP keys=A-B capacity=RATE``."""
    words = entry.split()
    if not words:
        raise ConfigurationError("stitch: an empty entry")
    name, _, where = words[0].partition(":")
    options = dict(word.partition("=")[::2] for word in words[1:])
    problem = f"stitch: {entry!r}:"
    if not name or "/" in name:
        raise ConfigurationError(f"{problem} expected NAME:DPID:PORT first")
    try:
        port = parse_port_ref(where)
    except RefError as exc:
        raise ConfigurationError(f"{problem} {exc}") from exc
    unknown = set(options) - {"peer", "capacity", "keys", *HANDOFFS}
    if unknown:
        raise ConfigurationError(f"{problem} unknown setting {sorted(unknown)[0]!r}")
    kinds = [kind for kind in HANDOFFS if kind in options]
    if len(kinds) != 1:
        raise ConfigurationError(f"{problem} give exactly one handoff: vlan=, gre= or vxlan=")
    if not options.get("peer"):
        raise ConfigurationError(f"{problem} peer=NAME is required")
    kind = kinds[0]
    if kind == "vlan":
        if "keys" in options:
            raise ConfigurationError(f"{problem} keys= is for gre and vxlan handoffs")
        handoff = Handoff(kind, _label_range(problem, kind, options["vlan"]))
    else:
        try:
            remote = str(ipaddress.ip_address(options[kind]))
        except ValueError:
            raise ConfigurationError(
                f"{problem} {kind}= expects the tunnel's remote address"
            ) from None
        if "keys" not in options:
            raise ConfigurationError(f"{problem} {kind} needs keys=FIRST-LAST")
        handoff = Handoff(kind, _label_range(problem, kind, options["keys"]), remote)
        if len(TUNNEL_NAME_PREFIX + name) > MAX_PORT_NAME:
            raise ConfigurationError(
                f"{problem} a tunnel stitch point's name has at most "
                f"{MAX_PORT_NAME - len(TUNNEL_NAME_PREFIX)} characters (its port is "
                f"{TUNNEL_NAME_PREFIX}NAME)"
            )
        if port.port not in TUNNEL_PORTS:
            raise ConfigurationError(
                f"{problem} a tunnel stitch point's PORT is the OpenFlow number of its tunnel "
                f"port, {TUNNEL_PORTS.start}-{TUNNEL_PORTS.stop - 1}"
            )
    try:
        capacity = parse_bitrate(options.get("capacity", ""))
    except UnitError as exc:
        raise ConfigurationError(f"{problem} capacity: {exc}") from exc
    if capacity <= 0:
        raise ConfigurationError(f"{problem} capacity must be more than zero")
    return StitchPoint(name, options["peer"], port, handoff, capacity)


def _check_apart(point: StitchPoint, other: StitchPoint) -> None:
    """A tunnel stitch point has its port to itself (VLAN ones may share a trunk), and no two
    share a switch and a tunnel's far end (Open vSwitch refuses a second tunnel port of one
    kind to the same address with the same key)."""
    if point.port == other.port and (point.handoff.tunnel or other.handoff.tunnel):
        raise ConfigurationError(f"stitch {point.name}: port {point.port} is {other.name}'s")
    if (
        point.handoff.tunnel
        and point.port.dpid == other.port.dpid
        and (point.handoff.kind, point.handoff.remote_ip)
        == (other.handoff.kind, other.handoff.remote_ip)
    ):
        raise ConfigurationError(
            f"stitch {point.name}: {other.name} already has a {point.handoff.kind} tunnel to "
            f"{point.handoff.remote_ip} on switch {point.port.dpid:016x}"
        )


def _label_range(problem: str, kind: str, text: str) -> range:
    low_limit, high_limit = LABEL_LIMITS[kind]
    first, sep, last = text.partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        low, high = 1, 0
    if not low_limit <= low <= high <= high_limit:
        raise ConfigurationError(
            f"{problem} {text!r} is not a label range FIRST-LAST within {low_limit}-{high_limit}"
        )
    return range(low, high + 1)


def _pairs(option: str, entries: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigurationError(f"{option}: {entry!r}: expected NAME=VALUE")
        if name.strip() in pairs:
            raise ConfigurationError(f"{option}: {name.strip()!r} is given twice")
        pairs[name.strip()] = value.strip()
    return pairs


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"peer {name}: {url!r} is not an http(s) URL")
