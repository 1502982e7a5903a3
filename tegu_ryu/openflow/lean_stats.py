"""Flow-stats replies decoded straight from their bytes into ``Flow`` values.

Reading a switch back is what a restart costs: tens of thousands of flow
entries. os-ken's generic parser builds an object tree per entry (a match
object, a list of instruction objects, their actions) in the connection's
receive thread, about half a millisecond each here; while it works, that
switch's echo requests go unanswered, and Open vSwitch drops a controller
that misses them. So flow-stats replies are not parsed there at all:
``install`` makes os-ken keep each entry as its raw bytes (``RawFlowStats``),
and ``decode`` turns them into exactly what ``messages.flow_from_stats``
would have made, reading only what the comparison needs, with ``struct``.

Everything tegu_ryu installs is decoded here: OpenFlow-basic match fields,
meter, goto-table and apply-actions instructions with output and set-field
actions. An entry with anything else (a masked field, an experimenter
field, another instruction or action) is handed to os-ken's parser and
``flow_from_stats``, so the result never depends on which path took it.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any

from os_ken.lib import addrconv
from os_ken.ofproto import ofproto_v1_3_parser as parser

from tegu_ryu.openflow.flows import Action, Flow, Output, SetField
from tegu_ryu.openflow.messages import flow_from_stats

_ENTRY = struct.Struct("!HBxIIHHHH4xQQQ")  # ofp_flow_stats up to the match
_MATCH = struct.Struct("!HH")
_OXM = struct.Struct("!HBB")
_TLV = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_OUTPUT = struct.Struct("!I")
_OXM_BASIC = 0x8000
_OFPIT_GOTO_TABLE, _OFPIT_APPLY_ACTIONS, _OFPIT_METER = 1, 4, 6
_OFPAT_OUTPUT, _OFPAT_SET_FIELD = 0, 25


def _mac(raw: bytes) -> str:
    return raw.hex(":")


def _ipv4(raw: bytes) -> str:
    return socket.inet_ntoa(raw)


def _ipv6(raw: bytes) -> str:
    return str(addrconv.ipv6.bin_to_text(raw))  # os-ken's own text form (netaddr's)


def _int(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


# OpenFlow-basic OXM field number -> (os-ken's name, how os-ken gives its value)
_FIELDS: dict[int, tuple[str, Any]] = {
    0: ("in_port", _int), 1: ("in_phy_port", _int), 2: ("metadata", _int),
    3: ("eth_dst", _mac), 4: ("eth_src", _mac), 5: ("eth_type", _int), 6: ("vlan_vid", _int),
    7: ("vlan_pcp", _int), 8: ("ip_dscp", _int), 9: ("ip_ecn", _int), 10: ("ip_proto", _int),
    11: ("ipv4_src", _ipv4), 12: ("ipv4_dst", _ipv4), 13: ("tcp_src", _int),
    14: ("tcp_dst", _int), 15: ("udp_src", _int), 16: ("udp_dst", _int), 17: ("sctp_src", _int),
    18: ("sctp_dst", _int), 19: ("icmpv4_type", _int), 20: ("icmpv4_code", _int),
    21: ("arp_op", _int), 22: ("arp_spa", _ipv4), 23: ("arp_tpa", _ipv4), 24: ("arp_sha", _mac),
    25: ("arp_tha", _mac), 26: ("ipv6_src", _ipv6), 27: ("ipv6_dst", _ipv6),
    28: ("ipv6_flabel", _int), 29: ("icmpv6_type", _int), 30: ("icmpv6_code", _int),
    31: ("ipv6_nd_target", _ipv6), 32: ("ipv6_nd_sll", _mac), 33: ("ipv6_nd_tll", _mac),
    34: ("mpls_label", _int), 35: ("mpls_tc", _int), 36: ("mpls_bos", _int),
    37: ("pbb_isid", _int), 38: ("tunnel_id", _int), 39: ("ipv6_exthdr", _int),
}  # fmt: skip


class _Unusual(Exception):
    """Something this decoder leaves to os-ken's parser."""


@dataclass(frozen=True, slots=True)
class RawFlowStats:
    """One flow-stats entry, still bytes: what os-ken's reply keeps in ``body``."""

    buf: bytes
    offset: int
    length: int

    @classmethod
    def parser(cls, buf: bytes, offset: int) -> RawFlowStats:
        return cls(buf, offset, int.from_bytes(buf[offset : offset + 2], "big"))


def install() -> None:
    """Make os-ken keep flow-stats entries as bytes (see the module's docstring for why)."""
    parser.OFPFlowStatsReply.cls_stats_body_cls = RawFlowStats


def decode(entry: Any, now: float) -> tuple[Flow, float | None]:
    """The ``Flow`` one entry describes and when it will time out, as ``flow_from_stats``."""
    if not isinstance(entry, RawFlowStats):
        return flow_from_stats(entry, now)  # already parsed (install() was not called)
    try:
        return _decode(entry.buf, entry.offset, now)
    except (_Unusual, KeyError, struct.error, ValueError):
        return flow_from_stats(parser.OFPFlowStats.parser(entry.buf, entry.offset), now)


def _decode(buf: bytes, offset: int, now: float) -> tuple[Flow, float | None]:
    (length, table, duration, _, priority, _, hard, _, cookie, _, _) = _ENTRY.unpack_from(
        buf, offset
    )
    end = offset + length
    at = offset + _ENTRY.size
    match_type, match_length = _MATCH.unpack_from(buf, at)
    if match_type != 1:
        raise _Unusual
    fields = []
    field_at, match_end = at + 4, at + match_length
    while field_at < match_end:
        name, value, field_at = _oxm(buf, field_at)
        fields.append((name, value))
    at += (match_length + 7) // 8 * 8
    actions: list[Action] = []
    meter: int | None = None
    goto: int | None = None
    while at < end:
        kind, size = _TLV.unpack_from(buf, at)
        if kind == _OFPIT_METER:
            meter = _U32.unpack_from(buf, at + 4)[0]
        elif kind == _OFPIT_GOTO_TABLE:
            goto = buf[at + 4]
        elif kind == _OFPIT_APPLY_ACTIONS:
            actions.extend(_actions(buf, at + 8, at + size))
        else:
            raise _Unusual
        at += size
    flow = Flow(
        priority=priority,
        match=tuple(sorted(fields)),
        actions=tuple(actions),
        cookie=cookie,
        table=table,
        meter=meter,
        goto=goto,
    )
    return flow, (now - duration + hard if hard else None)


def _oxm(buf: bytes, at: int) -> tuple[str, int | str, int]:
    """One OXM TLV: (os-ken's field name, its value as os-ken gives it, where the next starts)."""
    oxm_class, field_and_mask, size = _OXM.unpack_from(buf, at)
    if oxm_class != _OXM_BASIC or field_and_mask & 1:
        raise _Unusual
    name, convert = _FIELDS[field_and_mask >> 1]
    start = at + 4
    return name, convert(bytes(buf[start : start + size])), start + size


def _actions(buf: bytes, at: int, end: int) -> list[Action]:
    found: list[Action] = []
    while at < end:
        kind, size = _TLV.unpack_from(buf, at)
        if kind == _OFPAT_OUTPUT:
            found.append(Output(_OUTPUT.unpack_from(buf, at + 4)[0]))
        elif kind == _OFPAT_SET_FIELD:
            name, value, _ = _oxm(buf, at + 4)
            found.append(SetField(name, value))
        else:
            raise _Unusual
        at += size
    return found
