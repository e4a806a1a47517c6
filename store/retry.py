"""Retry a unit of work while the store is busy, so that a lock never reaches a user as an error.

SQLite lets one writer in at a time and PostgreSQL aborts one side of a serialization conflict or
deadlock; in both cases the transaction was rolled back whole, so running it again is safe.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from semantic.errors import StrataError

T = TypeVar("T")

# SQLITE_BUSY and SQLITE_LOCKED; the low byte of an extended code (BUSY_SNAPSHOT = 517) is the base.
_SQLITE_BUSY_CODES = frozenset({5, 6})
_SQLITE_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")
# serialization_failure and deadlock_detected: PostgreSQL rolled the transaction back.
_PG_RETRY_STATES = frozenset({"40001", "40P01"})


class StoreBusy(StrataError):
    """The store stayed busy for the whole retry budget.

    >>> print(StoreBusy("sqlite:///app.db", 30.0, attempts=12))
    the app store sqlite:///app.db stayed busy for 30 s (12 attempts): another process holds it
      hint: try again in a moment; if this repeats, look for a process stuck in a long transaction
    """

    def __init__(self, where: str, waited_s: float, attempts: int):
        self.where, self.waited_s, self.attempts = where, waited_s, attempts
        super().__init__(
            f"the app store {where} stayed busy for {waited_s:.0f} s ({attempts} attempts): "
            "another process holds it\n"
            "  hint: try again in a moment; if this repeats, look for a process stuck in a long "
            "transaction"
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying, and how the waits between attempts grow.

    Each SQLite attempt also waits up to `busy_timeout_ms` inside SQLite before it fails, so
    retries here are for what the busy handler does not cover (a busy snapshot, a deadlock).
    """

    budget_s: float = 30.0
    first_wait_s: float = 0.005
    max_wait_s: float = 0.5
    busy_timeout_ms: int = 10_000


DEFAULT_POLICY = RetryPolicy()


def is_transient(error: BaseException) -> bool:
    """Whether an error means "busy, try again" rather than a real failure.

    >>> import sqlite3
    >>> from sqlalchemy.exc import OperationalError
    >>> is_transient(OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")))
    True
    >>> is_transient(OperationalError("INSERT", {}, sqlite3.OperationalError("no such table: t")))
    False
    """
    if not isinstance(error, DBAPIError) or error.connection_invalidated:
        return False
    orig = error.orig
    if (code := getattr(orig, "sqlite_errorcode", None)) is not None:
        return code & 0xFF in _SQLITE_BUSY_CODES
    if (state := getattr(orig, "sqlstate", None)) is not None:
        return state in _PG_RETRY_STATES
    return any(word in str(orig).lower() for word in _SQLITE_BUSY_WORDS)


def retry(
    work: Callable[[], T],
    *,
    where: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run `work` until it succeeds, retrying transient errors with capped exponential backoff.

    Waits double from `first_wait_s` up to `max_wait_s`, each drawn at random from its upper half
    so that processes which collided once do not collide again in step. After `budget_s` the
    last busy error becomes a `StoreBusy`; any other error is raised at once.

    >>> import sqlite3
    >>> from sqlalchemy.exc import OperationalError
    >>> busy = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    >>> outcomes = [busy, busy, "done"]
    >>> def work():
    ...     outcome = outcomes.pop(0)
    ...     if isinstance(outcome, Exception):
    ...         raise outcome
    ...     return outcome
    >>> retry(work, where="test.db", sleep=lambda s: None)
    'done'
    """
    start = clock()
    wait = policy.first_wait_s
    attempts = 0
    while True:
        attempts += 1
        try:
            return work()
        except DBAPIError as error:
            if not is_transient(error):
                raise
            elapsed = clock() - start
            if elapsed + wait > policy.budget_s:
                raise StoreBusy(where, elapsed, attempts) from error
        sleep(random.uniform(wait / 2, wait))
        wait = min(wait * 2, policy.max_wait_s)
