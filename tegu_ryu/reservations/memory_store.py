"""A reservation store in memory: for tests and tools that need the service without a file.

It keeps what it is given exactly as the SQLite store would hand it back
(records go through the same encoding), so a test on it exercises the same
round trip; it just does not survive the process.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tegu_ryu.errors import StorageUnavailable
from tegu_ryu.reservations.model import Reservation
from tegu_ryu.reservations.policy import Fence, Policy
from tegu_ryu.reservations.store import (
    StoredState,
    decode_policy,
    decode_reservation,
    encode_policy,
    encode_reservation,
)


class MemoryStore:
    """Everything the controller would commit, kept as the records SQLite would hold."""

    def __init__(self) -> None:
        self._reservations: dict[str, str] = {}
        self._policy: str | None = None
        self._fences: dict[str, dict[str, Any]] = {}
        self._paused = False

    @property
    def problem(self) -> str | None:
        return None

    def check(self) -> None:
        """Nothing to follow: memory does not fill up or vanish under the process."""

    def load(self) -> StoredState:
        return StoredState(
            reservations=[decode_reservation(json.loads(r)) for r in self._reservations.values()],
            policy=None if self._policy is None else decode_policy(json.loads(self._policy)),
            fences={tenant: Fence(**record) for tenant, record in self._fences.items()},
            paused=self._paused,
            damaged=[],
        )

    def save_reservations(self, reservations: Sequence[Reservation]) -> None:
        encoded = {r.id: json.dumps(encode_reservation(r)) for r in reservations}
        self._reservations.update(encoded)

    def forget_reservations(self, ids: list[str]) -> None:
        for reservation_id in ids:
            self._reservations.pop(reservation_id, None)

    def save_policy(self, policy: Policy) -> None:
        self._policy = json.dumps(encode_policy(policy))

    def save_paused(self, paused: bool) -> None:
        self._paused = paused

    def save_fence(self, tenant: str, fence: Fence | None) -> None:
        if fence is None:
            self._fences.pop(tenant, None)
        else:
            self._fences[tenant] = fence.as_json()

    def checkpoint(self, now: float) -> Path:
        raise StorageUnavailable("the reservations are kept in memory: there is no file to copy")

    def close(self) -> None:
        """Nothing to release."""
