"""The lean flow-stats decoder gives exactly what os-ken's parser and flow_from_stats give."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from os_ken.ofproto import ofproto_v1_3_parser as parser

from tegu_ryu.openflow import lean_stats
from tegu_ryu.openflow.flows import (
    Flow,
    Opaque,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    SetQueue,
    match,
)
from tegu_ryu.openflow.messages import flow_add, flow_from_stats, serialized

NOW = 1_800_000_000.0


def entry_bytes(flow: Flow, duration: int, hard_timeout: int) -> bytes:
    """A flow-stats entry for ``flow`` as a switch would send it (built from a flow-mod)."""
    mod = flow_add(flow, NOW)
    mod.hard_timeout = hard_timeout
    body = serialized(mod, 0)[48:]  # the flow-mod's match and instructions, as the stats carry them
    header = struct.pack(
        "!HBxIIHHHH4xQQQ",
        48 + len(body), flow.table, duration, 5, flow.priority, 0, hard_timeout, 0,
        flow.cookie, 7, 700,
    )  # fmt: skip
    return header + body


macs = st.sampled_from(["00:00:00:00:00:0a", "0a:1b:2c:3d:4e:5f"])
fields = st.fixed_dictionaries(
    {},
    optional={
        "in_port": st.integers(1, 2**32 - 256),
        "eth_src": macs,
        "eth_dst": macs,
        "eth_type": st.sampled_from([0x0800, 0x86DD, 0x0806]),
        "vlan_vid": st.integers(0, 4095).map(lambda v: v | 0x1000),
        "ip_proto": st.sampled_from([1, 6, 17]),
        "metadata": st.integers(0, 2**64 - 1),
        "ipv4_src": st.sampled_from(["10.0.0.1", "192.168.255.254"]),
        "ipv4_dst": st.sampled_from(["10.0.0.3", "1.2.3.4"]),
        "ipv6_src": st.sampled_from(["fd00::3", "::ffff:1.2.3.4", "2001:db8::1:0:0:1"]),
        "ipv6_dst": st.sampled_from(["fd00::4", "fe80::1"]),
        "tcp_src": st.integers(1, 65535),
        "tcp_dst": st.integers(1, 65535),
        "udp_dst": st.integers(1, 65535),
        "tunnel_id": st.integers(0, 2**64 - 1),
    },
)
actions = st.lists(
    st.one_of(
        st.integers(1, 2**32 - 1).map(Output),
        st.integers(0, 63).map(lambda d: SetField("ip_dscp", d)),
        macs.map(lambda m: SetField("eth_dst", m)),
        st.sampled_from([0x8100, 0x88A8]).map(PushVlan),
        st.just(PopVlan()),
        st.integers(0, 2**32 - 1).map(SetQueue),
        st.integers(0, 4095).map(lambda v: SetField("vlan_vid", v | 0x1000)),
        st.integers(0, 2**64 - 1).map(lambda key: SetField("tunnel_id", key)),
    ),
    max_size=4,
)
flows = st.builds(
    lambda m, a, meter, goto, metadata, cookie, priority, table: Flow(
        priority=priority, match=match(**m), actions=tuple(a), cookie=cookie, table=table,
        meter=meter, goto=goto, metadata=metadata,
    ),
    fields, actions, st.none() | st.integers(1, 2**32 - 1), st.none() | st.integers(1, 254),
    st.none() | st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1), st.integers(0, 65535), st.integers(0, 254),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(flow=flows, duration=st.integers(0, 10**6), hard=st.integers(0, 65535))
def test_lean_decoding_equals_os_kens(flow: Flow, duration: int, hard: int) -> None:
    raw = entry_bytes(flow, duration, hard)
    expected = flow_from_stats(parser.OFPFlowStats.parser(raw, 0), NOW)
    got = lean_stats.decode(lean_stats.RawFlowStats.parser(raw, 0), NOW)
    assert got == expected
    assert got[0] == flow  # and both are what was installed


def test_what_the_lean_path_leaves_to_os_ken_still_decodes_the_same() -> None:
    masked = parser.OFPMatch(eth_dst=("00:00:00:00:00:01", "ff:ff:ff:00:00:00"))
    mod = parser.OFPFlowMod(
        datapath=None,
        match=masked,
        instructions=[parser.OFPInstructionActions(parser.ofproto.OFPIT_WRITE_ACTIONS, [])],
    )
    body = serialized(mod, 0)[48:]
    raw = struct.pack("!HBxIIHHHH4xQQQ", 48 + len(body), 0, 1, 0, 1, 0, 0, 0, 5, 0, 0) + body
    got = lean_stats.decode(lean_stats.RawFlowStats.parser(raw, 0), NOW)
    assert got == flow_from_stats(parser.OFPFlowStats.parser(raw, 0), NOW)
    assert isinstance(got[0].actions[0], Opaque)


def test_an_entry_no_parser_reads_is_reported_not_fatal() -> None:
    flow = Flow(priority=1, match=match(ipv4_src="10.0.0.1"), actions=(), cookie=1)
    raw = bytearray(entry_bytes(flow, 1, 0))
    raw[48 + 4 + 3] = 3  # the ipv4_src field now claims 3 bytes: malformed
    with pytest.raises(lean_stats.Undecodable):
        lean_stats.decode(lean_stats.RawFlowStats.parser(bytes(raw), 0), NOW)


def test_a_raw_entry_still_reads_as_os_kens_to_other_apps() -> None:
    flow = Flow(priority=7, match=match(in_port=3), actions=(Output(2),), cookie=9, table=1)
    entry = lean_stats.RawFlowStats.parser(entry_bytes(flow, 5, 0), 0)
    assert (entry.priority, entry.cookie, entry.table_id) == (7, 9, 1)
    assert dict(entry.match.items()) == {"in_port": 3}
