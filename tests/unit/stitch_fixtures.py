"""A small domain with a stitch point, for the stitching tests."""

from __future__ import annotations

import itertools

from tegu_ryu.reservations.engine import Engine
from tegu_ryu.stitching.points import Handoff, Peer, StitchPoint, StitchSettings
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import Host
from tegu_ryu.topology.refs import PortRef

from .topologies import Builder

M = 10**6
STITCH_PORT = PortRef(2, 9)


def domain(
    labels: range = range(100, 104), capacity: int = 100 * M, hold: float = 30.0
) -> tuple[Engine, StitchSettings, Host]:
    """s1 -- s2; host h1 on s1; stitch point ``wan`` on s2 port 9 toward domain siteB."""
    builder = Builder(CapacityPolicy(override_default=1000 * M))
    builder.link(1, 2)
    host = builder.host(1)
    builder._next_port[2] = 10  # ports 1-9 of s2 exist (9: the stitch port)
    builder.connect_all()
    engine = Engine(builder.topology, new_id=iter(f"r{n}" for n in itertools.count()).__next__)
    point = StitchPoint("wan", "siteB", STITCH_PORT, Handoff("vlan", labels), capacity)
    settings = StitchSettings(
        domain="siteA",
        points={"wan": point},
        peers={"siteB": Peer("siteB", "http://127.0.0.1:1", "secret-b")},
        hold_timeout=hold,
    )
    return engine, settings, host
