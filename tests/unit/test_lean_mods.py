"""The lean flow-mod encoder writes exactly the bytes os-ken's serialisation writes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tegu_ryu.openflow import lean_mods
from tegu_ryu.openflow.flows import Flow, Meter, Opaque, Output, match
from tegu_ryu.openflow.messages import (
    barrier_request,
    flow_add,
    flow_delete,
    meter_mod,
    serialized,
)

from .test_lean_stats import NOW, flows


@settings(max_examples=400, deadline=None)
@given(
    flow=flows, until=st.none() | st.floats(NOW - 10, NOW + 10**6), xid=st.integers(0, 2**32 - 1)
)
def test_flow_adds_are_byte_for_byte_os_kens(flow: Flow, until: float | None, xid: int) -> None:
    flow = Flow(**{**flow.__dict__, "until": until})
    assert lean_mods.flow_add_bytes(flow, NOW, xid) == serialized(flow_add(flow, NOW), xid)


@settings(max_examples=200, deadline=None)
@given(flow=flows, xid=st.integers(0, 2**32 - 1))
def test_strict_deletes_are_byte_for_byte_os_kens(flow: Flow, xid: int) -> None:
    assert lean_mods.flow_delete_bytes(flow, xid) == serialized(flow_delete(flow), xid)


@settings(max_examples=200, deadline=None)
@given(
    meter=st.builds(
        Meter,
        id=st.integers(1, 0xFFFF0000),
        rate_kbps=st.integers(1, 2**32 - 1),
        burst_kbit=st.integers(0, 2**32 - 1),
    ),
    command=st.sampled_from(["add", "modify", "delete"]),
    xid=st.integers(0, 2**32 - 1),
)
def test_meter_mods_and_barriers_are_byte_for_byte_os_kens(
    meter: Meter, command: str, xid: int
) -> None:
    assert lean_mods.meter_mod_bytes(meter, command, xid) == serialized(
        meter_mod(meter, command), xid
    )
    assert lean_mods.barrier_bytes(xid) == serialized(barrier_request(), xid)


def test_what_it_does_not_encode_goes_through_os_ken() -> None:
    odd = Flow(priority=1, match=match(in_port=1), actions=(Output(2),), cookie=1, table=0)
    unknown = Flow(**{**odd.__dict__, "match": (("no_such_field", 1),)})
    opaque = Flow(**{**odd.__dict__, "actions": (Opaque("from a switch"),)})
    assert lean_mods.flow_delete_bytes(odd, 5) == serialized(flow_delete(odd), 5)
    for flow in (unknown, opaque):
        try:
            expected = serialized(flow_add(flow, NOW), 5)
        except (KeyError, ValueError):
            continue  # os-ken refuses it too: the same error reaches the caller
        assert lean_mods.flow_add_bytes(flow, NOW, 5) == expected
