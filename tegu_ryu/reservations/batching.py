"""Admissions that arrive together are committed together: one transaction, one fsync.

Why: in a burst every request used to hold the service lock through its own
SQLite commit, and with ``synchronous=FULL`` that file I/O was half of the time
the lock was held (about 1 ms of 2 ms under load), so the lock, not the CPU,
set the rate. This is flat combining: a request queues its admission and takes
the lock; whoever gets the lock runs every queued admission in arrival order,
commits the admitted ones in one transaction, and hands each request its
outcome. Admission order and capacity accounting are exactly those of one
request at a time under the lock, and every answer is still durable before it
is given; only the commit is shared. A commit that fails undoes every
admission of its batch, and each of their requests gets the error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from tegu_ryu.reservations.model import Reservation

ReplyT = TypeVar("ReplyT")
_UNSET = object()
KindT = TypeVar("KindT", bound=Reservation)


class _Queued(Generic[KindT, ReplyT]):
    __slots__ = ("admission", "answer", "done", "error", "reply")

    def __init__(self, admission: Callable[[], KindT], reply: Callable[[KindT], ReplyT]) -> None:
        self.admission = admission
        self.reply = reply
        self.done = False
        self.answer: ReplyT | object = _UNSET
        self.error: BaseException | None = None


class BatchedAdmissions:
    """Runs admissions under ``lock`` and commits each batch of them with ``commit``."""

    def __init__(
        self,
        lock: threading.RLock,
        commit: Callable[[Sequence[Reservation]], None],
        undo: Callable[[str], None],
    ) -> None:
        self._lock = lock
        self._commit = commit
        self._undo = undo
        self._queue: list[_Queued[Any, Any]] = []
        self._queue_lock = threading.Lock()

    def admit(self, admission: Callable[[], KindT], reply: Callable[[KindT], ReplyT]) -> ReplyT:
        """``reply`` of the reservation ``admission`` makes, once it is committed.

        ``admission`` raises to refuse (nothing is kept); ``reply`` raising
        undoes the admission, so no reservation is stored that the client
        was never told about.
        """
        queued: _Queued[KindT, ReplyT] = _Queued(admission, reply)
        with self._queue_lock:
            self._queue.append(queued)
        with self._lock:
            if not queued.done:
                self._run_queue()
        if queued.error is not None:
            raise queued.error
        return queued.answer  # type: ignore[return-value]  # a ReplyT whenever error is None

    def _run_queue(self) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue, []
        admitted: list[tuple[_Queued[Any, Any], Reservation]] = []
        try:
            for queued in batch:
                try:
                    reservation = queued.admission()
                except Exception as exc:
                    queued.error = exc
                    continue
                try:
                    queued.answer = queued.reply(reservation)
                except Exception as exc:
                    self._undo(reservation.id)
                    queued.error = exc
                    continue
                admitted.append((queued, reservation))
            if admitted:
                try:
                    self._commit([reservation for _, reservation in admitted])
                except Exception as exc:
                    for queued, reservation in admitted:
                        self._undo(reservation.id)
                        queued.error = exc
        finally:
            for queued in batch:
                if queued.answer is _UNSET and queued.error is None:
                    queued.error = RuntimeError("the admission was interrupted")
                queued.done = True
