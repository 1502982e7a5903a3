"""The local steps of the two-phase protocol, on the pure engine with a fake clock."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from tegu_ryu.errors import Conflict, NotFound
from tegu_ryu.reservations.kinds import codec_of
from tegu_ryu.reservations.lifecycle import LAPSED, Lifecycle
from tegu_ryu.reservations.model import (
    Bandwidth,
    Direction,
    RemoteEnd,
    State,
    StitchReservation,
    StitchRole,
)
from tegu_ryu.reservations.store import decode_reservation, encode_reservation
from tegu_ryu.reservations.window import Window
from tegu_ryu.stitching import protocol
from tegu_ryu.stitching.protocol import SegmentRequest
from tegu_ryu.topology.refs import PortRef, from_host, to_host

from .stitch_fixtures import STITCH_PORT, M, domain

FAR_HOSTS = itertools.count(1)


def ask(
    host: str = "h1",
    out: int = 20 * M,
    window: Window = Window(0, 100),
    role: StitchRole = StitchRole.ORIGIN,
    label: int | None = None,
) -> SegmentRequest:
    """A segment to a far host no other segment joins (two to one far host are duplicates)."""
    n = next(FAR_HOSTS)
    far = RemoteEnd(
        "siteB", f"hB{n}", f"00:00:00:00:0b:{n % 256:02x}", f"10.1.{n // 256}.{n % 256}"
    )
    return SegmentRequest(role, host, far, Bandwidth(out, out), window, label=label)


def test_two_segments_joining_the_same_two_hosts_over_overlapping_windows_are_refused() -> None:
    engine, settings, host = domain()
    first = protocol.hold(engine, settings, 0, "acme", ask(host.mac))
    again = replace(ask(host.mac), remote=first.remote)
    with pytest.raises(Conflict) as refused:
        protocol.hold(engine, settings, 0, "acme", again)
    assert refused.value.code == "duplicate" and refused.value.details == {"reservation": first.id}
    by_address = replace(again, remote=RemoteEnd("siteB", "10.9.9.9", None, first.remote.ip))
    with pytest.raises(Conflict) as named_otherwise:
        protocol.hold(engine, settings, 0, "globex", by_address)
    assert named_otherwise.value.code == "duplicate" and not named_otherwise.value.details
    later = protocol.hold(engine, settings, 0, "acme", replace(again, window=Window(100, 200)))
    assert later.state is State.HELD


def test_a_hold_books_the_segment_and_the_lowest_label() -> None:
    engine, settings, host = domain()
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac))
    assert held.state is State.HELD and held.hold_until == 30
    assert held.label == 100 and held.point == "wan" and held.handoff == "vlan"
    assert held.routes[Direction.OUT].hops[-1].out_port == STITCH_PORT.port
    assert held.routes[Direction.IN].hops[0].in_port == STITCH_PORT.port
    window = Window(0, 100)
    assert engine.ledger.peak_amount(to_host(STITCH_PORT), window) == 20 * M
    assert engine.ledger.peak_amount(from_host(STITCH_PORT), window) == 20 * M
    assert protocol.hold(engine, settings, 0, "acme", ask(host.mac)).label == 101


def test_the_peer_side_holds_the_label_it_is_told() -> None:
    engine, settings, host = domain()
    held = protocol.hold(
        engine, settings, 0, "peer:siteB", ask(host.mac, role=StitchRole.PEER, label=102)
    )
    assert held.label == 102 and held.role is StitchRole.PEER
    assert held.routes[Direction.OUT].hops[0].in_port == STITCH_PORT.port  # arrives at the port
    with pytest.raises(Conflict) as refused:
        protocol.hold(engine, settings, 0, "peer:siteB", ask(host.mac, label=102))
    assert refused.value.code == "no_label"


def test_an_exhausted_label_range_is_409_no_label_and_overlap_decides() -> None:
    engine, settings, host = domain(labels=range(100, 102))
    for _ in range(2):
        protocol.hold(engine, settings, 0, "acme", ask(host.mac, out=M))
    with pytest.raises(Conflict) as refused:
        protocol.hold(engine, settings, 0, "acme", ask(host.mac, out=M, window=Window(50, 60)))
    assert refused.value.code == "no_label" and "100-101" in refused.value.message
    later = protocol.hold(
        engine, settings, 0, "acme", ask(host.mac, out=M, window=Window(100, 200))
    )
    assert later.label == 100  # touching windows do not overlap


def test_the_stitch_points_capacity_is_booked_like_a_link() -> None:
    engine, settings, host = domain(capacity=50 * M)
    protocol.hold(engine, settings, 0, "acme", ask(host.mac, out=30 * M))
    with pytest.raises(Conflict) as refused:
        protocol.hold(engine, settings, 0, "acme", ask(host.mac, out=30 * M))
    assert refused.value.code == "no_capacity"
    assert refused.value.details is not None and refused.value.details["available_bps"] == 20 * M
    # Nothing of the refused request stayed booked: 20M still fits.
    assert protocol.hold(engine, settings, 0, "acme", ask(host.mac, out=20 * M)).label == 101


def test_an_unknown_domain_or_host_is_404() -> None:
    engine, settings, host = domain()
    far = SegmentRequest(
        StitchRole.ORIGIN, host.mac, RemoteEnd("siteZ", "hZ"), Bandwidth(M, M), Window(0, 9)
    )
    with pytest.raises(NotFound) as unknown:
        protocol.hold(engine, settings, 0, "acme", far)
    assert unknown.value.code == "unknown_domain"
    with pytest.raises(NotFound):
        protocol.hold(engine, settings, 0, "acme", ask("nobody"))


def test_commit_before_the_hold_lapses_and_a_duplicate_commit_changes_nothing() -> None:
    engine, settings, host = domain()
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac, window=Window(0, 100)))
    committed = protocol.commit(engine, 5, held.id)
    assert committed.state is State.ACTIVE and committed.hold_until is None
    version = engine.version
    assert protocol.commit(engine, 6, held.id) == committed
    assert engine.version == version


def test_a_commit_after_the_hold_lapsed_is_refused_and_frees_everything() -> None:
    engine, settings, host = domain(hold=10)
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac))
    with pytest.raises(Conflict) as late:
        protocol.commit(engine, 10, held.id)
    assert late.value.code == "hold_expired"
    assert engine.reservations[held.id].state is State.EXPIRED
    assert engine.ledger.peak_amount(to_host(STITCH_PORT), Window(0, 100)) == 0
    with pytest.raises(Conflict) as again:
        protocol.commit(engine, 11, held.id)
    assert again.value.code == "hold_expired"


def test_an_uncommitted_hold_lapses_by_itself_on_a_tick() -> None:
    engine, settings, host = domain(hold=10)
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac))
    lifecycle = Lifecycle(engine)
    assert lifecycle.tick(9.9)[0] == []
    changed, _ = lifecycle.tick(10)
    assert [r.id for r in changed] == [held.id]
    lapsed = engine.reservations[held.id]
    assert lapsed.state is State.EXPIRED and lapsed.reason == LAPSED and lapsed.ended == 10
    assert protocol.hold(engine, settings, 11, "acme", ask(host.mac)).label == 100  # label free
    assert engine.ledger.peak_amount(to_host(STITCH_PORT), Window(11, 100)) == 20 * M


def test_a_committed_segment_stays_committed_when_its_path_is_found_again() -> None:
    engine, settings, host = domain()
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac, window=Window(10, 100)))
    committed = protocol.commit(engine, 1, held.id)
    assert committed.state is State.PENDING
    again = engine.readmit(2, committed)
    assert again.state is State.PENDING
    held_again = engine.readmit(2, protocol.hold(engine, settings, 0, "acme", ask(host.mac)))
    assert held_again.state is State.HELD


def test_abort_releases_and_is_harmless_twice() -> None:
    engine, settings, host = domain(labels=range(100, 101))
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac))
    aborted = protocol.abort(engine, 1, held.id, "the peer refused")
    assert aborted.state is State.CANCELLED and aborted.reason == "the peer refused"
    assert protocol.abort(engine, 2, held.id, "again") == aborted
    assert protocol.hold(engine, settings, 2, "acme", ask(host.mac)).label == 100
    with pytest.raises(NotFound):
        protocol.abort(engine, 2, "r-nothing", "why")


def test_modify_keeps_the_label_and_rebooks() -> None:
    engine, settings, host = domain(capacity=50 * M, labels=range(100, 101))
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac, out=20 * M))
    protocol.commit(engine, 1, held.id)
    changed = protocol.modify(engine, settings, 2, held.id, (200, Bandwidth(40 * M, 40 * M)))
    assert changed.label == 100 and changed.window == Window(0, 200)
    assert engine.ledger.peak_amount(to_host(STITCH_PORT), Window(0, 200)) == 40 * M
    with pytest.raises(Conflict) as refused:
        protocol.modify(engine, settings, 3, held.id, (None, Bandwidth(60 * M, 60 * M)))
    assert refused.value.code == "no_capacity"
    assert engine.ledger.peak_amount(to_host(STITCH_PORT), Window(0, 200)) == 40 * M


def test_the_label_blocks_a_longer_window_that_would_overlap_another() -> None:
    engine, settings, host = domain(labels=range(100, 101))
    first = protocol.hold(engine, settings, 0, "acme", ask(host.mac, out=M, window=Window(0, 50)))
    protocol.hold(engine, settings, 0, "acme", ask(host.mac, out=M, window=Window(50, 90)))
    with pytest.raises(Conflict) as refused:
        protocol.modify(engine, settings, 1, first.id, (60, None))
    assert refused.value.code == "no_label"
    assert engine.reservations[first.id].window == Window(0, 50)


def test_a_segment_survives_the_store_codec() -> None:
    engine, settings, host = domain()
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac))
    pending = replace(held, peer_id="r-far", peer_pending="cancel")
    assert (
        isinstance(codec_of("stitch").record, type) and codec_of("stitch").problems(pending) == []
    )
    restored = decode_reservation(encode_reservation(pending))
    assert isinstance(restored, StitchReservation) and restored == pending


def test_a_hold_whose_path_broke_stays_degraded_through_its_commit() -> None:
    engine, settings, host = domain()
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac))
    broken = replace(held, state=State.DEGRADED, routes={}, reason="no path")
    engine.put(broken)
    assert broken.state_at(1) is State.DEGRADED  # not back to held with no path
    assert broken.state_at(31) is State.EXPIRED  # and it still lapses
    committed = protocol.commit(engine, 1, held.id)
    assert committed.state is State.DEGRADED and committed.hold_until is None


def test_an_owed_cancel_outlives_retention() -> None:
    engine, settings, host = domain()
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac))
    ended = protocol.abort(engine, 1, held.id, "cancelled")
    engine.put(replace(ended, peer_pending="cancel"))
    engine.retention = 10
    Lifecycle(engine).tick(100)
    assert held.id in engine.reservations  # the peer has not heard yet: kept
    engine.put(replace(engine.reservations[held.id], peer_pending=None))
    Lifecycle(engine).tick(200)
    assert held.id not in engine.reservations


def test_an_abort_says_ended_to_a_later_commit() -> None:
    engine, settings, host = domain()
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac))
    protocol.abort(engine, 1, held.id, "the origin gave up")
    with pytest.raises(Conflict) as refused:
        protocol.commit(engine, 2, held.id)
    assert refused.value.code == "ended"


def test_a_local_host_that_moves_takes_its_segment_with_it() -> None:
    engine, settings, host = domain()
    held = protocol.hold(engine, settings, 0, "acme", ask(host.mac))
    committed = protocol.commit(engine, 1, held.id)
    assert committed.routes[Direction.OUT].hops[0].dpid == 1
    new_port = PortRef(2, 5)
    engine.topology.add_static_host(replace(host, attach=new_port))
    (moved,) = Lifecycle(engine).refresh(2, host.mac)
    assert isinstance(moved, StitchReservation) and moved.local.attach == new_port
    first = moved.routes[Direction.OUT].hops[0]
    assert (first.dpid, first.in_port) == (2, new_port.port)  # now starts on s2
    assert moved.state is State.ACTIVE and moved.label == committed.label
