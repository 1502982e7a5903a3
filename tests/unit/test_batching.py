"""Admissions that arrive together share one commit, and fail together only when it fails."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from tegu_ryu.errors import Conflict, StorageUnavailable
from tegu_ryu.reservations.batching import BatchedAdmissions


class Recorder:
    """Commits and undos as they happen; the first commits can be made to wait or fail."""

    def __init__(self) -> None:
        self.commits: list[list[str]] = []
        self.undone: list[str] = []
        self.fail_with: Exception | None = None
        self.release = threading.Event()
        self.release.set()
        self.committing = threading.Event()

    def commit(self, reservations: Sequence[Any]) -> None:
        self.committing.set()
        self.release.wait(10)
        if self.fail_with is not None:
            raise self.fail_with
        self.commits.append([r.id for r in reservations])

    def undo(self, reservation_id: str) -> None:
        self.undone.append(reservation_id)


def admitted(name: str) -> Any:
    return lambda: SimpleNamespace(id=name)


def test_one_admission_alone_is_committed_before_its_answer() -> None:
    recorder = Recorder()
    batched = BatchedAdmissions(threading.RLock(), recorder.commit, recorder.undo)
    assert batched.admit(admitted("r1"), lambda r: f"made {r.id}") == "made r1"
    assert recorder.commits == [["r1"]] and recorder.undone == []


def test_admissions_queued_during_a_commit_share_the_next_one() -> None:
    recorder = Recorder()
    batched = BatchedAdmissions(threading.RLock(), recorder.commit, recorder.undo)
    recorder.release.clear()
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(batched.admit, admitted("r0"), lambda r: r.id)
        assert recorder.committing.wait(10)  # r0's commit holds the lock from here
        rest = [pool.submit(batched.admit, admitted(f"r{n}"), lambda r: r.id) for n in range(1, 6)]
        while len(batched._queue) < 5:  # all five are waiting for the lock
            threading.Event().wait(0.001)
        recorder.release.set()
        answers = [first.result(10), *(f.result(10) for f in rest)]
    assert answers == [f"r{n}" for n in range(6)]
    assert recorder.commits[0] == ["r0"]
    assert sorted(recorder.commits[1]) == [f"r{n}" for n in range(1, 6)]  # one transaction
    assert len(recorder.commits) == 2


def test_a_refusal_or_a_failed_reply_leaves_the_rest_of_the_batch_alone() -> None:
    recorder = Recorder()
    batched = BatchedAdmissions(threading.RLock(), recorder.commit, recorder.undo)

    def refused() -> Any:
        raise Conflict("link full", code="insufficient_bandwidth")

    def broken_reply(reservation: Any) -> str:
        raise RuntimeError("the view failed")

    with pytest.raises(Conflict):
        batched.admit(refused, lambda r: r)
    with pytest.raises(RuntimeError, match="view failed"):
        batched.admit(admitted("r1"), broken_reply)
    assert batched.admit(admitted("r2"), lambda r: r.id) == "r2"
    assert recorder.undone == ["r1"]  # admitted, but nobody was told: undone, never committed
    assert recorder.commits == [["r2"]]


def test_a_failed_commit_undoes_its_whole_batch_and_tells_every_client() -> None:
    recorder = Recorder()
    lock = threading.RLock()
    batched = BatchedAdmissions(lock, recorder.commit, recorder.undo)
    recorder.fail_with = StorageUnavailable("the disk is full")
    lock.acquire()  # hold the lock so that three queue up, then let one of them run them all
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(batched.admit, admitted(f"r{n}"), lambda r: r.id) for n in range(3)]
        while len(batched._queue) < 3:
            threading.Event().wait(0.001)
        lock.release()
        errors = [f.exception(10) for f in futures]
    assert all(isinstance(e, StorageUnavailable) for e in errors)
    assert sorted(recorder.undone) == ["r0", "r1", "r2"] and recorder.commits == []
