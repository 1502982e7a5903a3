#!/usr/bin/env python3
"""What reading and writing one reservation flow costs: os-ken's objects or the lean codec.

    .venv/bin/python tools/bench_codec.py [--count 20000]

One typical reservation flow (IPv4, TCP port, DSCP marking, meter, output).
Decoding: a flow-stats entry parsed by os-ken and turned into a ``Flow``
(``messages.flow_from_stats``) against ``openflow.lean_stats.decode``.
Encoding: a flow-mod built and serialised by os-ken (``messages.flow_add``)
against ``openflow.lean_mods.flow_add_bytes``. Both pairs give the same
result (their unit tests compare them); this prints what each costs.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from pathlib import Path

from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tegu_ryu.openflow import lean_mods, lean_stats
from tegu_ryu.openflow.flows import Flow, Output, SetField, match
from tegu_ryu.openflow.messages import flow_add, flow_from_stats

NOW = 1_800_000_000.0
FLOW = Flow(
    priority=1010,
    match=match(in_port=1, eth_type=0x0800, ipv4_src="10.0.0.1", ipv4_dst="10.0.0.3",
                ip_proto=6, tcp_dst=5001),
    actions=(SetField("ip_dscp", 46), Output(2)),
    cookie=0x7E90020000000001,
    meter=0x10000002,
    until=NOW + 3600,
)  # fmt: skip


class _Datapath:
    ofproto = ofproto_v1_3
    ofproto_parser = ofproto_v1_3_parser


def os_ken_flow_mod(xid: int) -> bytes:
    mod = flow_add(FLOW, NOW)
    mod.datapath = _Datapath()
    mod.set_xid(xid)
    mod.serialize()
    return bytes(mod.buf)


def stats_entry() -> bytes:
    """The flow as a switch reports it: the flow-mod's match and instructions, a stats header."""
    body = os_ken_flow_mod(1)[48:]
    header = struct.pack("!HBxIIHHHH4xQQQ", 48 + len(body), 0, 100, 0, FLOW.priority, 0,
                         3600, 0, FLOW.cookie, 0, 0)  # fmt: skip
    return header + body


def per_call_us(function: object, count: int) -> float:
    began = time.perf_counter()
    for n in range(count):
        function(n)  # type: ignore[operator]
    return (time.perf_counter() - began) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    raw = stats_entry()
    generic_decode = per_call_us(
        lambda _: flow_from_stats(ofproto_v1_3_parser.OFPFlowStats.parser(raw, 0), NOW),
        args.count,
    )
    lean_decode = per_call_us(
        lambda _: lean_stats.decode(lean_stats.RawFlowStats.parser(raw, 0), NOW), args.count
    )
    generic_encode = per_call_us(os_ken_flow_mod, args.count)
    lean_encode = per_call_us(lambda n: lean_mods.flow_add_bytes(FLOW, NOW, n), args.count)
    print(
        f"decode a flow-stats entry:  os-ken {generic_decode:5.1f} us, lean {lean_decode:5.1f} us"
    )
    print(
        f"encode a flow-mod:          os-ken {generic_encode:5.1f} us, lean {lean_encode:5.1f} us"
    )


if __name__ == "__main__":
    main()
