"""The os-ken shim, driven with fake switch events: every handler runs and the switch is served.

As faucet's ``test_valveapp_smoke``: no real switch, no os-ken event loop;
each handler is called as os-ken would call it, with a fake datapath that
keeps what is sent. A failing handler would ask the process to stop, which
the test checks never happens.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from os_ken.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER
from os_ken.lib.packet import arp, ethernet, packet
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser
from oslo_config import cfg

import tegu_ryu.app as tegu_app
from tegu_ryu.assembly import assemble_controller
from tegu_ryu.config import OPTIONS
from tegu_ryu.controller import ControllerSettings
from tegu_ryu.process import StopRequest
from tegu_ryu.reservations.memory_store import MemoryStore
from tegu_ryu.tenancy import ANONYMOUS
from tegu_ryu.topology.capacity import CapacityPolicy

STATIC = str(Path(__file__).resolve().parents[2] / "conf" / "static-topology.json")


class FakeDatapath:
    """What the app uses of an os-ken Datapath; keeps every message it is given."""

    ofproto = ofp
    ofproto_parser = parser

    def __init__(self, dpid: int, ports: list[int]) -> None:
        self.id = dpid
        self.address = ("127.0.0.1", 40000 + dpid)
        self.ports = {
            n: parser.OFPPort(n, f"00:00:00:00:{dpid:02x}:{n:02x}", f"p{n}".encode(), 0, 0, 0, 0,
                              0, 0, 10**6, 10**6)
            for n in ports
        }  # fmt: skip
        self.xid = 0
        self.sent: list[Any] = []  # messages (os-ken objects)
        self.raw: list[bytes] = []  # passes, written as bytes

    def set_xid(self, msg: Any) -> int:
        self.xid += 1
        msg.set_xid(self.xid)
        return self.xid

    def send_msg(self, msg: Any) -> bool:
        self.sent.append(msg)
        return True

    def send(self, data: bytes) -> bool:
        self.raw.append(data)
        return True

    def last(self, kind: type) -> Any:
        return next(m for m in reversed(self.sent) if isinstance(m, kind))

    def messages_in_passes(self) -> list[tuple[int, int]]:
        """(type, xid) of every message written in passes."""
        found = []
        for data in self.raw:
            at = 0
            while at < len(data):
                _, kind, length, xid = struct.unpack_from("!BBHI", data, at)
                found.append((kind, xid))
                at += length
        return found


def msg_of(datapath: FakeDatapath, msg: Any, xid: int) -> Any:
    msg.datapath = datapath
    msg.xid = xid
    return msg


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    conf = cfg.ConfigOpts()
    conf.register_cli_opts(OPTIONS)
    conf(args=["--api-port", "0"], default_config_files=[])
    monkeypatch.setattr(tegu_app.cfg, "CONF", conf)  # os-ken's alias of oslo.config's
    stop = StopRequest()
    monkeypatch.setattr(tegu_app, "STOP", stop)
    settings = ControllerSettings(
        capacity=CapacityPolicy(),
        state_dir="(unused: the store is given)",
        static_topology=STATIC,
        discovery_settle=0,
    )
    controller = assemble_controller(settings, now=0, store=MemoryStore())
    instance = tegu_app.TeguApp(tegu_controller=SimpleNamespace(controller=controller))
    instance.stop_request = stop
    yield instance
    instance.api.stop()
    assert not stop.requested, stop.reason


def connect(app: Any, dpid: int) -> FakeDatapath:
    datapath = FakeDatapath(dpid, [1, 2, 3, 4])
    app._state_change(SimpleNamespace(datapath=datapath, state=MAIN_DISPATCHER))
    flows = datapath.last(parser.OFPFlowStatsRequest)
    meters = datapath.last(parser.OFPMeterConfigStatsRequest)
    reply = parser.OFPFlowStatsReply(datapath, body=[], flags=0)
    app._flow_stats(SimpleNamespace(msg=msg_of(datapath, reply, flows.xid)))
    reply = parser.OFPMeterConfigStatsReply(datapath, body=[], flags=0)
    app._meter_config(SimpleNamespace(msg=msg_of(datapath, reply, meters.xid)))
    return datapath


def confirm(app: Any, switches: list[FakeDatapath]) -> None:
    """Answer every barrier the passes carried, in order."""
    answered: set[tuple[int, int]] = set()
    while True:
        pending = [
            (datapath, xid)
            for datapath in switches
            for kind, xid in datapath.messages_in_passes()
            if kind == ofp.OFPT_BARRIER_REQUEST and (datapath.id, xid) not in answered
        ]
        if not pending:
            return
        for datapath, xid in pending:
            answered.add((datapath.id, xid))
            reply = parser.OFPBarrierReply(datapath)
            app._barrier(SimpleNamespace(msg=msg_of(datapath, reply, xid)))


def test_switches_are_read_planned_and_confirmed_through_the_handlers(app: Any) -> None:
    switches = [connect(app, dpid) for dpid in (1, 2, 3)]
    for dpid, link in ((1, (3, 2, 3)), (2, (3, 1, 3)), (2, (4, 3, 3)), (3, (3, 2, 4))):
        src = SimpleNamespace(dpid=dpid, port_no=link[0])
        dst = SimpleNamespace(dpid=link[1], port_no=link[2])
        app._link_add(SimpleNamespace(link=SimpleNamespace(src=src, dst=dst)))
    confirm(app, switches)
    assert all(datapath.raw for datapath in switches), "every switch got its base flows"
    made = app.controller.reservations.create(
        ANONYMOUS,
        {"src": "h1", "dst": "h3", "bandwidth": "10M", "duration": 600},
        now=1,
        reply=lambda r: r,
    )
    app._changed(tegu_app.EventChanged())
    confirm(app, switches)
    assert app.controller.enforcement(made)["status"] == "installed"


def test_every_other_handler_runs_on_a_connected_switch(app: Any) -> None:
    datapath = connect(app, 1)
    request = packet.Packet()
    request.add_protocol(
        ethernet.ethernet(dst="ff:ff:ff:ff:ff:ff", src="00:00:00:00:00:01", ethertype=0x0806)
    )
    request.add_protocol(
        arp.arp(opcode=arp.ARP_REQUEST, src_mac="00:00:00:00:00:01", src_ip="10.0.0.1",
                dst_mac="00:00:00:00:00:00", dst_ip="10.0.0.3")
    )  # fmt: skip
    request.serialize()
    packet_in = parser.OFPPacketIn(
        datapath, buffer_id=ofp.OFP_NO_BUFFER, match=parser.OFPMatch(in_port=1),
        data=bytes(request.data),
    )  # fmt: skip
    app._packet_in(SimpleNamespace(msg=msg_of(datapath, packet_in, 0)))
    reply = datapath.last(parser.OFPPacketOut)  # proxy ARP: h3 is in the static topology
    assert reply.actions[0].port == 1
    status = parser.OFPPortStatus(
        datapath, reason=ofp.OFPPR_MODIFY, desc=datapath.ports[2]._replace(state=1)
    )
    app._port_status(SimpleNamespace(msg=msg_of(datapath, status, 0)))
    assert not app.controller.topology.port_state(tegu_app.PortRef(1, 2)).up
    app._probe(tegu_app.EventProbe())
    echo = datapath.last(parser.OFPEchoRequest)
    answer = parser.OFPEchoReply(datapath, data=echo.data)
    app._echo_reply(SimpleNamespace(msg=msg_of(datapath, answer, echo.xid)))
    error = parser.OFPErrorMsg(datapath, type_=ofp.OFPET_FLOW_MOD_FAILED, code=0, data=b"")
    app._error(SimpleNamespace(msg=msg_of(datapath, error, 999)))
    assert isinstance(datapath.sent[-1], parser.OFPMeterConfigStatsRequest)  # read back
    app._tick(tegu_app.EventTick())
    app._resync(tegu_app.EventResync())
    app._state_change(SimpleNamespace(datapath=datapath, state=DEAD_DISPATCHER))
    assert not app.controller.switches
    stale = parser.OFPBarrierReply(datapath)
    app._barrier(SimpleNamespace(msg=msg_of(datapath, stale, 1)))  # an old connection: ignored
