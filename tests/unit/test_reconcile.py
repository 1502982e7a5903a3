"""Diffing desired against installed flows, and what we know of each switch."""

from __future__ import annotations

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from tegu_ryu.openflow import messages
from tegu_ryu.openflow.flows import (
    OFPP_CONTROLLER,
    Flow,
    Layer,
    Opaque,
    Output,
    SetField,
    cookie,
    cookie_layer,
    match,
)
from tegu_ryu.openflow.reconcile import diff_flows
from tegu_ryu.openflow.sync import SwitchSync

BASE = cookie(Layer.BASE)


def flow(mac: str, port: int, priority: int = 100) -> Flow:
    return Flow(priority=priority, match=match(eth_dst=mac), actions=(Output(port),), cookie=BASE)


def test_identical_state_needs_nothing() -> None:
    flows = [flow("00:00:00:00:00:01", 1), flow("00:00:00:00:00:02", 2)]
    assert not diff_flows(flows, list(reversed(flows)))


def test_changed_actions_are_replaced_missing_added_extra_deleted() -> None:
    installed = [
        flow("00:00:00:00:00:01", 1),
        flow("00:00:00:00:00:02", 2),
        flow("00:00:00:00:00:03", 3),
    ]
    desired = [
        flow("00:00:00:00:00:01", 1),
        flow("00:00:00:00:00:02", 5),
        flow("00:00:00:00:00:04", 4),
    ]
    diff = diff_flows(desired, installed)
    assert set(diff.add) == {flow("00:00:00:00:00:02", 5), flow("00:00:00:00:00:04", 4)}
    assert diff.delete == (flow("00:00:00:00:00:03", 3),)


def test_description_does_not_count_as_a_difference() -> None:
    described = Flow(priority=1, match=match(), actions=(), cookie=BASE, description="why")
    assert not diff_flows([described], [Flow(priority=1, match=match(), actions=(), cookie=BASE)])


def test_cookies_name_their_layer_and_foreign_cookies_are_not_ours() -> None:
    assert cookie_layer(cookie(Layer.RESERVATION, 42)) is Layer.RESERVATION
    assert cookie_layer(BASE) is Layer.BASE
    assert cookie_layer(0) is None
    assert cookie_layer(0x1234) is None


def test_sync_sends_nothing_until_the_switch_has_been_read() -> None:
    sync = SwitchSync(1)
    desired = [flow("00:00:00:00:00:01", 1)]
    assert not sync.plan(desired)
    sync.read_started(xid=7)
    assert not sync.read_part(xid=6, flows=[], more=False)  # a stale reply
    assert not sync.read_part(xid=7, flows=[flow("00:00:00:00:00:09", 9)], more=True)
    assert sync.read_part(xid=7, flows=[], more=False)
    diff = sync.plan(desired)
    assert diff.add == (desired[0],) and diff.delete == (flow("00:00:00:00:00:09", 9),)
    sync.applied(diff)
    assert not sync.plan(desired)
    sync.distrust()
    assert not sync.known and not sync.plan([])


def test_flow_messages_round_trip_through_the_wire_format() -> None:
    """What we install, read back as flow stats, is the flow we asked for."""
    flows = [
        Flow(priority=0, match=match(), actions=(Output(OFPP_CONTROLLER),), cookie=BASE),
        Flow(
            priority=300,
            match=match(eth_type=0x0806),
            actions=(Output(OFPP_CONTROLLER),),
            cookie=BASE,
        ),
        flow("00:00:00:00:00:0A", 3),
        Flow(
            priority=1000,
            match=match(
                eth_type=0x0800, ipv4_src="10.0.0.1", ipv4_dst="10.0.0.3", ip_proto=6, tcp_dst=5001
            ),
            actions=(SetField("ip_dscp", 46), Output(3)),
            cookie=cookie(Layer.RESERVATION, 5),
            meter=7,
            hard_timeout=600,
        ),
    ]
    for original in flows:
        mod = messages.flow_add(original)
        stats = parser.OFPFlowStats(
            table_id=mod.table_id,
            priority=mod.priority,
            idle_timeout=mod.idle_timeout,
            hard_timeout=mod.hard_timeout,
            cookie=mod.cookie,
            match=_through_wire(mod.match),
            instructions=mod.instructions,
        )
        assert messages.flow_from_stats(stats) == original


def test_instructions_we_never_install_are_opaque() -> None:
    stats = parser.OFPFlowStats(
        table_id=0,
        priority=5,
        cookie=BASE,
        match=parser.OFPMatch(),
        instructions=[parser.OFPInstructionGotoTable(1)],
        idle_timeout=0,
        hard_timeout=0,
    )
    read = messages.flow_from_stats(stats)
    assert isinstance(read.actions[0], Opaque)
    assert diff_flows([], [read]).delete == (read,)


def _through_wire(ofmatch: parser.OFPMatch) -> parser.OFPMatch:
    buf = bytearray()
    ofmatch.serialize(buf, 0)
    return parser.OFPMatch.parser(bytes(buf), 0)


def test_delete_is_strict_and_limited_to_the_flow_cookie() -> None:
    target = flow("00:00:00:00:00:01", 1)
    mod = messages.flow_delete(target)
    assert mod.command == ofp.OFPFC_DELETE_STRICT
    assert (mod.cookie, mod.cookie_mask) == (BASE, 2**64 - 1)
    assert (mod.priority, dict(mod.match.items())) == (100, {"eth_dst": "00:00:00:00:00:01"})
