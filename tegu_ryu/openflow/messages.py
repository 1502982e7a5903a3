"""Translation between ``Flow``/``Meter`` values and OpenFlow 1.3 messages (os-ken objects).

Messages are built with ``datapath=None``; the one function that sends
attaches the datapath. ``flow_from_stats`` and ``meter_from_stats`` are the
inverses of ``flow_add`` and ``meter_mod`` for everything we install, which
is what lets the reconciler compare a switch with the desired state.
"""

from __future__ import annotations

import struct
from typing import Any

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from tegu_ryu.enforcement.backends import MeterFeatures
from tegu_ryu.enforcement.conformance import MeterCount
from tegu_ryu.openflow.flows import (
    OFPCML_NO_BUFFER,
    OFPP_CONTROLLER,
    Action,
    Flow,
    Meter,
    Opaque,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    SetQueue,
    hard_timeout,
    match,
)

FULL_METADATA = 0xFFFF_FFFF_FFFF_FFFF  # the mask tegu_ryu writes metadata with


class _Unconnected:
    """What os-ken's serialisation needs of a datapath: its OpenFlow 1.3 modules."""

    ofproto = ofp
    ofproto_parser = parser


def serialized(msg: Any, xid: int) -> bytes:
    """``msg`` as os-ken writes it on the wire with ``xid``, without a connection."""
    msg.datapath = _Unconnected()
    msg.set_xid(xid)
    msg.serialize()
    return bytes(msg.buf)


def flow_add(flow: Flow, now: float) -> Any:
    """An OFPFC_ADD that installs ``flow``, replacing an entry with the same key."""
    return parser.OFPFlowMod(
        datapath=None,
        cookie=flow.cookie,
        table_id=flow.table,
        command=ofp.OFPFC_ADD,
        hard_timeout=hard_timeout(flow, now),
        priority=flow.priority,
        buffer_id=ofp.OFP_NO_BUFFER,
        match=parser.OFPMatch(**dict(flow.match)),
        instructions=_instructions(flow),
    )


def flow_delete(flow: Flow) -> Any:
    """An OFPFC_DELETE_STRICT for exactly this entry, limited to its cookie."""
    return parser.OFPFlowMod(
        datapath=None,
        cookie=flow.cookie,
        cookie_mask=0xFFFFFFFFFFFFFFFF,
        table_id=flow.table,
        command=ofp.OFPFC_DELETE_STRICT,
        priority=flow.priority,
        out_port=ofp.OFPP_ANY,
        out_group=ofp.OFPG_ANY,
        match=parser.OFPMatch(**dict(flow.match)),
    )


def meter_mod(meter: Meter, command: str) -> Any:
    """Add, modify or delete a meter (``command`` is "add", "modify" or "delete"), as os-ken
    builds it: the reference ``lean_mods.meter_mod_bytes`` is checked against."""
    commands = {"add": ofp.OFPMC_ADD, "modify": ofp.OFPMC_MODIFY, "delete": ofp.OFPMC_DELETE}
    bands = []
    if command != "delete":
        bands.append(parser.OFPMeterBandDrop(rate=meter.rate_kbps, burst_size=meter.burst_kbit))
    return parser.OFPMeterMod(
        datapath=None,
        command=commands[command],
        flags=ofp.OFPMF_KBPS | ofp.OFPMF_BURST,
        meter_id=meter.id,
        bands=bands,
    )


def flow_stats_request(cookie: int, cookie_mask: int) -> Any:
    """Ask for every flow, in every table, whose cookie matches under ``cookie_mask``."""
    return parser.OFPFlowStatsRequest(
        datapath=None,
        table_id=ofp.OFPTT_ALL,
        out_port=ofp.OFPP_ANY,
        out_group=ofp.OFPG_ANY,
        cookie=cookie,
        cookie_mask=cookie_mask,
        match=parser.OFPMatch(),
    )


def meter_config_request() -> Any:
    return parser.OFPMeterConfigStatsRequest(datapath=None, meter_id=ofp.OFPM_ALL)


def barrier_request() -> Any:
    """A barrier as os-ken builds it (what ``lean_mods.barrier_bytes`` is checked against)."""
    return parser.OFPBarrierRequest(datapath=None)


_ECHO = struct.Struct("!8sd")
_ECHO_TAG = b"tegu-ryu"


def echo_request(now: float) -> Any:
    """An echo request that carries when it was sent (the reply returns the data)."""
    return parser.OFPEchoRequest(datapath=None, data=_ECHO.pack(_ECHO_TAG, now))


def echo_sent_at(data: bytes | None) -> float | None:
    """When the echo request this reply answers was sent, if it was one of ours."""
    if not data or len(data) != _ECHO.size:
        return None
    tag, sent = _ECHO.unpack(bytes(data))
    return float(sent) if tag == _ECHO_TAG else None


def packet_out(port: int, data: bytes) -> Any:
    """Inject ``data`` out of ``port``, as if it came from the controller."""
    return parser.OFPPacketOut(
        datapath=None,
        buffer_id=ofp.OFP_NO_BUFFER,
        in_port=ofp.OFPP_CONTROLLER,
        actions=[parser.OFPActionOutput(port, 0)],
        data=data,
    )


def flow_from_stats(stats: Any, now: float) -> tuple[Flow, float | None]:
    """The ``Flow`` a switch's flow-stats entry describes, and when it will time out."""
    actions: list[Action] = []
    meter: int | None = None
    goto: int | None = None
    metadata: int | None = None
    for instruction in stats.instructions:
        if isinstance(instruction, parser.OFPInstructionMeter):
            meter = instruction.meter_id
        elif isinstance(instruction, parser.OFPInstructionGotoTable):
            goto = instruction.table_id
        elif (
            isinstance(instruction, parser.OFPInstructionWriteMetadata)
            and instruction.metadata_mask == FULL_METADATA
        ):
            metadata = instruction.metadata
        elif (
            isinstance(instruction, parser.OFPInstructionActions)
            and instruction.type == ofp.OFPIT_APPLY_ACTIONS
        ):
            actions.extend(_action_from_parser(action) for action in instruction.actions)
        else:
            actions.append(Opaque(str(instruction)))
    flow = Flow(
        priority=stats.priority,
        match=match(**dict(stats.match.items())),
        actions=tuple(actions),
        cookie=stats.cookie,
        table=stats.table_id,
        meter=meter,
        goto=goto,
        metadata=metadata,
    )
    deadline = now - stats.duration_sec + stats.hard_timeout if stats.hard_timeout else None
    return flow, deadline


def meter_features_request() -> Any:
    """Ask a switch how many meters it has, of which band types and with which flags."""
    return parser.OFPMeterFeaturesStatsRequest(datapath=None, flags=0)


def meter_features(stats: Any) -> MeterFeatures:
    """The features one meter-features reply entry describes (band types and capabilities are
    bitmaps of 1 << band type and of the meter flags)."""
    return MeterFeatures(
        max_meters=int(stats.max_meter),
        drop_band=bool(stats.band_types & (1 << ofp.OFPMBT_DROP)),
        kbps=bool(stats.capabilities & ofp.OFPMF_KBPS),
        burst=bool(stats.capabilities & ofp.OFPMF_BURST),
    )


def meter_stats_request() -> Any:
    """Ask a switch for every meter's counters."""
    return parser.OFPMeterStatsRequest(datapath=None, flags=0, meter_id=ofp.OFPM_ALL)


def meter_count(stats: Any) -> MeterCount:
    """A meter's counters: bytes in, and bytes its (one, drop) band dropped."""
    dropped = sum(int(band.byte_band_count) for band in stats.band_stats)
    return MeterCount(int(stats.meter_id), int(stats.byte_in_count), dropped)


def meter_from_stats(stats: Any) -> Meter:
    """The ``Meter`` a meter-config entry describes (any band but one drop band is opaque)."""
    bands = stats.bands
    if (
        len(bands) == 1
        and isinstance(bands[0], parser.OFPMeterBandDrop)
        and stats.flags & ofp.OFPMF_KBPS
    ):
        return Meter(stats.meter_id, bands[0].rate, bands[0].burst_size)
    return Meter(stats.meter_id, -1, -1, description="not one tegu_ryu installs")


def _instructions(flow: Flow) -> list[Any]:
    instructions: list[Any] = []
    if flow.meter is not None:
        instructions.append(parser.OFPInstructionMeter(flow.meter, ofp.OFPIT_METER))
    if flow.actions:
        instructions.append(
            parser.OFPInstructionActions(
                ofp.OFPIT_APPLY_ACTIONS, [_action_to_parser(a) for a in flow.actions]
            )
        )
    if flow.metadata is not None:
        instructions.append(parser.OFPInstructionWriteMetadata(flow.metadata, FULL_METADATA))
    if flow.goto is not None:
        instructions.append(parser.OFPInstructionGotoTable(flow.goto))
    return instructions


def _action_to_parser(action: Action) -> Any:
    if isinstance(action, Output):
        max_len = OFPCML_NO_BUFFER if action.port == OFPP_CONTROLLER else 0
        return parser.OFPActionOutput(action.port, max_len)
    if isinstance(action, SetField):
        return parser.OFPActionSetField(**{action.field: action.value})
    if isinstance(action, PushVlan):
        return parser.OFPActionPushVlan(action.ethertype)
    if isinstance(action, PopVlan):
        return parser.OFPActionPopVlan()
    if isinstance(action, SetQueue):
        return parser.OFPActionSetQueue(action.queue_id)
    raise ValueError(f"{action} comes from a switch and cannot be installed")


def _action_from_parser(action: Any) -> Action:
    if isinstance(action, parser.OFPActionOutput):
        return Output(action.port)
    if isinstance(action, parser.OFPActionSetField):
        return SetField(action.key, action.value)
    if isinstance(action, parser.OFPActionPushVlan):
        return PushVlan(action.ethertype)
    if isinstance(action, parser.OFPActionPopVlan):
        return PopVlan()
    if isinstance(action, parser.OFPActionSetQueue):
        return SetQueue(action.queue_id)
    return Opaque(str(action))
