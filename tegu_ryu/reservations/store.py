"""Persistence: reservations, policy, fences and the pause in SQLite (WAL).

Every accepted change is committed before the API answers, so what a client
was told survives a crash. On start the controller loads everything and
re-derives the ledger from the stored reservations; the database is the
source of truth, switches are reconciled to it.

A missing or damaged database is a startup error, never a silent empty
state: a brand-new (absent or empty) state directory is initialised, but a
used one without its database, or a file that is not our database, stops the
controller with a message that says which.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tegu_ryu.errors import ConfigurationError, StorageUnavailable
from tegu_ryu.reservations import migrations
from tegu_ryu.reservations.dbfile import DatabaseFile
from tegu_ryu.reservations.kinds import codec_of
from tegu_ryu.reservations.model import Reservation, State
from tegu_ryu.reservations.policy import Discount, Fence, Policy
from tegu_ryu.reservations.validity import is_count, is_finite
from tegu_ryu.reservations.window import Window

LOG = logging.getLogger(__name__)

DATABASE = "tegu.db"


class StoreError(ConfigurationError):
    """The state directory or database cannot be used; the message says why."""


@dataclass(frozen=True)
class DamagedRecord:
    """A stored reservation that cannot be read back: left out, and shown to admins."""

    id: str
    owner: str
    problem: str


@dataclass(frozen=True)
class StoredState:
    reservations: list[Reservation]
    policy: Policy | None
    fences: dict[str, Fence]
    paused: bool
    damaged: list[DamagedRecord]


class ReservationStore(Protocol):
    """Where accepted changes are kept so that a restart finds them.

    Every ``save_*``/``forget_*`` either keeps all it was given or raises
    ``StorageUnavailable`` having kept nothing; ``problem`` says why writes
    fail while they do. ``Store`` (SQLite) is the one the controller runs on;
    ``MemoryStore`` serves tests that need no file.
    """

    @property
    def problem(self) -> str | None: ...

    def check(self) -> None: ...

    def load(self) -> StoredState: ...

    def save_reservations(self, reservations: Sequence[Reservation]) -> None: ...

    def forget_reservations(self, ids: list[str]) -> None: ...

    def save_policy(self, policy: Policy) -> None: ...

    def save_paused(self, paused: bool) -> None: ...

    def save_fence(self, tenant: str, fence: Fence | None) -> None: ...

    def checkpoint(self, now: float) -> Path: ...

    def close(self) -> None: ...


class Store:
    """One SQLite database in the state directory, used under the controller's lock."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / DATABASE
        self._file = self._open(Path(state_dir))

    def _open(self, state_dir: Path) -> DatabaseFile:
        fresh = not state_dir.exists() or not any(state_dir.iterdir())
        if not fresh and not self.path.exists():
            raise StoreError(
                f"{state_dir} is in use but has no {DATABASE}: refusing to start with an empty "
                "reservation store (restore the database, or point state_dir at an empty directory)"
            )
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            if os.statvfs(state_dir).f_flag & os.ST_RDONLY:
                raise StoreError(
                    f"{state_dir} is on a read-only file system; the reservation database must "
                    "be writable (remount it read-write, or point state_dir elsewhere)"
                )
            file = DatabaseFile(self.path)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise self._unusable(exc) from exc
        try:
            self._bring_up_to_date(file, fresh)
        except BaseException:
            file.close()  # a refused database is not kept locked
            raise
        return file

    def _bring_up_to_date(self, file: DatabaseFile, fresh: bool) -> None:
        """Create the schema in a new database, upgrade an older one, refuse an unknown one."""
        try:
            if fresh:
                with file.write() as db:
                    migrations.create(db)
            version = file.db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        except (sqlite3.DatabaseError, StorageUnavailable) as exc:
            raise self._unusable(exc) from exc
        found = _version(version)
        if found is None or found < 1:
            raise StoreError(
                f"{self.path} has schema version {'none' if version is None else version[0]}; "
                f"this tegu_ryu reads versions 1 to {migrations.LATEST}"
            )
        if found > migrations.LATEST:
            raise StoreError(
                f"{self.path} has schema version {found}, written by a newer tegu_ryu; this one "
                f"reads versions up to {migrations.LATEST} (run the newer version, or restore "
                "a checkpoint taken before the upgrade)"
            )
        if found < migrations.LATEST:
            self._upgrade(file, found)

    def _unusable(self, exc: Exception) -> StoreError:
        if "locked" in str(exc):
            return StoreError(
                f"{self.path} is in use by another process (another tegu-manager on the same "
                "state_dir?)"
            )
        return StoreError(f"cannot use the reservation database {self.path}: {exc}")

    def _upgrade(self, file: DatabaseFile, found: int) -> None:
        """Bring an older database up to date, keeping a copy of it as it was."""
        folder = self.path.parent / "checkpoints"
        target = (
            folder / f"tegu-schema-v{found}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.db"
        )
        try:
            folder.mkdir(exist_ok=True)
            file.backup(target)
            with file.write() as db:
                migrations.upgrade(db, found)
        except (OSError, StorageUnavailable) as exc:
            raise StoreError(
                f"cannot upgrade {self.path} from schema version {found} to "
                f"{migrations.LATEST}: {exc}"
            ) from exc
        steps = "; ".join(step.what for step in migrations.pending(found))
        LOG.warning(
            "upgraded %s from schema version %d to %d (%s); the old file is kept as %s",
            self.path,
            found,
            migrations.LATEST,
            steps,
            target,
        )

    @property
    def problem(self) -> str | None:
        """Why writes fail now (disk full, read-only, ...); None while they work."""
        return self._file.problem

    def check(self) -> None:
        """Notice a deleted database (written again) or a disk that works again."""
        self._file.check()

    def load(self) -> StoredState:
        """Everything stored. A reservation record that cannot be decoded is logged and
        left out (``damaged``): one bad record must not keep the others from service."""
        db = self._file.db
        try:
            rows = db.execute("SELECT id, owner, record FROM reservations").fetchall()
            policy_row = db.execute("SELECT value FROM meta WHERE key = 'policy'").fetchone()
            paused_row = db.execute("SELECT value FROM meta WHERE key = 'paused'").fetchone()
            fences = {
                tenant: Fence(**json.loads(record))
                for tenant, record in db.execute("SELECT tenant, record FROM fences")
            }
            policy = decode_policy(json.loads(policy_row[0])) if policy_row else None
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"the reservation database {self.path} is damaged: {exc}") from exc
        reservations, damaged = [], []
        for reservation_id, owner, record in rows:
            try:
                reservation = decode_reservation(json.loads(record))
                if reservation.id != reservation_id:
                    raise ValueError(f"the record is of reservation {reservation.id}")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                problem = f"{type(exc).__name__}: {exc}"[:300]
                LOG.error(
                    "reservation %s in %s is damaged and not loaded: %s",
                    reservation_id,
                    self.path,
                    problem,
                )
                damaged.append(DamagedRecord(str(reservation_id), str(owner), problem))
                continue
            reservations.append(reservation)
        return StoredState(
            reservations=reservations,
            policy=policy,
            fences=fences,
            paused=paused_row is not None and paused_row[0] == "1",
            damaged=damaged,
        )

    def save_reservations(self, reservations: Sequence[Reservation]) -> None:
        with self._file.write() as db:
            db.executemany(
                "INSERT OR REPLACE INTO reservations (id, owner, state, type, record) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (r.id, r.owner, r.state.value, r.type, json.dumps(encode_reservation(r)))
                    for r in reservations
                ],
            )

    def forget_reservations(self, ids: list[str]) -> None:
        with self._file.write() as db:
            db.executemany("DELETE FROM reservations WHERE id = ?", [(i,) for i in ids])

    def save_policy(self, policy: Policy) -> None:
        with self._file.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('policy', ?)",
                (json.dumps(encode_policy(policy)),),
            )

    def save_paused(self, paused: bool) -> None:
        """Whether enforcement is paused: a restart must not quietly resume it."""
        with self._file.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('paused', ?)", ("1" if paused else "0",)
            )

    def save_fence(self, tenant: str, fence: Fence | None) -> None:
        with self._file.write() as db:
            if fence is None:
                db.execute("DELETE FROM fences WHERE tenant = ?", (tenant,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO fences VALUES (?, ?)",
                    (tenant, json.dumps(fence.as_json())),
                )

    def checkpoint(self, now: float) -> Path:
        """A consistent copy of the database in ``checkpoints/``, named by time."""
        folder = self.path.parent / "checkpoints"
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        target = folder / f"tegu-{stamp}-{int(now * 1000) % 1000:03d}.db"
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create {folder}: {exc.strerror}") from exc
        self._file.backup(target)
        return target

    def close(self) -> None:
        self._file.close()


# ------------------------------------------------------------------ encoding


def encode_reservation(r: Reservation) -> dict[str, Any]:
    """The stored record: the envelope every kind shares, and the kind's own ``spec``."""
    return {
        "id": r.id,
        "type": r.type,
        "owner": r.owner,
        "window": [r.window.start, r.window.end],
        "created": r.created,
        "state": r.state.value,
        "name": r.name,
        "reason": r.reason,
        "ended": r.ended,
        "serial": r.serial,
        "cookie_digest": r.cookie_digest,
        "spec": codec_of(r.type).encode(r),
    }


def decode_reservation(d: dict[str, Any]) -> Reservation:
    """A stored record as a Reservation; ValueError (or KeyError, TypeError) if it is not one."""
    codec = codec_of(d["type"])
    envelope = {
        "id": d["id"],
        "owner": d["owner"],
        "window": Window(*d["window"]),
        "created": d["created"],
        "state": State(d["state"]),
        "name": d["name"],
        "reason": d["reason"],
        "ended": d["ended"],
        "serial": d["serial"],
        "cookie_digest": d["cookie_digest"],
    }
    reservation = codec.decode(envelope, d["spec"])
    problems = _envelope_problems(reservation) + codec.problems(reservation)
    if problems:
        raise ValueError(f"bad {', '.join(problems)}")
    return reservation


def _envelope_problems(r: Reservation) -> list[str]:
    """Envelope fields of the wrong type: such a record is damaged.

    Without this, a record with a string where a time belongs would load and
    then break every listing (sorting) or the start (booking).
    """
    return [
        what
        for what, ok in (
            ("id", isinstance(r.id, str) and r.id != ""),
            ("owner", isinstance(r.owner, str)),
            ("created", is_finite(r.created)),
            ("ended", r.ended is None or is_finite(r.ended)),
            ("serial", is_count(r.serial)),
            ("name", all(v is None or isinstance(v, str) for v in (r.name, r.reason))),
            ("cookie_digest", r.cookie_digest is None or isinstance(r.cookie_digest, str)),
        )
        if not ok
    ]


def _version(row: tuple[str] | None) -> int | None:
    try:
        return None if row is None else int(row[0])
    except ValueError:
        return None


def encode_policy(policy: Policy) -> dict[str, Any]:
    return {
        "headroom_percent": policy.headroom_percent,
        "alarm_percent": policy.alarm_percent,
        "discount": [policy.discount.percent, policy.discount.bps],
        "default_fence": policy.default_fence.as_json(),
    }


def decode_policy(d: dict[str, Any]) -> Policy:
    return Policy(
        headroom_percent=d["headroom_percent"],
        alarm_percent=d["alarm_percent"],
        discount=Discount(*d["discount"]),
        default_fence=Fence(**d["default_fence"]),
    )
