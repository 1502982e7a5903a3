"""What forwarding must know of stitching: the stitch ports, and the far hosts local hosts
may reach through live stitched reservations (answered by proxy ARP with the MAC the peer
domain reported, so neither side needs static ARP entries)."""

from __future__ import annotations

from collections import defaultdict

from tegu_ryu.forwarding.packet_in import WanFacts
from tegu_ryu.reservations.engine import Engine
from tegu_ryu.reservations.model import State, StitchReservation
from tegu_ryu.stitching.points import StitchSettings


def wan_facts(settings: StitchSettings, engine: Engine) -> WanFacts:
    """The stitch ports of ``settings`` and, per far host IP, its MAC and who may ask."""
    askers: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for reservation in engine.reservations.values():
        if not isinstance(reservation, StitchReservation) or reservation.state is not State.ACTIVE:
            continue
        remote, local = reservation.remote, reservation.local
        if remote.ip is not None and remote.mac is not None and local.mac is not None:
            askers[(remote.ip, remote.mac)].add(local.mac)
    return WanFacts(
        ports=frozenset(point.port for point in settings.points.values()),
        remote={ip: (mac, frozenset(macs)) for (ip, mac), macs in askers.items()},
    )
