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
import math
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tegu_ryu.errors import ConfigurationError, StorageUnavailable
from tegu_ryu.reservations.dbfile import DatabaseFile
from tegu_ryu.reservations.model import (
    Bandwidth,
    Direction,
    Endpoint,
    Kind,
    Match,
    Reservation,
    Route,
    State,
)
from tegu_ryu.reservations.paths import Hop, PathMode
from tegu_ryu.reservations.policy import Discount, Fence, Policy
from tegu_ryu.reservations.window import Window
from tegu_ryu.topology.refs import LinkId, PortRef

LOG = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DATABASE = "tegu.db"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE fences (tenant TEXT PRIMARY KEY, record TEXT NOT NULL);
"""


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
            if fresh:
                with file.write() as db:
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        db.execute(statement)  # executescript would commit half-way
                    db.execute(
                        "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
            version = file.db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise StoreError(
                    f"{self.path} is in use by another process (another tegu-manager on the same "
                    "state_dir?)"
                ) from exc
            raise StoreError(f"cannot use the reservation database {self.path}: {exc}") from exc
        except (sqlite3.DatabaseError, OSError, StorageUnavailable) as exc:
            raise StoreError(f"cannot use the reservation database {self.path}: {exc}") from exc
        if version is None or int(version[0]) != SCHEMA_VERSION:
            found = "none" if version is None else version[0]
            raise StoreError(
                f"{self.path} has schema version {found}; "
                f"this tegu_ryu reads version {SCHEMA_VERSION}"
            )
        return file

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

    def save_reservations(self, reservations: list[Reservation]) -> None:
        with self._file.write() as db:
            db.executemany(
                "INSERT OR REPLACE INTO reservations VALUES (?, ?, ?, ?)",
                [
                    (r.id, r.owner, r.state.value, json.dumps(encode_reservation(r)))
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
    return {
        "id": r.id,
        "kind": r.kind.value,
        "owner": r.owner,
        "src": _encode_endpoint(r.src),
        "dst": _encode_endpoint(r.dst),
        "requested": [r.requested.out, r.requested.in_],
        "bandwidth": [r.bandwidth.out, r.bandwidth.in_],
        "window": [r.window.start, r.window.end],
        "match": [r.match.protocol, r.match.src_port, r.match.dst_port, r.match.vlan],
        "dscp": r.dscp,
        "path_mode": r.path_mode.value,
        "created": r.created,
        "state": r.state.value,
        "routes": {
            d.value: {
                "hops": [[h.dpid, h.in_port, h.out_port] for h in route.hops],
                "links": [
                    [lk.src.dpid, lk.src.port, lk.dst.dpid, lk.dst.port] for lk in route.links
                ],
            }
            for d, route in r.routes.items()
        },
        "name": r.name,
        "reason": r.reason,
        "ended": r.ended,
        "serial": r.serial,
        "cookie_digest": r.cookie_digest,
    }


def decode_reservation(d: dict[str, Any]) -> Reservation:
    """A stored record as a Reservation; ValueError (or KeyError, TypeError) if it is not one."""
    return _checked(_decode_reservation(d))


def _decode_reservation(d: dict[str, Any]) -> Reservation:
    return Reservation(
        id=d["id"],
        kind=Kind(d["kind"]),
        owner=d["owner"],
        src=_decode_endpoint(d["src"]),
        dst=_decode_endpoint(d["dst"]),
        requested=Bandwidth(*d["requested"]),
        bandwidth=Bandwidth(*d["bandwidth"]),
        window=Window(*d["window"]),
        match=Match(*d["match"]),
        dscp=d["dscp"],
        path_mode=PathMode(d["path_mode"]),
        created=d["created"],
        state=State(d["state"]),
        routes={
            Direction(direction): Route(
                hops=tuple(Hop(*hop) for hop in route["hops"]),
                links=tuple(LinkId(PortRef(a, b), PortRef(c, e)) for a, b, c, e in route["links"]),
            )
            for direction, route in d["routes"].items()
        },
        name=d["name"],
        reason=d["reason"],
        ended=d["ended"],
        serial=d["serial"],
        cookie_digest=d["cookie_digest"],
    )


def _checked(r: Reservation) -> Reservation:
    """Every field of the type the engine relies on: a record of the wrong shape is damaged.

    Without this, a record with a string where a time belongs would load and
    then break every listing (sorting) or the start (booking).
    """
    problems = [
        what
        for what, ok in (
            ("id", isinstance(r.id, str) and r.id != ""),
            ("owner", isinstance(r.owner, str)),
            ("created", _finite(r.created)),
            ("ended", r.ended is None or _finite(r.ended)),
            ("serial", _count(r.serial)),
            ("bandwidth", all(_count(b) for b in (*_pair(r.bandwidth), *_pair(r.requested)))),
            ("dscp", r.dscp is None or (_count(r.dscp) and r.dscp <= 63)),
            ("match", _match_ok(r.match)),
            ("endpoints", all(_endpoint_ok(e) for e in (r.src, r.dst))),
            ("routes", all(_route_ok(route) for route in r.routes.values())),
            ("name", all(v is None or isinstance(v, str) for v in (r.name, r.reason))),
            ("cookie_digest", r.cookie_digest is None or isinstance(r.cookie_digest, str)),
        )
        if not ok
    ]
    if problems:
        raise ValueError(f"bad {', '.join(problems)}")
    return r


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _pair(bandwidth: Bandwidth) -> tuple[object, object]:
    return bandwidth.out, bandwidth.in_


def _match_ok(match: Match) -> bool:
    return (
        match.protocol in (None, "tcp", "udp", "icmp")
        and all(
            p is None or (_count(p) and 1 <= p <= 65535) for p in (match.src_port, match.dst_port)
        )
        and (match.vlan is None or (_count(match.vlan) and 1 <= match.vlan <= 4094))
    )


def _endpoint_ok(e: Endpoint) -> bool:
    return (
        isinstance(e.given, str)
        and all(v is None or isinstance(v, str) for v in (e.mac, e.ip, e.name))
        and (e.attach is None or (_count(e.attach.dpid) and _count(e.attach.port)))
    )


def _route_ok(route: Route) -> bool:
    return all(
        _count(h.dpid) and _count(h.in_port) and (h.out_port is None or _count(h.out_port))
        for h in route.hops
    ) and all(
        _count(end.dpid) and _count(end.port)
        for link in route.links
        for end in (link.src, link.dst)
    )


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


def _encode_endpoint(e: Endpoint) -> list[Any]:
    attach = None if e.attach is None else [e.attach.dpid, e.attach.port]
    return [e.given, e.mac, e.ip, attach, e.name]


def _decode_endpoint(v: list[Any]) -> Endpoint:
    given, mac, ip, attach, name = v
    return Endpoint(given, mac, ip, None if attach is None else PortRef(*attach), name)
