"""The one SQLite file the reservation store lives in, and what happens when its disk misbehaves.

Faults seen on real machines, and what the controller does about each:

* **The disk fills up** (or the file system turns read-only, or an I/O error):
  the write fails, is rolled back, and the caller gets ``StorageUnavailable``
  (HTTP 503 ``storage_unavailable``) naming the cause. Nothing else stops:
  reads, switch enforcement and time-driven state changes go on in memory, and
  ``check`` (every tick) probes until a write works again.
* **Someone deletes the file while the controller runs**: the controller
  still holds the open (unlinked) file with everything in it. Before every
  write, and on every tick, the path is compared with the open file; a missing
  file is written out again from the open copy, atomically and without
  overwriting anything that appeared there meanwhile. A file *replaced* by
  another is not touched: writes are refused until an operator decides.
* **Two controllers on one state directory**: the database is locked
  exclusively for the life of the process, so the second one stops at start.

The exclusive lock also keeps SQLite's WAL index in process memory instead of
a memory-mapped ``-shm`` file, whose pages fault with SIGBUS when the file
system under them fills up or goes away.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from tegu_ryu.errors import StorageUnavailable

LOG = logging.getLogger(__name__)


class DatabaseFile:
    """An exclusively locked SQLite (WAL) database that notices being deleted and full disks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None  # why writes fail now; None when they work
        self.db = _connect(path)
        self._identity = _identity(path)
        self._closed = False  # True while a copy written out again awaits reopening

    # --------------------------------------------------------------- writing

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is committed, or none of it and StorageUnavailable."""
        self._follow_the_file()
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise
        except (sqlite3.DatabaseError, OSError) as exc:
            self._failed(_describe(exc, self.path))
        self._worked()

    def check(self) -> None:
        """Follow the file (written again if deleted); while writes fail, probe with one."""
        try:
            if self.problem is None:
                self._follow_the_file()
            else:
                with self.write() as db:
                    db.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('probed', ?)", (str(time.time()),)
                    )
        except StorageUnavailable:
            pass  # already logged, and shown in health

    def backup(self, target: Path) -> None:
        """A consistent copy of the database at ``target``."""
        copy = sqlite3.connect(target)
        try:
            self.db.backup(copy)
        except (sqlite3.Error, OSError) as exc:
            raise StorageUnavailable(f"cannot write {target}: {exc}") from exc
        finally:
            copy.close()

    def close(self) -> None:
        self.db.close()

    # --------------------------------------------------------------- faults

    def _failed(self, problem: str) -> None:
        if problem != self.problem:
            LOG.error("reservation database: %s; writes are refused until this is fixed", problem)
        self.problem = problem
        raise StorageUnavailable(
            f"the reservation database cannot be written ({problem}); nothing was changed. "
            "Reads and enforcement go on; writes resume when it is fixed"
        )

    def _worked(self) -> None:
        if self.problem is not None:
            LOG.warning("reservation database: writable again (was: %s)", self.problem)
        self.problem = None

    def _follow_the_file(self) -> None:
        """Compare the path with the open file: write it again if deleted, refuse if replaced."""
        if self._closed:
            self._reopen()
        try:
            found = _identity(self.path)
        except FileNotFoundError:
            self._write_out_again()
            return
        except OSError as exc:
            self._failed(_describe(exc, self.path))
        if found != self._identity:
            self._failed(
                f"{self.path} was replaced by another file while the controller ran; restart "
                "the controller to use the new file, or put the original back"
            )

    def _write_out_again(self) -> None:
        """The file was deleted: copy the open database back to its path, then use the copy.

        The copy is made whole beside the path and linked into place, so the
        path never holds half a database and nothing that appeared there
        meanwhile is overwritten. A write-ahead log left at the path belongs
        to the deleted file: it is moved aside first, so that it can never be
        applied to the copy.
        """
        copy = self.path.with_name(self.path.name + ".restoring")
        log = self.path.with_name(self.path.name + "-wal")
        stale = log.with_name(f"{log.name}.stale-{int(time.time())}")
        try:
            with contextlib.suppress(FileNotFoundError):
                copy.unlink()
            self.backup(copy)
            with contextlib.suppress(FileNotFoundError):
                log.rename(stale)
            os.link(copy, self.path)
        except (StorageUnavailable, OSError) as exc:
            with contextlib.suppress(OSError):
                copy.unlink()
            self._failed(f"{self.path} was deleted and cannot be written again: {exc}")
        with contextlib.suppress(OSError):
            copy.unlink()
        with contextlib.suppress(sqlite3.Error):
            self.db.close()  # folds its log into the deleted file
        with contextlib.suppress(OSError):
            stale.unlink()
        self._reopen()
        LOG.warning(
            "reservation database %s was deleted while the controller ran; it has been written "
            "again from the open copy, and nothing was lost",
            self.path,
        )

    def _reopen(self) -> None:
        """Open the database at its path (again); until that works, every write is refused."""
        self._closed = True
        try:
            self.db = _connect(self.path)
            self._identity = _identity(self.path)
        except (sqlite3.Error, OSError) as exc:
            self._failed(f"{self.path} cannot be opened again: {exc}")
        self._closed = False


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=0.5, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA locking_mode=EXCLUSIVE")  # before the first access: no -shm mapping
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _identity(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _describe(exc: BaseException, path: Path) -> str:
    """A cause an operator can act on, from what SQLite or the OS said."""
    text = str(exc)
    lowered = text.lower()
    if "full" in lowered or getattr(exc, "errno", None) == 28:
        return f"the disk holding {path} is full"
    if "readonly" in lowered or "read-only" in lowered or getattr(exc, "errno", None) == 30:
        return f"{path} is read-only"
    if "i/o" in lowered:
        return f"disk I/O error on {path}"
    return f"{path}: {text}"
