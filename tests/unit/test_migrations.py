"""Schema upgrades: a database written by an older tegu_ryu opens with every reservation as it was.

``fixtures/store-v1`` was written by the code of schema version 1 (before
reservation kinds) through the reservation service: two-way reservations
with and without match, DSCP, widest path, a one-way reservation to an
outside address, a cancelled one, a policy and a fence.
``store-v1-views.json`` is how that code showed each reservation in the v1
API; the upgraded database must show them the same.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tegu_ryu.api.views import reservation_json
from tegu_ryu.reservations import migrations
from tegu_ryu.reservations.policy import Discount, Fence, Policy
from tegu_ryu.reservations.store import Store, StoreError

FIXTURES = Path(__file__).parent / "fixtures"
M = 10**6


def old_database(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    shutil.copytree(FIXTURES / "store-v1", state)
    return state


def version_of(database: Path) -> str:
    with closing(sqlite3.connect(database)) as db:
        return str(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def records_of(database: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro&immutable=1", uri=True)) as db:
        return db.execute("SELECT id, record FROM reservations ORDER BY id").fetchall()


def old_fields(view: dict[str, Any]) -> dict[str, Any]:
    """A view without the fields added since version 1 (``dscp_on_exit``: a marking was
    always kept where the traffic was delivered then, which the test checks too)."""
    return {k: v for k, v in view.items() if k != "dscp_on_exit"}


def test_a_version_1_database_opens_with_every_reservation_as_it_was(tmp_path: Path) -> None:
    state = old_database(tmp_path)
    expected = json.loads((FIXTURES / "store-v1-views.json").read_text())
    with closing(Store(state)) as store:
        loaded = store.load()
    assert loaded.damaged == []
    assert {r.id: old_fields(reservation_json(r, {})) for r in loaded.reservations} == expected
    marking = [reservation_json(r, {}) for r in loaded.reservations]
    assert [v["dscp_on_exit"] for v in marking if v.get("dscp") is not None] == ["keep"]
    assert {r.type for r in loaded.reservations} == {"bandwidth", "oneway"}
    assert loaded.policy == Policy(headroom_percent=10, discount=Discount(bps=M))
    assert loaded.fences == {"acme": Fence(percent=80)}
    assert version_of(state / "tegu.db") == str(migrations.LATEST)
    with closing(Store(state)) as again:  # upgraded once; the second start changes nothing
        assert {
            r.id: old_fields(reservation_json(r, {})) for r in again.load().reservations
        } == expected


def test_the_upgrade_keeps_a_copy_of_the_old_database(tmp_path: Path) -> None:
    state = old_database(tmp_path)
    Store(state).close()
    (kept,) = (state / "checkpoints").glob("tegu-schema-v1-*.db")
    assert version_of(kept) == "1"
    assert records_of(kept) == records_of(FIXTURES / "store-v1" / "tegu.db")
    assert records_of(kept) != records_of(state / "tegu.db")


def test_a_damaged_old_record_stays_damaged_and_the_others_upgrade(tmp_path: Path) -> None:
    state = old_database(tmp_path)
    with closing(sqlite3.connect(state / "tegu.db")) as db, db:
        db.execute("INSERT INTO reservations VALUES ('r-bad', 'acme', 'active', 'not json')")
    with closing(Store(state)) as store:
        loaded = store.load()
    assert [d.id for d in loaded.damaged] == ["r-bad"]
    assert len(loaded.reservations) == 4


@pytest.mark.parametrize("version", ["3", "99"])
def test_a_database_of_a_newer_version_is_refused_and_left_alone(
    tmp_path: Path, version: str
) -> None:
    state = tmp_path / "state"
    Store(state).close()
    with closing(sqlite3.connect(state / "tegu.db")) as db, db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    with pytest.raises(StoreError, match=f"schema version {version}, written by a newer tegu_ryu"):
        Store(state)
    assert version_of(state / "tegu.db") == version


@pytest.mark.parametrize("version", ["0", "two"])
def test_a_database_of_no_known_version_is_refused(tmp_path: Path, version: str) -> None:
    state = tmp_path / "state"
    Store(state).close()
    with closing(sqlite3.connect(state / "tegu.db")) as db, db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    with pytest.raises(StoreError, match=f"schema version {version}; this tegu_ryu reads"):
        Store(state)
