"""The two-phase protocol between two domains, each its own service, joined by a fake peer
link that can refuse, stay silent, or die between the hold and the commit."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from tegu_ryu.errors import Conflict, InvalidField, RequestError
from tegu_ryu.reservations.memory_store import MemoryStore
from tegu_ryu.reservations.model import Bandwidth, RemoteEnd, State, StitchReservation, StitchRole
from tegu_ryu.reservations.policy import Policy
from tegu_ryu.reservations.service import ReservationService
from tegu_ryu.reservations.window import Window
from tegu_ryu.stitching.coordinator import PeerUnavailable, Stitcher, peer_view
from tegu_ryu.stitching.peer_client import PeerRefused, PeerUnreachable
from tegu_ryu.stitching.points import Handoff, Peer, StitchPoint, StitchSettings
from tegu_ryu.stitching.protocol import SegmentRequest
from tegu_ryu.tenancy import Principal
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.refs import PortRef

from .topologies import Builder

M = 10**6
HOSTS = 6  # on s1 of each site


class HostNumbers:
    """Which hN the next ``ask`` joins: 1 first in each ``pair``, then the next."""

    def __init__(self) -> None:
        self.numbers = itertools.count(1)

    def reset(self) -> None:
        self.numbers = itertools.count(1)

    def next(self) -> int:
        n = next(self.numbers)
        assert n <= HOSTS, "more segments than hosts in one test"
        return n


NEXT_HOST = HostNumbers()
ACME = Principal("acme", admin=False)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeLink:
    """Calls the other domain's peer endpoint in-process, as its HTTP handler would.

    ``down`` makes every call fail as a dead or silent peer does; ``fail_on``
    makes only that step fail; ``silent_after`` makes the peer carry out that step
    and then not answer (frozen past our timeout); ``calls`` records what was asked.
    A change's steps are ``modify:hold`` and ``modify:commit``.
    """

    me: str
    other: Stitcher | None = None
    down: bool = False
    fail_on: set[str] = field(default_factory=set)
    silent_after: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def _run(self, step: str, target: str, call: Any) -> Any:
        self.calls.append((step, target))
        if self.down or step in self.fail_on:
            raise PeerUnreachable("timed out")
        assert self.other is not None
        peer = self.other.settings.peers[self.me]
        try:
            answer = call(self.other, peer)
        except RequestError as refused:
            raise PeerRefused(refused.status, refused.code, refused.message) from None
        if step in self.silent_after or step.partition(":")[0] in self.silent_after:
            raise PeerUnreachable("timed out (the peer did it, and then froze)")
        return answer

    def hold(self, peer: Peer, body: dict[str, Any]) -> dict[str, Any]:
        return self._run("hold", "", lambda far, me: peer_view(far.peer_hold(me, body)))

    def commit(self, peer: Peer, segment: str) -> dict[str, Any]:
        return self._run("commit", segment, lambda far, me: peer_view(far.peer_commit(me, segment)))

    def cancel(self, peer: Peer, segment: str) -> None:
        self._run("cancel", segment, lambda far, me: far.peer_cancel(me, segment))

    def modify(self, peer: Peer, segment: str, body: dict[str, Any]) -> dict[str, Any]:
        step = f"modify:{body.get('step')}"
        return self._run(
            step, segment, lambda far, me: peer_view(far.peer_modify(me, segment, body))
        )


def site(
    name: str, other: str, link: FakeLink, clock: Clock, labels: range, capacity: int
) -> Stitcher:
    builder = Builder(CapacityPolicy(override_default=1000 * M))
    builder.link(1, 2)
    for _ in range(HOSTS):  # hN: 10.0.0.N, 00:00:00:00:00:0N in either domain
        builder.host(1)
    builder._next_port[2] = 10
    builder.connect_all()
    service = ReservationService(
        builder.topology, MemoryStore(), threading.RLock(), Policy(), retention=86400
    )
    ids = itertools.count()
    service.engine._new_id = lambda: f"{name}-{next(ids)}"
    point = StitchPoint("wan", other, PortRef(2, 9), Handoff("vlan", labels), capacity)
    settings = StitchSettings(
        domain=name,
        points={"wan": point},
        peers={other: Peer(other, "http://127.0.0.1:1", "shared")},
        hold_timeout=30,
    )
    return Stitcher(service, settings, link, clock)


@dataclass
class Pair:
    a: Stitcher
    b: Stitcher
    a_to_b: FakeLink
    b_to_a: FakeLink
    clock: Clock


def pair(
    labels_a: range = range(100, 104),
    labels_b: range = range(100, 104),
    capacity: int = 100 * M,
    capacity_b: int | None = None,
) -> Pair:
    NEXT_HOST.reset()
    clock = Clock()
    a_to_b, b_to_a = FakeLink("siteA"), FakeLink("siteB")
    a = site("siteA", "siteB", a_to_b, clock, labels_a, capacity)
    b = site("siteB", "siteA", b_to_a, clock, labels_b, capacity_b or capacity)
    a_to_b.other, b_to_a.other = b, a
    return Pair(a, b, a_to_b, b_to_a, clock)


def ask(out: int = 20 * M, end: float = 4600.0) -> SegmentRequest:
    """A segment from hN of siteA to hN of siteB: h1 first in each ``pair``, then the next
    host, so that two segments of a test never join the same two hosts (a duplicate)."""
    n = NEXT_HOST.next()
    return SegmentRequest(
        StitchRole.ORIGIN,
        f"00:00:00:00:00:0{n}",
        RemoteEnd("siteB", f"10.0.0.{n}"),
        Bandwidth(out, out),
        Window(1000, end),
    )


def live(stitcher: Stitcher) -> list[StitchReservation]:
    return [
        r
        for r in stitcher.service.engine.reservations.values()
        if isinstance(r, StitchReservation) and not r.state.final
    ]


def stored(stitcher: Stitcher, reservation_id: str) -> Any:
    store = stitcher.service.store
    assert isinstance(store, MemoryStore)
    return {r.id: r for r in store.load().reservations}[reservation_id]


def test_both_sides_commit_and_show_each_others_id_and_the_label() -> None:
    p = pair()
    mine = p.a.reserve(ACME, ask())
    assert mine.state is State.ACTIVE and mine.role is StitchRole.ORIGIN
    (theirs,) = live(p.b)
    assert theirs.state is State.ACTIVE and theirs.role is StitchRole.PEER
    assert mine.peer_id == theirs.id and theirs.peer_id == mine.id
    assert mine.label == theirs.label == 100
    assert theirs.owner == "peer:siteA" and theirs.remote.given == "siteA/00:00:00:00:00:01"
    assert mine.remote.mac == "00:00:00:00:00:01" and mine.remote.ip == "10.0.0.1"
    assert theirs.remote.mac == "00:00:00:00:00:01"
    assert stored(p.a, mine.id) == mine and stored(p.b, theirs.id) == theirs
    assert [step for step, _ in p.a_to_b.calls] == ["hold", "commit"]


def test_a_peer_that_refuses_leaves_nothing_held_on_either_side() -> None:
    p = pair(labels_b=range(100, 101))
    p.a.reserve(ACME, ask(out=M))
    with pytest.raises(Conflict) as refused:
        p.a.reserve(ACME, ask(out=M))  # A has label 101 free, B has no label left
    assert refused.value.code == "peer_refused"
    assert refused.value.details == {"domain": "siteB", "peer_code": "no_label"}
    assert len(live(p.a)) == len(live(p.b)) == 1


def test_a_local_label_range_used_up_is_409_no_label_without_asking_the_peer() -> None:
    p = pair(labels_a=range(100, 101))
    p.a.reserve(ACME, ask(out=M))
    calls = len(p.a_to_b.calls)
    with pytest.raises(Conflict) as refused:
        p.a.reserve(ACME, ask(out=M))
    assert refused.value.code == "no_label" and len(p.a_to_b.calls) == calls


def test_a_peer_that_times_out_on_the_hold_is_502_and_its_hold_lapses_by_itself() -> None:
    p = pair()
    p.a_to_b.fail_on = {"hold"}
    with pytest.raises(PeerUnavailable):
        p.a.reserve(ACME, ask())
    assert live(p.a) == []
    (aborted,) = p.a.service.engine.reservations.values()
    assert aborted.state is State.CANCELLED and "did not hold" in (aborted.reason or "")


def test_a_peer_that_dies_between_hold_and_commit_is_owed_the_abort_until_it_answers() -> None:
    p = pair()
    p.a_to_b.fail_on = {"commit", "cancel"}
    with pytest.raises(PeerUnavailable):
        p.a.reserve(ACME, ask())
    assert live(p.a) == []
    (held,) = live(p.b)  # the peer never heard
    assert held.state is State.HELD
    (owed,) = p.a.owed()
    assert owed.peer_id == held.id and stored(p.a, owed.id).peer_pending == "cancel"
    assert p.a.retry() == 1  # still silent
    p.a_to_b.fail_on = set()
    assert p.a.retry() == 0 and p.a.owed() == []
    assert live(p.b) == [] and stored(p.a, owed.id).peer_pending is None


def test_if_nobody_retries_the_peers_hold_lapses_after_the_timeout() -> None:
    p = pair()
    p.a_to_b.fail_on = {"commit", "cancel"}
    with pytest.raises(PeerUnavailable):
        p.a.reserve(ACME, ask())
    p.clock.now += 30
    p.b.service.tick(p.clock.now, check_paths=False)
    assert live(p.b) == []


def test_a_commit_after_the_peers_hold_lapsed_is_refused_and_aborts_here() -> None:
    p = pair()
    real = p.a_to_b.commit

    def late_commit(peer: Peer, segment: str) -> dict[str, Any]:
        p.clock.now += 31  # the commit arrives after B's hold lapsed
        return real(peer, segment)

    p.a_to_b.commit = late_commit  # type: ignore[method-assign]
    with pytest.raises(Conflict) as refused:
        p.a.reserve(ACME, ask())
    assert refused.value.details == {"domain": "siteB", "peer_code": "hold_expired"}
    assert live(p.a) == [] and live(p.b) == []


def test_a_duplicate_commit_from_the_peer_changes_nothing() -> None:
    p = pair()
    mine = p.a.reserve(ACME, ask())
    peer = p.b.settings.peers["siteA"]
    before = p.b.service.engine.version
    assert mine.peer_id is not None
    again = p.b.peer_commit(peer, mine.peer_id)
    assert again.state is State.ACTIVE and p.b.service.engine.version == before


def test_cancel_on_either_side_ends_both() -> None:
    p = pair()
    first = p.a.reserve(ACME, ask())
    p.a.cancel(ACME, first.id)
    assert live(p.a) == live(p.b) == []
    second = p.a.reserve(ACME, ask())
    assert second.peer_id is not None
    admin = Principal("ops", admin=True)
    p.b.cancel(admin, second.peer_id)
    assert live(p.a) == live(p.b) == []
    assert p.a.service.engine.reservations[second.id].reason == "cancelled by domain siteB"


def test_a_cancel_the_peer_cannot_hear_is_stored_and_retried_after_a_restart() -> None:
    p = pair()
    mine = p.a.reserve(ACME, ask())
    p.a_to_b.down = True
    p.a.cancel(ACME, mine.id)
    assert stored(p.a, mine.id).peer_pending == "cancel"
    # A restarts on the same store: the owed cancel is still owed, and delivered.
    store = p.a.service.store
    restarted = ReservationService(
        p.a.service.engine.topology, store, threading.RLock(), Policy(), retention=86400
    )
    again = Stitcher(restarted, p.a.settings, p.a_to_b, p.clock)
    assert [r.id for r in again.owed()] == [mine.id]
    p.a_to_b.down = False
    assert again.retry() == 0 and live(p.b) == []


def test_a_peer_acts_only_on_segments_stitched_to_it() -> None:
    p = pair()
    mine = p.a.reserve(ACME, ask())
    stranger = Peer("siteC", "http://127.0.0.1:2", "other")
    with pytest.raises(RequestError) as unknown:
        p.a.peer_cancel(stranger, mine.id)
    assert unknown.value.status == 404
    assert live(p.a) != []


def test_changes_reach_the_peer_and_a_refused_one_is_undone() -> None:
    p = pair(capacity=50 * M, capacity_b=42 * M)
    mine = p.a.reserve(ACME, ask(out=20 * M))
    changed = p.a.modify(ACME, mine.id, {"bandwidth": "40M", "end": 9000})
    (theirs,) = live(p.b)
    assert changed.bandwidth == theirs.bandwidth == Bandwidth(40 * M, 40 * M)
    assert changed.window.end == theirs.window.end == 9000
    # B's stitch point is narrower than A's: the change fits here, not there.
    with pytest.raises(Conflict) as refused:
        p.a.modify(ACME, mine.id, {"bandwidth": "45M"})
    assert refused.value.code == "peer_refused"
    assert p.a.service.engine.reservations[mine.id].bandwidth == Bandwidth(40 * M, 40 * M)


def test_the_peer_endpoint_knows_peers_by_their_token_only() -> None:
    p = pair()
    assert p.a.peer_of("Bearer shared").name == "siteB"
    for header in (None, "", "Bearer wrong", "Basic shared"):
        with pytest.raises(RequestError) as refused:
            p.a.peer_of(header)
        assert refused.value.status == 401
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_label_busy_only_at_the_peer_is_skipped_for_the_next_one() -> None:
    """B still holds label 100 for a segment A has already ended (its cancel not yet heard):
    A offers 100, B says no_label, A offers 101."""
    p = pair()
    stale = p.a.reserve(ACME, ask(out=M))
    p.a_to_b.down = True
    p.a.cancel(ACME, stale.id)  # owed to B, which still holds label 100
    p.a_to_b.down = False
    mine = p.a.reserve(ACME, ask(out=M))
    assert mine.label == 101 and mine.state is State.ACTIVE
    assert sorted(r.label for r in live(p.b)) == [100, 101]
    tried = [r for r in p.a.service.engine.reservations.values() if r.state is State.CANCELLED]
    assert len(tried) == 2  # the stale one and the refused offer of label 100


def test_a_peer_with_no_label_at_all_is_refused_after_a_few_offers() -> None:
    p = pair(labels_a=range(100, 110), labels_b=range(200, 210))
    with pytest.raises(Conflict) as refused:
        p.a.reserve(ACME, ask(out=M))
    assert refused.value.details == {"domain": "siteB", "peer_code": "no_label"}
    assert [step for step, _ in p.a_to_b.calls] == ["hold"] * 4
    assert live(p.a) == []


def test_an_origin_that_dies_between_the_peers_commit_and_its_own_cancels_the_peer() -> None:
    """A's hold lapses while B has committed (A died in between): A owes B the cancel."""
    p = pair()
    real = p.a_to_b.commit

    def commit_then_die(peer: Peer, segment: str) -> dict[str, Any]:
        answer = real(peer, segment)
        raise SystemExit(answer["id"])  # A stops right after B committed

    p.a_to_b.commit = commit_then_die  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        p.a.reserve(ACME, ask())
    (theirs,) = live(p.b)
    assert theirs.state is State.ACTIVE
    p.clock.now += 31
    p.a.service.tick(p.clock.now, check_paths=False)
    (lapsed,) = p.a.owed()
    assert lapsed.state is State.EXPIRED and lapsed.peer_pending == "cancel"
    assert p.a.retry() == 0 and live(p.b) == []


def hold_request(origin_id: str) -> dict[str, Any]:
    """A peer's ``POST /v1/stitches`` body for its reservation ``origin_id``."""
    return {
        "origin_id": origin_id,
        "src": {"host": "hA", "mac": "02:00:00:00:00:0a", "ip": "10.0.0.9"},
        "host": "10.0.0.1",
        "bandwidth": {"out": M, "in": M},
        "start": "1970-01-01T00:16:40Z",
        "end": "1970-01-01T01:16:40Z",
        "label": 100,
    }


def test_a_peer_reporting_a_malformed_address_gets_400_and_its_answer_is_refused() -> None:
    p = pair()
    peer = p.b.settings.peers["siteA"]
    body = hold_request("x-1") | {"src": {"host": "hA", "mac": "not-a-mac", "ip": "10.0.0.9"}}
    with pytest.raises(InvalidField) as refused:
        p.b.peer_hold(peer, body)
    assert refused.value.details["field"] == "src.mac"
    with pytest.raises(InvalidField) as refused:
        p.b.peer_hold(peer, body | {"src": {"host": "hA", "ip": "zzz"}})
    assert refused.value.details["field"] == "src.ip"
    assert live(p.b) == []
    real = p.a_to_b.hold

    def lying_hold(target: Peer, sent: dict[str, Any]) -> dict[str, Any]:
        answer = real(target, sent)
        return answer | {"host": {"name": "hB", "mac": "ff:ff:ff:ff:ff:ff", "ip": "10.1.0.1"}}

    p.a_to_b.hold = lying_hold  # type: ignore[method-assign]
    with pytest.raises(PeerUnavailable):
        p.a.reserve(ACME, ask())
    assert live(p.a) == []  # nothing held here on a peer's word that cannot be used


def test_a_hold_asked_for_again_is_the_same_hold() -> None:
    p = pair()
    peer = p.b.settings.peers["siteA"]
    body = hold_request("siteA-77")
    first = p.b.peer_hold(peer, body)
    again = p.b.peer_hold(peer, body)  # the origin did not hear the answer
    assert again.id == first.id and len(live(p.b)) == 1


def test_a_commit_after_the_hold_lapsed_is_stored_as_expired() -> None:
    p = pair()
    peer = p.b.settings.peers["siteA"]
    body = hold_request("siteA-78")
    held = p.b.peer_hold(peer, body)
    p.clock.now += 31
    with pytest.raises(Conflict):
        p.b.peer_commit(peer, held.id)
    assert stored(p.b, held.id).state is State.EXPIRED


# ------------------------------------------------------------------ changes across domains


def terms(stitcher: Stitcher, reservation_id: str) -> tuple[float, Bandwidth, bool]:
    """What both sides must agree on: end, bandwidth, cancelled (as stored)."""
    r = stored(stitcher, reservation_id)
    return r.window.end, r.bandwidth, r.state is State.CANCELLED


def both(p: Pair, mine: StitchReservation) -> tuple[Any, Any]:
    assert mine.peer_id is not None
    return terms(p.a, mine.id), terms(p.b, mine.peer_id)


OLD = (4600.0, Bandwidth(20 * M, 20 * M), False)
NEW = (9000.0, Bandwidth(40 * M, 40 * M), False)
CHANGE = {"bandwidth": "40M", "end": 9000}


def test_a_peer_that_commits_a_change_and_freezes_ends_with_it_on_both_sides() -> None:
    """B commits A's change, then does not answer until after A's timeout: A holds the change
    (the larger terms booked) and asks B again; B says it committed, so A commits too."""
    p = pair()
    mine = p.a.reserve(ACME, ask(out=20 * M))
    p.a_to_b.silent_after = {"modify:commit"}
    with pytest.raises(PeerUnavailable) as in_doubt:
        p.a.modify(ACME, mine.id, CHANGE)
    assert in_doubt.value.details == {"domain": "siteB", "pending": "change"}
    held = stored(p.a, mine.id)
    assert held.peer_pending == "change" and held.change.committing
    assert (held.window.end, held.bandwidth) == NEW[:2]  # the larger of old and new
    assert both(p, mine)[1] == NEW
    assert p.a.retry() == 1  # B still frozen: nothing settled on a guess
    assert stored(p.a, mine.id).change is not None
    p.a_to_b.silent_after = set()
    assert p.a.retry() == 0
    assert both(p, mine) == (NEW, NEW)
    assert stored(p.a, mine.id).change is None and p.a.owed() == []


def test_a_peer_that_holds_a_change_and_freezes_ends_without_it_on_both_sides() -> None:
    """B holds the change, then does not answer: A undoes it at once; B's hold lapses by
    itself, so both keep the terms before (the old code kept the change at B only)."""
    p = pair()
    mine = p.a.reserve(ACME, ask(out=20 * M))
    p.a_to_b.silent_after = {"modify"}
    with pytest.raises(PeerUnavailable):
        p.a.modify(ACME, mine.id, CHANGE)
    assert terms(p.a, mine.id) == OLD and p.a.owed() == []
    p.clock.now += 31
    p.b.retry()  # its periodic retries also lapse what it holds for A
    assert both(p, mine) == (OLD, OLD)
    assert live(p.a)[0].state is live(p.b)[0].state is State.ACTIVE  # nothing lost


def test_a_commit_that_reaches_the_peer_after_its_hold_lapsed_undoes_the_change_here() -> None:
    p = pair()
    mine = p.a.reserve(ACME, ask(out=20 * M))
    real = p.a_to_b.modify

    def late(peer: Peer, segment: str, body: dict[str, Any]) -> dict[str, Any]:
        if body["step"] == "commit":
            p.clock.now += 31
        return real(peer, segment, body)

    p.a_to_b.modify = late  # type: ignore[method-assign]
    with pytest.raises(Conflict) as refused:
        p.a.modify(ACME, mine.id, CHANGE)
    assert refused.value.details == {"domain": "siteB", "peer_code": "change_lapsed"}
    assert both(p, mine) == (OLD, OLD)


def test_a_commit_lost_on_the_way_is_settled_by_the_peers_lapse_when_it_answers() -> None:
    """A's commit never reached B (B froze before reading it) and B's hold lapsed meanwhile:
    asked again, B says the change lapsed, and A undoes it."""
    p = pair()
    mine = p.a.reserve(ACME, ask(out=20 * M))
    p.a_to_b.fail_on = {"modify:commit"}
    with pytest.raises(PeerUnavailable):
        p.a.modify(ACME, mine.id, CHANGE)
    p.clock.now += 31
    p.a_to_b.fail_on = set()
    assert p.a.retry() == 0
    assert both(p, mine) == (OLD, OLD)


def change_in_doubt() -> tuple[Pair, StitchReservation]:
    """A pair whose reservation's change B committed and then froze before answering A."""
    p = pair()
    mine = p.a.reserve(ACME, ask(out=20 * M))
    p.a_to_b.silent_after = {"modify:commit"}
    with pytest.raises(PeerUnavailable):
        p.a.modify(ACME, mine.id, CHANGE)
    return p, mine


def test_a_change_in_doubt_survives_a_restart_and_is_settled_after_it() -> None:
    p, mine = change_in_doubt()
    restarted = ReservationService(
        p.a.service.engine.topology, p.a.service.store, threading.RLock(), Policy(), 86400
    )
    again = Stitcher(restarted, p.a.settings, p.a_to_b, p.clock)
    p.a_to_b.silent_after = set()
    assert again.retry() == 0
    assert terms(again, mine.id) == terms(p.b, mine.peer_id or "") == NEW


def test_changes_asked_on_both_sides_at_once_cannot_cross() -> None:
    """B's operator changes the reservation while A's change is on its way to B: one of the two
    is refused (change_pending), and both sides end with the other."""
    p = pair()
    mine = p.a.reserve(ACME, ask(out=20 * M))
    assert mine.peer_id is not None
    real = p.a_to_b.modify
    crossing: list[BaseException] = []

    def crossed(peer: Peer, segment: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("step", "hold") == "hold" and not crossing:
            try:
                p.b.modify(Principal("ops", admin=True), segment, {"bandwidth": "30M"})
            except RequestError as refused:
                crossing.append(refused)
        return real(peer, segment, body)

    p.a_to_b.modify = crossed  # type: ignore[method-assign]
    p.a.modify(ACME, mine.id, CHANGE)
    (refused,) = crossing
    assert isinstance(refused, Conflict) and refused.details == {
        "domain": "siteA",
        "peer_code": "change_pending",
    }
    assert both(p, mine) == (NEW, NEW)


def test_a_cancel_while_a_change_is_in_doubt_ends_both_sides() -> None:
    p, mine = change_in_doubt()
    p.a_to_b.silent_after = set()
    p.a.cancel(ACME, mine.id)
    assert live(p.a) == live(p.b) == [] and p.a.owed() == []
    assert both(p, mine)[0][2] and both(p, mine)[1][2]


def test_a_second_change_while_one_is_held_is_409_change_pending() -> None:
    p, mine = change_in_doubt()
    with pytest.raises(Conflict) as refused:
        p.a.modify(ACME, mine.id, {"bandwidth": "10M"})
    assert refused.value.code == "change_pending"


# ------------------------------------------------------------------ one retry loop per peer


def test_a_dead_peer_does_not_delay_what_is_owed_to_a_live_one() -> None:
    """A owes cancels to siteB (whose calls hang until the end of the test, as a dead peer's
    do until the timeout) and to siteC (which answers): siteC hears its cancel while the call
    to siteB still hangs."""
    p = pair()
    first, second = p.a.reserve(ACME, ask(out=M)), p.a.reserve(ACME, ask(out=M))
    p.a_to_b.down = True
    p.a.cancel(ACME, first.id)
    p.a.cancel(ACME, second.id)
    engine = p.a.service.engine
    engine.put(replace(engine.reservations[second.id], remote=RemoteEnd("siteC", "10.0.0.1")))
    hung, release, heard = threading.Event(), threading.Event(), threading.Event()

    class TwoPeers(FakeLink):
        def cancel(self, peer: Peer, segment: str) -> None:
            if peer.name == "siteB":
                hung.set()
                release.wait(30)
                raise PeerUnreachable("timed out")
            heard.set()

    peers = dict(p.a.settings.peers) | {"siteC": Peer("siteC", "http://127.0.0.1:2", "c")}
    settings = replace(p.a.settings, peers=peers, retry_interval=0.01)
    a = Stitcher(p.a.service, settings, TwoPeers("siteA"), p.clock)
    stopping = threading.Event()
    loops = [threading.Thread(target=a.run_retries, args=(n, stopping)) for n in sorted(peers)]
    for loop in loops:
        loop.start()
    try:
        assert hung.wait(10)
        assert heard.wait(10), "siteC's cancel waited for siteB"
        assert not release.is_set()
    finally:
        stopping.set()
        release.set()
        for loop in loops:
            loop.join(10)
    assert [r.id for r in a.owed()] == [first.id]


def test_a_peers_change_names_its_token_and_step_or_is_400() -> None:
    p = pair()
    mine = p.a.reserve(ACME, ask(out=20 * M))
    assert mine.peer_id is not None
    peer = p.b.settings.peers["siteA"]
    for body, field_name in (
        ({"bandwidth": {"out": M, "in": M}}, "change"),
        ({"change": "t", "step": "apply", "bandwidth": {"out": M, "in": M}}, "step"),
        ({"change": "t", "step": "commit", "end": "2030-01-01T00:00:00Z"}, "step"),
    ):
        with pytest.raises(InvalidField) as refused:
            p.b.peer_modify(peer, mine.peer_id, body)
        assert refused.value.details["field"] == field_name
    with pytest.raises(Conflict) as unknown:
        p.b.peer_modify(peer, mine.peer_id, {"change": "never-held", "step": "commit"})
    assert unknown.value.code == "change_lapsed"
    assert both(p, mine) == (OLD, OLD)
