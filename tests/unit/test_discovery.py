"""LLDP discovery as tegu_ryu runs os-ken's: which ports stay silent, that the real os-ken
LLDP loop keeps re-sending once adopted, and what is said of a link seen one way only."""

from __future__ import annotations

import threading
import time
from typing import Any

from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser
from os_ken.topology import switches

from tegu_ryu.openflow.discovery import (
    GuardedLinks,
    GuardedPorts,
    LldpSilence,
    OneWayWatch,
    adopt,
    explain_missing,
)
from tegu_ryu.topology.refs import LinkId, PortRef

SILENCE = LldpSilence(stitch_ports=frozenset({PortRef(2, 9)}), tunnel_ports=range(64000, 65280))


def port(dpid: int, number: int, name: str = "eth", down: bool = False) -> switches.Port:
    ofp = ofproto_v1_3
    desc = ofproto_v1_3_parser.OFPPort(
        port_no=number,
        hw_addr="00:00:00:00:00:01",
        name=name.encode(),
        config=0,
        state=ofp.OFPPS_LINK_DOWN if down else ofp.OFPPS_LIVE,
        curr=0,
        advertised=0,
        supported=0,
        peer=0,
        curr_speed=0,
        max_speed=0,
    )
    return switches.Port(dpid, ofp, desc)


def test_stitch_points_and_tegu_tunnel_ports_are_silent_and_fabric_ports_are_not() -> None:
    assert SILENCE.silent(2, 9, b"wan0")  # a configured stitch point, whatever its name
    assert SILENCE.silent(1, 7, b"tegu-swan2\0\0")  # a stitch tunnel port tegu made
    assert SILENCE.silent(1, 64001, "vxlan0")  # a mirror's tunnel number
    assert not SILENCE.silent(1, 9, b"s1-eth9")  # the same number on another switch
    assert not SILENCE.silent(2, 3, b"s2-eth3")


def test_silent_ports_are_never_scheduled_and_their_events_change_nothing() -> None:
    ports = GuardedPorts(SILENCE)
    fabric, stitch, tunnel = port(2, 3), port(2, 9, "wan0"), port(2, 64000, "tegu-m5")
    for p in (fabric, stitch, tunnel):
        ports.add_port(p, b"lldp")
    assert [p.port_no for p, _ in ports.items()] == [3]
    assert ports.set_down(port(2, 9, "wan0", down=True)) is False  # os-ken's would KeyError
    ports.del_port(stitch)
    assert ports.data(2, 3) is not None and ports.data(2, 9) is None
    assert ports.set_down(port(2, 3, down=True)) is True
    ports.del_port(fabric)
    assert ports.items() == []


def test_links_walk_as_a_snapshot_while_another_thread_adds() -> None:
    links = GuardedLinks()
    links.update_link(port(1, 3), port(2, 3))
    walked = links.items()
    links.update_link(port(2, 3), port(1, 3))  # a dict view would now fail the walk
    assert len(walked) == 1 and len(list(links)) == 2
    assert links.link_ids() == {
        LinkId(PortRef(1, 3), PortRef(2, 3)),
        LinkId(PortRef(2, 3), PortRef(1, 3)),
    }
    dsts, _ = links.port_deleted(port(1, 3))
    assert [d.dpid for d in dsts] == [2] and links.items() == []


class FakeDatapath:
    """What os-ken's send_lldp_packet needs of a switch: it counts the LLDP sent per port."""

    id = 1
    ofproto = ofproto_v1_3
    ofproto_parser = ofproto_v1_3_parser

    def __init__(self) -> None:
        self.sent: dict[int, int] = {}

    def send_msg(self, msg: Any) -> None:
        out = msg.actions[0].port
        self.sent[out] = self.sent.get(out, 0) + 1


def lldp_app() -> Any:
    """os-ken's real Switches app, its LLDP loop running on a native thread, no controller."""
    app = switches.Switches.__new__(switches.Switches)
    app.is_active = True
    app.link_discovery = True
    app.dps = {}
    app.ports = switches.PortDataState()
    app.links = switches.LinkState()
    app.lldp_event = hub.Event()
    app.link_event = hub.Event()
    return app


def test_adopted_discovery_keeps_sending_lldp_and_never_out_of_a_stitch_port() -> None:
    app = lldp_app()
    loop = threading.Thread(target=app.lldp_loop, daemon=True)
    loop.start()
    assert adopt(app, LldpSilence(stitch_ports=frozenset({PortRef(1, 9)})))
    datapath = FakeDatapath()
    app.dps[1] = datapath
    for number in (3, 9):
        app._port_added(port(1, number))
    app.lldp_event.set()  # as os-ken's switch-enter handler does
    try:
        deadline = time.monotonic() + 30
        while datapath.sent.get(3, 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        # Unadopted, the loop sends once, then waits for an event with no timeout (or one
        # that never times out, on native threads).
        assert datapath.sent.get(3, 0) >= 3
        assert 9 not in datapath.sent
    finally:
        app.is_active = False
        app.lldp_event.set()
        loop.join(5)


def test_a_direction_missing_is_reported_once_after_a_while_and_again_if_it_recurs() -> None:
    there = LinkId(PortRef(2, 3), PortRef(1, 3))
    back = there.reversed()
    watch = OneWayWatch(after=5)
    assert watch.check({there}, now=100) == []
    assert watch.check({there}, now=104) == []
    assert watch.check({there}, now=105) == [back]
    assert watch.check({there}, now=200) == []  # said once
    assert watch.check({there, back}, now=201) == []  # found
    assert watch.check({there}, now=202) == []
    assert watch.check({there}, now=207) == [back]  # lost again: said again


def test_the_report_says_what_the_sender_did() -> None:
    link = LinkId(PortRef(1, 3), PortRef(2, 3))
    data = switches.PortData(is_down=False, lldp_data=b"")
    for _ in range(12):
        data.lldp_sent()
    text = explain_missing(link, data, lambda dpid: dpid != 2, now=data.timestamp + 0.4)
    assert text.startswith("link 0000000000000001:3->0000000000000002:3 not discovered")
    assert "12 LLDP frames sent out of 0000000000000001:3 since one was last heard" in text
    assert "the last 0.4 s ago" in text and "switch 0000000000000002 is not connected" in text
    silent = explain_missing(link, None, lambda dpid: True, now=0)
    assert "does not send LLDP out of 0000000000000001:3" in silent
    assert "not connected" not in silent
