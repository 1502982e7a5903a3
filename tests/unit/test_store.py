"""Persistence: all comes back after a restart; damage is a clear error, never an empty start."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from tegu_ryu.errors import NotFound, StorageUnavailable
from tegu_ryu.reservations.model import Bandwidth, Direction, Kind, Match, State
from tegu_ryu.reservations.paths import PathMode
from tegu_ryu.reservations.policy import Discount, Fence, Policy
from tegu_ryu.reservations.requests import ReservationRequest
from tegu_ryu.reservations.service import ReservationService
from tegu_ryu.reservations.store import Store, StoreError, decode_reservation, encode_reservation
from tegu_ryu.reservations.window import Window
from tegu_ryu.tenancy import Principal

from .test_engine import H1, H4, M, diamond

ACME = Principal("acme", admin=False)
ADMIN = Principal("ops", admin=True)


def service(state: Path) -> ReservationService:
    engine, _ = diamond()
    return ReservationService(
        engine.topology, Store(state), threading.RLock(), Policy(), retention=3600
    )


def body(**fields: object) -> dict[str, object]:
    return {"src": H1, "dst": H4, "bandwidth": "20M", "start": 100, "end": 200, **fields}


def test_reservations_policy_and_fences_survive_a_restart(tmp_path: Path) -> None:
    first = service(tmp_path / "state")
    kept = [
        first.create(
            ACME,
            body(protocol="tcp", dst_port=80, dscp="data", name="web"),
            now=0,
            reply=lambda r: r,
        )
    ]
    kept.append(
        first.create(
            ACME,
            body(bandwidth={"out": "5M", "in": "1M"}, protocol="udp"),
            now=0,
            reply=lambda r: r,
        )
    )
    cancelled = first.create(ACME, body(protocol="icmp"), now=0, reply=lambda r: r)
    first.cancel(ACME, cancelled.id, now=1)
    first.set_policy(ADMIN, {"headroom_percent": 10, "discount": "1M"})
    first.set_fence(ADMIN, "acme", {"percent": 80})
    first.store.close()

    second = service(tmp_path / "state")
    for original in kept:
        assert second.get(ACME, original.id) == original
    assert second.get(ACME, cancelled.id).state is State.CANCELLED
    assert second.policy() == Policy(headroom_percent=10, discount=Discount(bps=M))
    assert second.fence(ACME, "acme") == (Fence(percent=80), False)
    link = kept[0].routes[Direction.OUT].links[0]
    assert (
        second.engine.ledger.peak(link, Window(100, 200)).amount == 25 * M
    )  # the ledger is re-derived


def test_a_reservation_that_ended_while_down_is_expired_on_the_first_tick(tmp_path: Path) -> None:
    first = service(tmp_path / "state")
    made = first.create(ACME, body(), now=0, reply=lambda r: r)
    first.store.close()
    second = service(tmp_path / "state")
    changed = second.tick(now=500, check_paths=True)
    assert [(r.id, r.state) for r in changed] == [(made.id, State.EXPIRED)]
    second.store.close()
    third = service(tmp_path / "state")
    assert third.get(ACME, made.id).state is State.EXPIRED


def test_encoding_round_trips_every_field() -> None:
    engine, _ = diamond()
    request = ReservationRequest(
        Kind.ONEWAY,
        H1,
        "198.51.100.7",
        Bandwidth(3 * M, 0),
        Window(10.5, 99.25),
        Match("udp", 1, 2, 3),
        46,
        PathMode.WIDEST,
        "named",
    )
    reservation = engine.create(0, "acme", request)
    assert decode_reservation(encode_reservation(reservation)) == reservation


def test_a_used_state_dir_without_its_database_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "something-else").write_text("x")
    with pytest.raises(StoreError, match="refusing to start with an empty reservation store"):
        Store(state)


def test_a_corrupt_database_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "tegu.db").write_bytes(b"this is not sqlite, it is garbage" * 100)
    with pytest.raises(StoreError, match="cannot use the reservation database"):
        Store(state)


def test_a_damaged_record_is_left_out_and_named_while_the_others_load(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = service(state)
    kept = first.create(ACME, body(), now=0, reply=lambda r: r)
    endless = encode_reservation(first.create(ACME, body(protocol="udp"), now=0, reply=lambda r: r))
    endless["window"][1] = float("inf")  # what an unbounded /tegu/api window once stored
    good = encode_reservation(kept)
    changes = [
        {"created": "x"},
        {"spec": {**good["spec"], "bandwidth": ["a", 1]}},
        {"serial": None},
        {"spec": {**good["spec"], "dscp": 99}},
        {"type": "teleport"},  # a kind this version does not know
    ]
    wrong_types = [{**good, "id": f"r-type{n}", **change} for n, change in enumerate(changes)]
    first.store.close()
    with closing(sqlite3.connect(state / "tegu.db")) as db, db:
        insert = (
            "INSERT INTO reservations (id, owner, state, record) VALUES (?, 'acme', 'active', ?)"
        )
        db.execute(insert, ("r-x", '{"id": 1}'))
        db.execute(insert, ("r-y", "not json"))
        db.execute(
            "UPDATE reservations SET record = ? WHERE id = ?",
            (json.dumps(endless), endless["id"]),
        )
        for record in wrong_types:  # decodes, but would break sorting or booking
            db.execute(insert, (record["id"], json.dumps(record)))
    with closing(Store(state)) as store:
        loaded = store.load()
    assert [r.id for r in loaded.reservations] == [kept.id]
    assert {d.id: d.problem.split(":")[0] for d in loaded.damaged} == {
        "r-x": "KeyError",
        "r-y": "JSONDecodeError",
        endless["id"]: "ValueError",
        **{record["id"]: "ValueError" for record in wrong_types},
    }
    restarted = service(state)
    assert restarted.damaged_records(ACME) == []  # tenants are not shown the damage
    assert len(restarted.damaged_records(ADMIN)) == 8
    assert restarted.get(ACME, kept.id) == kept
    with pytest.raises(NotFound) as damaged:
        restarted.get(ADMIN, "r-x")
    assert damaged.value.code == "damaged" and "KeyError" in damaged.value.message
    assert not restarted.forget_damaged(ACME, "r-x")
    assert restarted.forget_damaged(ADMIN, "r-x")
    restarted.store.close()
    with closing(Store(state)) as store:
        assert {d.id for d in store.load().damaged} == {
            "r-y",
            endless["id"],
            *(record["id"] for record in wrong_types),
        }


def test_a_failed_commit_leaves_nothing_behind(tmp_path: Path) -> None:
    svc = service(tmp_path / "state")
    svc.store.close()  # every write now fails
    with pytest.raises(StorageUnavailable):
        svc.create(ACME, body(), now=0, reply=lambda r: r)
    assert svc.engine.reservations == {}
    assert svc.engine.ledger.booked_links() == []


def test_a_database_deleted_while_running_is_written_again_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    svc = service(state)
    before = svc.create(ACME, body(), now=0, reply=lambda r: r)
    (state / "tegu.db").unlink()
    after = svc.create(ACME, body(protocol="udp"), now=0, reply=lambda r: r)
    assert (state / "tegu.db").exists() and svc.store.problem is None
    (state / "tegu.db").unlink()
    for leftover in state.glob("tegu.db-*"):
        leftover.unlink()  # deleted with its log this time, and found by a tick, not a write
    svc.tick(now=1, check_paths=False)
    assert (state / "tegu.db").exists()
    svc.store.close()
    with closing(Store(state)) as store:
        assert {r.id for r in store.load().reservations} == {before.id, after.id}


def test_a_database_replaced_while_running_is_not_written(tmp_path: Path) -> None:
    state = tmp_path / "state"
    svc = service(state)
    svc.create(ACME, body(), now=0, reply=lambda r: r)
    (state / "tegu.db").rename(state / "moved-away.db")
    (state / "tegu.db").write_bytes(b"someone else's file")
    with pytest.raises(StorageUnavailable, match="replaced by another file"):
        svc.create(ACME, body(protocol="udp"), now=0, reply=lambda r: r)
    assert (state / "tegu.db").read_bytes() == b"someone else's file"
    assert len(svc.visible(ACME)) == 1


def test_a_read_only_database_refuses_writes_keeps_time_going_and_recovers(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    svc = service(state)
    made = svc.create(ACME, body(), now=0, reply=lambda r: r)  # starts at 100
    svc.store._file.db.execute("PRAGMA query_only = ON")  # SQLite's own read-only mode
    with pytest.raises(StorageUnavailable, match="read-only") as refused:
        svc.create(ACME, body(protocol="udp"), now=0, reply=lambda r: r)
    assert refused.value.status == 503 and refused.value.code == "storage_unavailable"
    assert [r.id for r in svc.visible(ACME)] == [made.id]  # nothing half-made, reads go on
    assert [r.state for r in svc.tick(now=150, check_paths=False)] == [State.ACTIVE]
    assert svc.get(ACME, made.id).state is State.ACTIVE  # time goes on in memory
    assert svc.store.problem is not None and "read-only" in svc.store.problem
    svc.store._file.db.execute("PRAGMA query_only = OFF")
    svc.tick(now=151, check_paths=False)  # probes, and saves what waited
    assert svc.store.problem is None
    svc.store.close()
    with closing(Store(state)) as store:
        assert [r.state for r in store.load().reservations] == [State.ACTIVE]


def test_a_second_controller_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    first = Store(tmp_path / "state")
    with pytest.raises(StoreError, match="in use by another process"):
        Store(tmp_path / "state")
    first.close()
    Store(tmp_path / "state").close()
