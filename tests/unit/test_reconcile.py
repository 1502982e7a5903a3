"""Diffing desired against installed state, in phases, and what we know of each switch."""

from __future__ import annotations

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from tegu_ryu.openflow import messages
from tegu_ryu.openflow.flows import (
    OFPP_CONTROLLER,
    Flow,
    Layer,
    Meter,
    Opaque,
    Output,
    SetField,
    Table,
    cookie,
    cookie_layer,
    hard_timeout,
    match,
)
from tegu_ryu.openflow.reconcile import REFRESH_MARGIN, InstalledFlow, diff
from tegu_ryu.openflow.sync import SwitchSync

BASE = cookie(Layer.BASE)


def flow(mac: str, port: int, priority: int = 100, until: float | None = None) -> Flow:
    return Flow(
        priority=priority,
        match=match(eth_dst=mac),
        actions=(Output(port),),
        cookie=BASE,
        until=until,
    )


def installed(*flows: Flow, deadline: float | None = None) -> dict:
    return {f.key: InstalledFlow(f, deadline) for f in flows}


def test_identical_state_needs_nothing() -> None:
    flows = [flow("00:00:00:00:00:01", 1), flow("00:00:00:00:00:02", 2)]
    meters = [Meter(0x1000_0002, 20_000, 2000)]
    changes = diff(flows, meters, installed(*flows), {m.id: m for m in meters}, now=0)
    assert changes.phase() == 0 and len(changes) == 0


def test_changes_come_in_make_before_break_phases() -> None:
    old_path = flow("00:00:00:00:00:03", 3)
    moved = flow("00:00:00:00:00:02", 2)
    have = installed(flow("00:00:00:00:00:01", 1), flow("00:00:00:00:00:02", 9), old_path)
    want = [flow("00:00:00:00:00:01", 1), moved, flow("00:00:00:00:00:04", 4)]
    meters_have = {1: Meter(0x1000_0001, 5, 5), 2: Meter(0x1000_0002, 10, 10)}
    changes = diff(
        want,
        [Meter(0x1000_0002, 20, 10), Meter(0x1000_0003, 1, 1)],
        have,
        {m.id: m for m in meters_have.values()},
        now=0,
    )
    assert changes.phase() == 1
    first = changes.only(1)
    assert first.flow_add == (flow("00:00:00:00:00:04", 4),)
    assert first.meter_add == (Meter(0x1000_0003, 1, 1),) and first.meter_modify == (
        Meter(0x1000_0002, 20, 10),
    )
    assert not first.flow_modify and not first.flow_delete
    assert changes.only(2).flow_modify == (moved,)
    assert changes.only(3).flow_delete == (old_path,)
    assert changes.only(3).meter_delete == (Meter(0x1000_0001, 5, 5),)


def test_until_is_not_a_difference_but_an_early_timeout_is_refreshed() -> None:
    long = flow("00:00:00:00:00:01", 1, until=200_000)
    now = 1000.0
    far = installed(flow("00:00:00:00:00:01", 1), deadline=now + 60_000)
    assert len(diff([long], [], far, {}, now)) == 0
    soon = installed(flow("00:00:00:00:00:01", 1), deadline=now + REFRESH_MARGIN / 2)
    assert diff([long], [], soon, {}, now).flow_modify == (long,)
    exact = installed(flow("00:00:00:00:00:01", 1), deadline=200_000)
    assert len(diff([long], [], exact, {}, 199_999)) == 0  # it times out exactly when wanted


def test_hard_timeouts_are_capped_and_computed_at_send_time() -> None:
    assert hard_timeout(flow("00:00:00:00:00:01", 1), 0) == 0
    assert hard_timeout(flow("00:00:00:00:00:01", 1, until=100.2), 0) == 101
    assert hard_timeout(flow("00:00:00:00:00:01", 1, until=10**9), 0) == 65535
    assert hard_timeout(flow("00:00:00:00:00:01", 1, until=5), 10) == 1


def test_cookies_name_their_layer_and_foreign_cookies_are_not_ours() -> None:
    assert cookie_layer(cookie(Layer.RESERVATION, 42)) is Layer.RESERVATION
    assert cookie_layer(BASE) is Layer.BASE
    assert cookie_layer(0) is None
    assert cookie_layer(0x1234) is None


def test_sync_sends_nothing_until_flows_and_meters_have_been_read() -> None:
    sync = SwitchSync(1)
    desired = [flow("00:00:00:00:00:01", 1)]
    assert sync.changes(desired, [], 0).phase() == 0
    sync.read_started(flow_xid=7, meter_xid=8)
    assert not sync.flows_part(6, [], more=False)  # a stale reply
    assert not sync.flows_part(7, [InstalledFlow(flow("00:00:00:00:00:09", 9), None)], more=True)
    assert not sync.flows_part(7, [], more=False)  # meters still outstanding
    assert not sync.known
    foreign = Meter(5, 1, 1)  # outside our range: never ours to touch
    assert sync.meters_part(8, [Meter(0x1000_0004, 1, 1), foreign], more=False)
    changes = sync.changes(desired, [], 0)
    assert changes.flow_add == (desired[0],)
    assert changes.flow_delete == (flow("00:00:00:00:00:09", 9),)
    assert changes.meter_delete == (Meter(0x1000_0004, 1, 1),)
    sync.applied(changes, 0)
    assert len(sync.changes(desired, [], 0)) == 0
    sync.distrust()
    assert not sync.known and sync.changes([], [], 0).phase() == 0


def _through_wire(ofmatch: parser.OFPMatch) -> parser.OFPMatch:
    buf = bytearray()
    ofmatch.serialize(buf, 0)
    return parser.OFPMatch.parser(bytes(buf), 0)


def test_flow_messages_round_trip_through_the_wire_format() -> None:
    """What we install, read back as flow stats, is the flow we asked for."""
    flows = [
        Flow(priority=0, match=match(), actions=(), cookie=BASE, goto=Table.FORWARDING),
        Flow(
            priority=300,
            match=match(eth_type=0x0806),
            actions=(Output(OFPP_CONTROLLER),),
            cookie=BASE,
            table=1,
        ),
        flow("00:00:00:00:00:0A", 3),
        Flow(
            priority=1007,
            match=match(
                eth_type=0x0800,
                ipv4_src="10.0.0.1",
                ipv4_dst="10.0.0.3",
                ip_proto=6,
                tcp_dst=5001,
                in_port=1,
            ),
            actions=(SetField("ip_dscp", 46), Output(3)),
            cookie=cookie(Layer.RESERVATION, 5),
            meter=0x1000_000A,
            until=1600.0,
        ),
    ]
    for original in flows:
        mod = messages.flow_add(original, now=1000.0)
        stats = parser.OFPFlowStats(
            table_id=mod.table_id,
            priority=mod.priority,
            idle_timeout=0,
            hard_timeout=mod.hard_timeout,
            cookie=mod.cookie,
            match=_through_wire(mod.match),
            instructions=mod.instructions,
            duration_sec=100,
        )
        read, deadline = messages.flow_from_stats(stats, now=1100.0)
        assert read == original
        assert deadline == (1600.0 if original.until else None)


def test_meters_round_trip_and_foreign_bands_are_opaque() -> None:
    meter = Meter(0x1000_0003, 20_000, 2000)
    mod = messages.meter_mod(meter, "add")
    stats = parser.OFPMeterConfigStats(flags=mod.flags, meter_id=mod.meter_id, bands=mod.bands)
    assert messages.meter_from_stats(stats) == meter
    odd = parser.OFPMeterConfigStats(
        flags=ofp.OFPMF_PKTPS, meter_id=9, bands=[parser.OFPMeterBandDrop(rate=5, burst_size=0)]
    )
    assert messages.meter_from_stats(odd) != Meter(9, 5, 0)


def test_instructions_we_never_install_are_opaque() -> None:
    stats = parser.OFPFlowStats(
        table_id=0,
        priority=5,
        cookie=BASE,
        match=parser.OFPMatch(),
        instructions=[parser.OFPInstructionWriteMetadata(1, 1)],
        idle_timeout=0,
        hard_timeout=0,
        duration_sec=0,
    )
    read, _ = messages.flow_from_stats(stats, now=0)
    assert isinstance(read.actions[0], Opaque)
    assert diff([], [], {read.key: InstalledFlow(read, None)}, {}, 0).flow_delete == (read,)


def test_delete_is_strict_and_limited_to_the_flow_cookie() -> None:
    target = flow("00:00:00:00:00:01", 1)
    mod = messages.flow_delete(target)
    assert mod.command == ofp.OFPFC_DELETE_STRICT
    assert (mod.cookie, mod.cookie_mask) == (BASE, 2**64 - 1)
