"""The pure part of the OVSDB rows: the changes from what a bridge holds to what it should hold,
and the wire form an agent receives them in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tegu_ryu.ovsdb.rows import (
    BridgeRows,
    PortQueues,
    QueueRow,
    TunnelPort,
    row_changes,
    rows_from_wire,
    rows_to_wire,
)

tunnels = st.builds(
    TunnelPort,
    name=st.sampled_from(["tegu-t64000", "tegu-t64001", "tegu-t64002"]),
    kind=st.sampled_from(["gre", "vxlan"]),
    remote_ip=st.sampled_from(["10.99.0.3", "10.99.0.4"]),
    key=st.none() | st.just("flow") | st.integers(0, 2**24 - 1),
    ofport=st.integers(64000, 64002),
    reservation=st.sampled_from(["r-1", "r-2"]),
)
queue_sets = st.builds(
    lambda port, rate, entries: PortQueues(port, rate, tuple(sorted(set(entries)))),
    port=st.integers(1, 3),
    rate=st.integers(1, 10**9),
    entries=st.lists(
        st.builds(
            QueueRow, st.integers(1, 4), st.integers(1, 10**9), st.integers(1, 10**9), st.just("r")
        ),
        max_size=3,
    ),
)
bridge_rows = st.builds(
    lambda ts, qs: BridgeRows(
        frozenset({t.name: t for t in ts}.values()), {q.ofport: q for q in qs}
    ),
    st.lists(tunnels, max_size=3),
    st.lists(queue_sets, max_size=3),
)


def applied(held: BridgeRows, desired: BridgeRows, foreign: frozenset[int]) -> BridgeRows:
    """What the bridge holds after the changes (a model of the transaction)."""
    changes = row_changes("b", desired, held, foreign)
    names = {t.name: t for t in held.tunnels if t.name not in changes.delete_tunnels}
    names.update({t.name: t for t in changes.add_tunnels})
    queues = {p: q for p, q in held.queues.items() if p not in changes.clear_queues}
    queues.update({q.ofport: q for q in changes.set_queues})
    return BridgeRows(frozenset(names.values()), queues)


@given(bridge_rows, bridge_rows, st.frozensets(st.integers(1, 3)))
def test_changes_bring_the_bridge_to_what_is_desired_and_then_to_nothing_more(
    held: BridgeRows, desired: BridgeRows, foreign: frozenset[int]
) -> None:
    held = BridgeRows(held.tunnels, {p: q for p, q in held.queues.items() if p not in foreign})
    after = applied(held, desired, foreign)
    assert after.tunnels == desired.tunnels
    assert after.queues == {p: q for p, q in desired.queues.items() if p not in foreign}
    assert not row_changes("b", desired, after, foreign)


def test_a_tunnel_that_changed_is_replaced_and_an_equal_one_is_left() -> None:
    old = TunnelPort("tegu-t64000", "gre", "10.99.0.3", None, 64000, "r-1")
    new = TunnelPort("tegu-t64000", "gre", "10.99.0.3", 5, 64000, "r-1")
    changes = row_changes("b", BridgeRows(frozenset({new})), BridgeRows(frozenset({old})))
    assert changes.delete_tunnels == ("tegu-t64000",) and changes.add_tunnels == (new,)
    assert not row_changes("b", BridgeRows(frozenset({old})), BridgeRows(frozenset({old})))


@given(bridge_rows)
def test_the_wire_form_round_trips(rows: BridgeRows) -> None:
    assert rows_from_wire(rows_to_wire(rows)) == rows


@pytest.mark.parametrize(
    "value",
    [
        None,
        {},
        {"tunnels": [[1]], "queues": []},
        {"tunnels": [["n", "ipip", "1.2.3.4", None, 1, "r"]], "queues": []},
    ],
)
def test_anything_else_on_the_wire_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        rows_from_wire(value)


@pytest.mark.parametrize("key", ["flow", 5, None])
def test_a_tunnel_keeps_its_key_in_its_options(key: int | str | None) -> None:
    tunnel = TunnelPort("tegu-swan", "gre", "10.99.0.3", key, 63000, "")  # type: ignore[arg-type]
    assert tunnel.options() == {
        "remote_ip": "10.99.0.3",
        **({} if key is None else {"key": str(key)}),
    }


def test_a_tunnel_key_on_the_wire_is_a_number_or_flow() -> None:
    wire = {"tunnels": [["tegu-swan", "gre", "10.99.0.3", "lots", 63000, ""]], "queues": []}
    with pytest.raises(ValueError, match="tunnel key"):
        rows_from_wire(wire)
