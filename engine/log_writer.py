"""Write query-log rows off the request path, in order, as BI EE's usage tracking buffers.

A request hands its row to a queue and returns; one thread commits the rows to the app
store. `flush()` waits until everything handed over is committed; it runs when the engine
closes and when the process exits, so a CLI command never loses its row.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable

from store import QueryLogEntry, Store, log_queries

_log = logging.getLogger(__name__)
BATCH_WINDOW_S = 0.05


class LogWriter:
    """Commits query-log rows on a background thread.

    >>> import tempfile
    >>> from store import open_store, recent_queries
    >>> store = open_store(f"sqlite:///{tempfile.mkdtemp()}/app.db")
    >>> writer = LogWriter(lambda: store)
    >>> writer.write(QueryLogEntry("amra", 'SELECT "Time"."Year" FROM "Billing"'))
    >>> writer.flush()
    >>> [e.user_name for e in recent_queries(store)]
    ['amra']
    """

    def __init__(self, store: Callable[[], Store]):
        self._store = store
        self._queue: queue.Queue[QueryLogEntry | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # A weak reference: the exit hook must not keep the engine (and its DuckDB
        # connections) alive until the interpreter shuts down.
        atexit.register(_flush, weakref.ref(self))

    def write(self, entry: QueryLogEntry) -> None:
        with self._lock:  # the same lock the thread holds when it decides to stop
            self._queue.put(entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="query-log", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Wait until every row handed over so far is committed."""
        if self._thread is not None:
            self._queue.join()

    def stop(self) -> None:
        """Commit what is queued and end the thread: at exit, nothing may still hold the
        engine, or DuckDB's bindings report its objects as leaked."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return
            self._queue.put(None)
        thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            try:
                entry = self._queue.get(timeout=0.5)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None  # idle: stop, so nothing holds the engine
                        return
                continue
            # Gather what arrives within a short window: a busy engine then pays a few
            # commits a second, not one per request, and its requests keep the CPU.
            batch, deadline = [entry], time.monotonic() + BATCH_WINDOW_S
            while len(batch) < 500 and batch[-1] is not None:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            stopping = batch[-1] is None
            entries = [e for e in batch if e is not None]
            try:
                # One transaction for whatever queued up meanwhile: a busy engine pays one
                # commit per batch, not per request.
                if entries:
                    log_queries(self._store(), entries)
            except Exception:  # a lost log row must not kill the writer or the request
                _log.exception("query log: could not write %d request(s)", len(entries))
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stopping:
                with self._lock:
                    self._thread = None
                return


def _flush(ref: weakref.ref) -> None:
    writer = ref()
    if writer is not None:
        writer.stop()
