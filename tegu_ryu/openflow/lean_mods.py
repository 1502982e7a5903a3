"""Flow-mods (and the meter-mods and barriers sent with them) encoded straight to bytes.

A burst of reservations is thousands of flow-mods. Built as os-ken objects
(a match object, instruction and action objects) and serialised, each costs
the controller about a tenth of a millisecond, which made it, not the
switch, the limit on how fast reservations are installed. These functions
pack the same bytes directly with ``struct`` (their test compares them with
os-ken's serialisation, byte for byte, for every field and action
tegu_ryu uses); a flow with anything else goes through os-ken as before.
"""

from __future__ import annotations

import struct

from os_ken.ofproto import ofproto_v1_3 as ofp

from tegu_ryu.openflow import oxm
from tegu_ryu.openflow.flows import (
    Flow,
    Meter,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    SetQueue,
    hard_timeout,
)
from tegu_ryu.openflow.messages import FULL_METADATA, flow_add, flow_delete, serialized

_FIXED = struct.Struct("!BBHIQQBBHHHIIIH2x")  # header and ofp_flow_mod up to the match
_MATCH = struct.Struct("!HH")
_METER = struct.Struct("!HHI")
_GOTO = struct.Struct("!HHB3x")
_APPLY = struct.Struct("!HH4x")
_OUTPUT = struct.Struct("!HHIH6x")
_WRITE_METADATA = struct.Struct("!HH4xQQ")
_PUSH = struct.Struct("!HHH2x")
_POP = struct.Struct("!HH4x")
_QUEUE = struct.Struct("!HHI")
_HEADER = struct.Struct("!BBHI")
_METER_MOD = struct.Struct("!BBHIHHI")
_BAND = struct.Struct("!HHII4x")
_METER_COMMANDS = {"add": ofp.OFPMC_ADD, "modify": ofp.OFPMC_MODIFY, "delete": ofp.OFPMC_DELETE}


def flow_add_bytes(flow: Flow, now: float, xid: int) -> bytes:
    """An OFPFC_ADD of ``flow``: what ``messages.flow_add`` serialises to."""
    try:
        body = _match(flow) + _instructions(flow)
    except (oxm.UnknownField, TypeError, ValueError):
        return serialized(flow_add(flow, now), xid)  # os-ken's own
    fixed = _FIXED.pack(
        ofp.OFP_VERSION, ofp.OFPT_FLOW_MOD, _FIXED.size + len(body), xid,
        flow.cookie, 0, flow.table, ofp.OFPFC_ADD, 0, hard_timeout(flow, now), flow.priority,
        ofp.OFP_NO_BUFFER, 0, 0, 0,
    )  # fmt: skip
    return fixed + body


def flow_delete_bytes(flow: Flow, xid: int) -> bytes:
    """An OFPFC_DELETE_STRICT of exactly ``flow``, limited to its cookie."""
    try:
        body = _match(flow)
    except (oxm.UnknownField, TypeError, ValueError):
        return serialized(flow_delete(flow), xid)
    fixed = _FIXED.pack(
        ofp.OFP_VERSION, ofp.OFPT_FLOW_MOD, _FIXED.size + len(body), xid,
        flow.cookie, 0xFFFFFFFFFFFFFFFF, flow.table, ofp.OFPFC_DELETE_STRICT, 0, 0, flow.priority,
        ofp.OFP_NO_BUFFER, ofp.OFPP_ANY, ofp.OFPG_ANY, 0,
    )  # fmt: skip
    return fixed + body


def meter_mod_bytes(meter: Meter, command: str, xid: int) -> bytes:
    """An OFPT_METER_MOD: what ``messages.meter_mod`` serialises to (one drop band unless
    deleting)."""
    band = (
        b""
        if command == "delete"
        else _BAND.pack(ofp.OFPMBT_DROP, _BAND.size, meter.rate_kbps, meter.burst_kbit)
    )
    return _METER_MOD.pack(
        ofp.OFP_VERSION, ofp.OFPT_METER_MOD, _METER_MOD.size + len(band), xid,
        _METER_COMMANDS[command], ofp.OFPMF_KBPS | ofp.OFPMF_BURST, meter.id,
    ) + band  # fmt: skip


def barrier_bytes(xid: int) -> bytes:
    """An OFPT_BARRIER_REQUEST."""
    return _HEADER.pack(ofp.OFP_VERSION, ofp.OFPT_BARRIER_REQUEST, _HEADER.size, xid)


def _match(flow: Flow) -> bytes:
    fields = sorted(oxm.encode(name, value) for name, value in flow.match)
    tlvs = b"".join(tlv for _, tlv in fields)
    length = _MATCH.size + len(tlvs)
    return _MATCH.pack(ofp.OFPMT_OXM, length) + tlvs + bytes(-length % 8)


def _instructions(flow: Flow) -> bytes:
    parts = []
    if flow.meter is not None:
        parts.append(_METER.pack(ofp.OFPIT_METER, _METER.size, flow.meter))
    if flow.actions:
        actions = b"".join(_action(action) for action in flow.actions)
        parts.append(_APPLY.pack(ofp.OFPIT_APPLY_ACTIONS, _APPLY.size + len(actions)) + actions)
    if flow.metadata is not None:
        parts.append(
            _WRITE_METADATA.pack(
                ofp.OFPIT_WRITE_METADATA, _WRITE_METADATA.size, flow.metadata, FULL_METADATA
            )
        )
    if flow.goto is not None:
        parts.append(_GOTO.pack(ofp.OFPIT_GOTO_TABLE, _GOTO.size, flow.goto))
    return b"".join(parts)


def _action(action: object) -> bytes:
    if isinstance(action, Output):
        max_len = ofp.OFPCML_NO_BUFFER if action.port == ofp.OFPP_CONTROLLER else 0
        return _OUTPUT.pack(ofp.OFPAT_OUTPUT, _OUTPUT.size, action.port, max_len)
    if isinstance(action, SetField):
        _, tlv = oxm.encode(action.field, action.value)
        length = 4 + len(tlv)
        return (
            struct.pack("!HH", ofp.OFPAT_SET_FIELD, length + (-length % 8))
            + tlv
            + bytes(-length % 8)
        )
    if isinstance(action, PushVlan):
        return _PUSH.pack(ofp.OFPAT_PUSH_VLAN, _PUSH.size, action.ethertype)
    if isinstance(action, PopVlan):
        return _POP.pack(ofp.OFPAT_POP_VLAN, _POP.size)
    if isinstance(action, SetQueue):
        return _QUEUE.pack(ofp.OFPAT_SET_QUEUE, _QUEUE.size, action.queue_id)
    raise ValueError(f"{action} is not one tegu_ryu installs")
