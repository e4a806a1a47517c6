"""The Python API that the UI, the CLI and the tests share."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pyarrow as pa

from engine.analysis import Analysis, to_logical_sql
from engine.cache import ResultCache
from engine.columns import FolderInfo, column_tree, subject_areas
from engine.combinable import combinable
from engine.compile import Compiled, compile_request
from engine.drill import DrillLevel, drill, levels
from engine.federate import fetch_notes
from engine.frame import to_frame
from engine.generate import GeneratedQuery
from engine.log_writer import LogWriter
from engine.pivot import PivotLayout, pivot_frame, pivot_requests, totals_filters
from engine.plan import Candidate
from engine.session import SYSTEM, Session, login
from engine.values import ValueList, values_request
from engine.verify import same_rows
from physical.backend import Backend, QueryError, connect
from physical.federation import fetch_tables
from physical.settings import data_folder
from physical.types import typed
from semantic.errors import ModelErrors, StrataError
from semantic.load import load_model
from semantic.model import InitBlock, Model
from store import QueryLogEntry, QueryRoute, Store, open_store

_STAGES = ("parse", "resolve", "plan", "generate")


def _stamp(folder: str) -> tuple:
    """Names, sizes and modification times of the model's files: cheap to read on every
    request, and different whenever a file is saved, added or removed."""
    try:
        return tuple(
            (p.name, s.st_size, s.st_mtime_ns)
            for p in sorted(Path(folder).glob("*.yaml"))
            for s in [p.stat()]
        )
    except OSError:
        return ()


@dataclass(frozen=True)
class Result:
    df: pd.DataFrame  # columns named as selected
    sql: str  # the physical SQL that ran
    logical_sql: str
    timings: tuple[tuple[str, float], ...]  # (stage, ms): parse ... execute, convert
    cache: str = "miss"  # "hit": served from the result cache, "off": not cacheable
    request_id: str = ""  # the query log's row

    @property
    def rows(self) -> int:
        return len(self.df)

    def timing(self, stage: str) -> float:
        return dict(self.timings)[stage]


class Engine:
    """A loaded, checked model and lazily opened connections to its databases.

    >>> eng = Engine.open("models/demo")
    >>> print(eng.explain('SELECT "Customer"."Customer Type" FROM "Campaigns"', pretty=True))
    SELECT
      "f0"."d0" AS "Customer Type"
    FROM (
      SELECT
        "customer"."customer_type" AS "d0"
      FROM "customer" AS "customer"
      GROUP BY
        "customer"."customer_type"
    ) AS "f0"
    """

    # Compiled requests kept per engine: a model never changes under an engine, and a
    # Streamlit page or a dashboard sends the same requests again and again.
    PLAN_CACHE_SIZE = 512
    # How often a request looks at the model files (a few stat calls, ~70 us): a saved
    # model is in use within a second, and a busy engine does not stat on every request.
    RELOAD_CHECK_S = 1.0

    def __init__(
        self, model: Model, store_url: str | None = None, cache: ResultCache | None = None
    ):
        self.model = model
        self.cache = cache if cache is not None else ResultCache(data_folder() / "cache")
        self._store_url = store_url
        self._store: Store | None = None
        self.log = LogWriter(lambda: self.store)
        self._backends: dict[str, Backend] = {}
        self._plans: OrderedDict[tuple, Compiled] = OrderedDict()
        self._sessions: dict[str, Session] = {}
        self._trees: dict[tuple, tuple[FolderInfo, ...]] = {}
        self._lock = threading.Lock()
        self._stamp = _stamp(model.path)
        self._checked = time.monotonic()
        self.reload_errors: ModelErrors | None = None  # why the model on disk is not in use
        # Answer from aggregate sources when they can; off, every fact reads its detail source
        # (tests prove both paths give the same numbers).
        self.aggregate_navigation = True
        # Share of answers read from an aggregate source that are run again on the detail
        # sources and compared (1.0 in tests; a small sample in production). A difference is
        # written to the query log and kept in `navigation_mismatches`.
        self.verify_navigation = float(os.environ.get("STRATA_VERIFY_NAVIGATION", "0") or 0)
        self.navigation_mismatches: list[str] = []

    @classmethod
    def open(cls, path: str | Path = "models/demo", store_url: str | None = None) -> Engine:
        """Load and check the model; the query log goes to `store_url` (default: the app store)."""
        return cls(load_model(path), store_url)

    @property
    def store(self) -> Store:
        """The app store, opened at first use: explaining a request never needs it."""
        with self._lock:
            if self._store is None:
                self._store = open_store(self._store_url)
            return self._store

    def explain(
        self,
        logical_sql: str,
        dialect: str | None = None,
        user: str | None = None,
        pretty: bool = False,
    ) -> str:
        """The physical SQL for `logical_sql` as `user` would run it, without running it."""
        query = self._compiled(logical_sql, dialect, self.session(user)).query
        return fetch_notes(query.fetches, query.database) + (query.pretty if pretty else query.sql)

    def sources(self, logical_sql: str, user: str | None = None) -> tuple[Candidate, ...]:
        """Why each fact query reads the source it reads: every source considered, the one
        chosen, and the rule that rejected each other one.

        >>> eng = Engine.open("models/demo")
        >>> for c in eng.sources('SELECT "Time"."Year", "Facts"."Billed Amount" FROM "Billing"'):
        ...     print(c.chosen, c.source, "-", c.reason.split(";")[-1].strip())
        True monthly by area and tariff - about 720 rows
        False invoices - answers too, but an aggregate source holds fewer rows
        """
        return self._compiled(logical_sql, None, self.session(user)).candidates

    def drill(self, logical_sql: str, column: str, value: object, user: str | None = None) -> str:
        """The request one hierarchy level below `column` ('"Time"."Year"'), filtered to
        `column = value`: the lower level's column follows `column` in the SELECT list.
        `value` becomes a literal (never SQL text); None drills into the NULL member."""
        return drill(logical_sql, column, value, self.model, self.session(user))

    def levels(self, subject_area: str, user: str | None = None) -> tuple[DrillLevel, ...]:
        """The presentation columns of `subject_area` that are hierarchy levels, each with the
        column it drills to (None at the lowest level shown): which cells a page may link."""
        return levels(self.model, self.session(user), subject_area)

    def session(self, user: str | None = None) -> Session:
        """Log `user` in once (init blocks run then) and keep the session for this engine."""
        key = user
        with self._lock:
            found = self._sessions.get(key)
        if found is None:
            found = login(self.model, user, self._init_rows)
            with self._lock:
                self._sessions[key] = found
        return found

    def _init_rows(self, block: InitBlock, user: str) -> list[tuple]:
        if block.sql is not None:
            return self._backend(block.database).rows(block.sql, {"user": user})
        # Logical SQL runs unrestricted: the block decides what the user may see, so it
        # cannot itself be filtered by it. Only NQ_SESSION.USER is known at this point.
        system = Session(user, frozenset(), True, {"USER": (user,)})
        query = compile_request(block.logical_sql, self.model, system).query
        return [tuple(row.values()) for row in self._execute(query).to_pylist()]

    def reload_if_changed(self) -> bool:
        """Switch to the model on disk if its files changed and it passes the check.

        A broken edit leaves the last good model in service and its errors in
        `reload_errors`, so a modeler's typo never takes the application down.
        """
        now = time.monotonic()
        if now - self._checked < self.RELOAD_CHECK_S:
            return False
        self._checked = now
        stamp = _stamp(self.model.path)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            model = load_model(self.model.path)
        except ModelErrors as e:
            self.reload_errors = e
            return False
        self.reload_errors = None
        if model.hash == self.model.hash:
            return False
        with self._lock:
            self.model = model
            self._plans.clear()
            self._sessions.clear()
        return True

    def query(self, logical_sql: str, user: str | None = None, dense: bool = False) -> Result:
        """Run `logical_sql` as `user`; every request, answered or refused, is logged.
        `dense=True`: a request by time columns only shows every calendar period, empty ones
        as rows of NULL measures."""
        self.reload_if_changed()
        entry = QueryLogEntry(user or self.model.security.default_user or "", logical_sql)
        session = SYSTEM
        try:
            session = self.session(user)
            entry = replace(entry, user_name=session.user)
            compiled = self._compiled(logical_sql, None, session, dense)
            query = compiled.query
            entry = replace(
                entry,
                subject_area=query.subject_area,
                # A federated request's log says what it read from where, as explain does.
                physical_sql=fetch_notes(query.fetches, query.database) + query.sql,
                dialect=query.dialect,
                model_hash=self.model.hash,
                **{f"{stage}_ms": ms for stage, ms in compiled.timings if stage in _STAGES},
            )
            backend = self._backend(query.database)
            t0 = time.perf_counter()
            table, cache = self._run(query, backend)
            t1 = time.perf_counter()
            df = to_frame(table, query.columns)
            t2 = time.perf_counter()
        except QueryError as e:
            self.log.write(replace(entry, error=str(e)))
            if session.administrator:
                raise
            # DuckDB's message quotes the value it failed on, which may belong to a row the
            # user's filters hide (the optimizer may test a condition before the row filter).
            raise QueryError(
                "the database could not evaluate this request; an administrator can read "
                f"the reason in the query log (request {entry.request_id})"
            ) from None
        except StrataError as e:
            self.log.write(replace(entry, error=str(e)))
            raise
        if self.verify_navigation and any(c.chosen and c.aggregate for c in compiled.candidates):
            df = self._verify(logical_sql, session, entry, df, dense)
        execute, convert = (t1 - t0) * 1000, (t2 - t1) * 1000
        timings = (*compiled.timings, ("execute", execute), ("convert", convert))
        version = backend.version() if compiled.routes else None
        self.log.write(
            replace(
                entry,
                execute_ms=execute,
                fetch_ms=convert,
                rows=len(df),
                cache=None if cache == "off" else cache,
                routes=tuple(
                    QueryRoute(r.fact, r.source, r.aggregate, r.coverage, version)
                    for r in compiled.routes
                ),
            ),
        )
        return Result(df, query.sql, logical_sql, timings, cache, entry.request_id)

    def _verify(
        self, logical_sql: str, session: Session, entry, df: pd.DataFrame, dense: bool
    ) -> pd.DataFrame:
        """Run a routed request again on the detail sources; if they differ, log it and
        answer from the detail: a stale aggregate is then known to be wrong."""
        if random.random() >= self.verify_navigation:
            return df
        detail = compile_request(
            logical_sql, self.model, session, None, navigate=False, dense=dense
        ).query
        expected = to_frame(typed(self._execute(detail), detail.types), detail.columns)
        if same_rows(df, expected):
            return df
        message = (
            f"aggregate navigation mismatch: request {entry.request_id} answered from an "
            f"aggregate source differs from its detail sources ({len(df)} rows against "
            f"{len(expected)}); the aggregate may be stale; answered from the detail"
        )
        self.navigation_mismatches.append(message)
        self.log.write(
            QueryLogEntry(
                entry.user_name,
                logical_sql,
                subject_area=entry.subject_area,
                physical_sql=detail.sql,
                dialect=detail.dialect,
                model_hash=self.model.hash,
                rows=len(expected),
                error=message,
            )
        )
        return expected

    def subject_areas(self, user: str | None = None) -> tuple[str, ...]:
        """The subject areas `user` may query."""
        return subject_areas(self.model, self.session(user))

    def columns(self, subject_area: str, user: str | None = None) -> tuple[FolderInfo, ...]:
        """The folders and columns of `subject_area` that `user` may see."""
        model = self.model
        key = (model.hash, subject_area, user)
        found = self._trees.get(key)
        if found is None:
            # Typing every column costs a few ms; a page asks for the tree on every rerun.
            found = column_tree(model, subject_area, self.session(user))
            with self._lock:
                if len(self._trees) > 256:
                    self._trees.clear()
                self._trees[key] = found
        return found

    def combinable(
        self, subject_area: str, selected: tuple[tuple[str, str], ...], user: str | None = None
    ) -> dict[tuple[str, str], str | None]:
        """Per visible column: None if it can join `selected`, else the engine's reason."""
        return combinable(self.model, subject_area, tuple(selected), self.session(user))

    def values(
        self,
        subject_area: str,
        folder: str,
        column: str,
        user: str | None = None,
        search: str | None = None,
        limit: int = 200,
    ) -> ValueList:
        """Up to `limit` values of a column that `user` may see, containing `search`."""
        found = self.query(values_request(subject_area, folder, column, search, limit), user)
        values = tuple(found.df.iloc[:, 0].tolist())
        return ValueList(values[:limit], len(values) > limit)

    def pivot(
        self,
        analysis: Analysis,
        layout: PivotLayout,
        user: str | None = None,
        **sql_options,
    ) -> pd.DataFrame:
        """The pivot of `analysis`, every total asked of the engine at its own grain (and, under
        a measure filter, for exactly the cells that passed it)."""
        requests = pivot_requests(analysis, layout)
        cells = self.query(to_logical_sql(requests["cells"], **sql_options), user).df
        tree = self.columns(analysis.subject_area, user)
        kinds = {(c.folder, c.name): c for f in tree for c in f.columns}
        measures = {ref for ref, c in kinds.items() if c.kind == "measure"}
        types = {ref: c.value_type for ref, c in kinds.items()}
        named = sql_options.get("named") or {}
        filters = totals_filters(analysis, layout, cells, measures, types, named)
        frames = {"cells": cells}
        for part in ("row_totals", "column_totals", "grand"):
            request = requests[part]
            if request is not None and filters is not None:
                request = replace(request, filters=filters)
            frames[part] = (
                None
                if request is None
                else self.query(to_logical_sql(request, **sql_options), user).df
            )
        return pivot_frame(
            frames["cells"],
            frames["row_totals"],
            frames["column_totals"],
            frames["grand"],
            layout.rows,
            layout.columns,
            layout.measures,
        )

    def _execute(self, query: GeneratedQuery) -> pa.Table:
        """Run `query` on its database, after fetching the tables it reads from others."""
        backend = self._backend(query.database)
        if not query.fetches:
            return backend.run(query.sql)
        return backend.run(query.sql, fetch_tables(query.fetches, self._backend))

    def _run(self, query: GeneratedQuery, backend: Backend) -> tuple[pa.Table, str]:
        versions = [backend.version()]
        versions += [
            self._backend(d).version() for d in dict.fromkeys(f.database for f in query.fetches)
        ]
        if None in versions:
            return typed(self._execute(query), query.types), "off"
        version = "|".join(versions)
        key = self.cache.key(query.sql, query.dialect, query.database, self.model.hash, version)
        ttls = [self.model.table(t).cache_ttl for t in query.tables]
        ttl = min((t for t in ttls if t is not None), default=None)
        table = self.cache.get(key, ttl)
        if table is not None:
            return table, "hit"
        table = typed(self._execute(query), query.types)
        self.cache.put(key, table)
        return table, "miss"

    def _compiled(
        self, text: str, dialect: str | None, session: Session, dense: bool = False
    ) -> Compiled:
        """Compile, or reuse an earlier compilation; a reuse reports its own timing."""
        start = time.perf_counter()
        key = (text, dialect, session.user, self.aggregate_navigation, dense)
        with self._lock:
            cached = self._plans.get(key)
            if cached is not None:
                self._plans.move_to_end(key)
        if cached is not None:
            return replace(cached, timings=(("plan cache", (time.perf_counter() - start) * 1000),))
        compiled = compile_request(
            text, self.model, session, dialect, self.aggregate_navigation, dense
        )
        with self._lock:
            self._plans[key] = compiled
            if len(self._plans) > self.PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        return compiled

    def clear_plan_cache(self) -> None:
        """Forget compiled requests and sessions: init blocks run again at the next request."""
        with self._lock:
            self._plans.clear()
            self._sessions.clear()
            self._trees.clear()

    def close(self) -> None:
        self.log.stop()
        with self._lock:
            for backend in self._backends.values():
                backend.close()
            self._backends.clear()
            if self._store is not None:
                self._store.close()
                self._store = None

    def release(self, database: str) -> None:
        """Close the connection to `database`, if open; the next request opens it again.

        A DuckDB file that this engine reads can be written by the same process only after
        this (the customer hub pages write the hub that "Data Quality" reads); the reopened
        connection also sees the file's new version, so no cached answer outlives a write.
        """
        with self._lock:
            backend = self._backends.pop(database, None)
        if backend is not None:
            backend.close()

    def _backend(self, database: str) -> Backend:
        with self._lock:
            if database not in self._backends:
                self._backends[database] = connect(self.model.database(database))
            return self._backends[database]
