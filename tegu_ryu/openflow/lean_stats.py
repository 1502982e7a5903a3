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

import struct
from typing import Any

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from tegu_ryu.openflow import oxm
from tegu_ryu.openflow.flows import Action, Flow, Output, PopVlan, PushVlan, SetField, SetQueue
from tegu_ryu.openflow.messages import FULL_METADATA, flow_from_stats

_ENTRY = struct.Struct("!HBxIIHHHH4xQQQ")  # ofp_flow_stats up to the match
_MATCH = struct.Struct("!HH")
_OXM = struct.Struct("!HBB")
_TLV = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_OUTPUT = struct.Struct("!I")
_U16 = struct.Struct("!H")
_METADATA = struct.Struct("!QQ")


class _Unusual(Exception):
    """Something this decoder leaves to os-ken's parser."""


class Undecodable(ValueError):
    """A flow-stats entry neither this decoder nor os-ken's parser can read."""


class RawFlowStats:
    """One flow-stats entry, still bytes: what os-ken's reply keeps in ``body``.

    ``install`` changes this for every app in the process, so an entry still
    behaves as os-ken's ``OFPFlowStats`` to any other app that reads flow
    stats: its attributes are parsed by os-ken on first use.
    """

    __slots__ = ("_parsed", "buf", "length", "offset")

    def __init__(self, buf: bytes, offset: int, length: int) -> None:
        self.buf, self.offset, self.length = buf, offset, length
        self._parsed: Any = None

    @classmethod
    def parser(cls, buf: bytes, offset: int) -> RawFlowStats:
        return cls(buf, offset, int.from_bytes(buf[offset : offset + 2], "big"))

    def __getattr__(self, name: str) -> Any:
        if self._parsed is None:
            self._parsed = parser.OFPFlowStats.parser(self.buf, self.offset)
        return getattr(self._parsed, name)


def install() -> None:
    """Make os-ken keep flow-stats entries as bytes (see the module's docstring for why)."""
    parser.OFPFlowStatsReply.cls_stats_body_cls = RawFlowStats


def decode(entry: Any, now: float) -> tuple[Flow, float | None]:
    """The ``Flow`` one entry describes and when it will time out, as ``flow_from_stats``.

    Raises Undecodable for an entry no parser can read (a switch's bug): the
    caller skips it, and the reconciler then installs what should be there.
    """
    if not isinstance(entry, RawFlowStats):
        return flow_from_stats(entry, now)  # already parsed (install() was not called)
    try:
        return _decode(entry.buf, entry.offset, now)
    except (_Unusual, oxm.UnknownField, struct.error, ValueError, OSError):
        pass
    try:
        return flow_from_stats(parser.OFPFlowStats.parser(entry.buf, entry.offset), now)
    except Exception as exc:
        raise Undecodable(f"{type(exc).__name__}: {exc}") from exc


def _decode(buf: bytes, offset: int, now: float) -> tuple[Flow, float | None]:
    (length, table, duration, _, priority, _, hard, _, cookie, _, _) = _ENTRY.unpack_from(
        buf, offset
    )
    end = offset + length
    at = offset + _ENTRY.size
    match_type, match_length = _MATCH.unpack_from(buf, at)
    if match_type != ofp.OFPMT_OXM:
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
    metadata: int | None = None
    while at < end:
        kind, size = _TLV.unpack_from(buf, at)
        if kind == ofp.OFPIT_METER:
            meter = _U32.unpack_from(buf, at + 4)[0]
        elif kind == ofp.OFPIT_GOTO_TABLE:
            goto = buf[at + 4]
        elif kind == ofp.OFPIT_APPLY_ACTIONS:
            actions.extend(_actions(buf, at + 8, at + size))
        elif kind == ofp.OFPIT_WRITE_METADATA:
            metadata, mask = _METADATA.unpack_from(buf, at + 8)
            if mask != FULL_METADATA:
                raise _Unusual
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
        metadata=metadata,
    )
    return flow, (now - duration + hard if hard else None)


def _oxm(buf: bytes, at: int) -> tuple[str, int | str, int]:
    """One OXM TLV: (os-ken's field name, its value as os-ken gives it, where the next starts)."""
    oxm_class, field_and_mask, size = _OXM.unpack_from(buf, at)
    if oxm_class != ofp.OFPXMC_OPENFLOW_BASIC or field_and_mask & 1:
        raise _Unusual
    start = at + 4
    name, value = oxm.decode(field_and_mask >> 1, bytes(buf[start : start + size]))
    return name, value, start + size


def _actions(buf: bytes, at: int, end: int) -> list[Action]:
    found: list[Action] = []
    while at < end:
        kind, size = _TLV.unpack_from(buf, at)
        if kind == ofp.OFPAT_OUTPUT:
            found.append(Output(_OUTPUT.unpack_from(buf, at + 4)[0]))
        elif kind == ofp.OFPAT_SET_FIELD:
            name, value, _ = _oxm(buf, at + 4)
            found.append(SetField(name, value))
        elif kind == ofp.OFPAT_PUSH_VLAN:
            found.append(PushVlan(_U16.unpack_from(buf, at + 4)[0]))
        elif kind == ofp.OFPAT_POP_VLAN:
            found.append(PopVlan())
        elif kind == ofp.OFPAT_SET_QUEUE:
            found.append(SetQueue(_U32.unpack_from(buf, at + 4)[0]))
        else:
            raise _Unusual
        at += size
    return found
