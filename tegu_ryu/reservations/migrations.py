"""The reservation database's schema, by version, and the steps from each version to the next.

A database remembers its version (``meta.schema_version``). Opening one
written by an older tegu_ryu applies the missing steps in one transaction,
after a copy of the old file is put in ``checkpoints/``; a database newer
than this code is refused, since writing to it would lose what a newer
version stores. A step may only add: the data of every reservation comes
back as it was.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LATEST = 2

_CURRENT_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    record TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT ''
);
CREATE TABLE fences (tenant TEXT PRIMARY KEY, record TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Migration:
    to: int
    what: str
    apply: Callable[[sqlite3.Connection], None]


def create(db: sqlite3.Connection) -> None:
    """The newest schema in an empty database (inside the caller's transaction)."""
    for statement in filter(str.strip, _CURRENT_SCHEMA.split(";")):
        db.execute(statement)  # executescript would commit half-way
    db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(LATEST),))


def pending(found: int) -> list[Migration]:
    """The steps from version ``found`` to ``LATEST``, in order."""
    return [step for step in MIGRATIONS if step.to > found]


def upgrade(db: sqlite3.Connection, found: int) -> None:
    """Apply every pending step (inside the caller's transaction) and record the version."""
    for step in pending(found):
        step.apply(db)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(LATEST),))


def _kinds_envelope(db: sqlite3.Connection) -> None:
    """Version 2: reservations of several kinds. The record becomes the shared envelope
    plus the kind's ``spec``, and its ``type`` gets a column (listings by kind).

    A record that cannot be read is left exactly as it was: loading names it
    damaged, as it did before.
    """
    db.execute("ALTER TABLE reservations ADD COLUMN type TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT id, record FROM reservations").fetchall()
    for reservation_id, record in rows:
        try:
            upgraded = _envelope_of(json.loads(record))
        except (ValueError, KeyError, TypeError):
            continue
        db.execute(
            "UPDATE reservations SET record = ?, type = ? WHERE id = ?",
            (json.dumps(upgraded), upgraded["type"], reservation_id),
        )


_BANDWIDTH_FIELDS = ("src", "dst", "requested", "bandwidth", "match", "dscp", "path_mode", "routes")


def _envelope_of(record: dict[str, Any]) -> dict[str, Any]:
    kind = record["kind"]
    if not isinstance(kind, str):
        raise TypeError("kind")
    spec = {"kind": kind, **{name: record[name] for name in _BANDWIDTH_FIELDS}}
    envelope = {k: v for k, v in record.items() if k not in _BANDWIDTH_FIELDS and k != "kind"}
    return {**envelope, "type": kind, "spec": spec}


MIGRATIONS = (
    Migration(
        to=2, what="reservation kinds: shared envelope, kind-specific spec", apply=_kinds_envelope
    ),
)
