"""Find duplicate customer records with Splink: train without labels, report blocking
coverage, score the blocked pairs, and keep them (with per-field match weights) in the hub.

Splink runs on an in-memory DuckDB of its own, fed the records as Arrow: its many working
tables never land in the hub file, and the hub's connection is never shared with it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
from splink import DuckDBAPI

from customers.errors import CustomerError
from customers.hub import Hub
from customers.linkage import (
    COMPARED,
    blocked_pairs,
    compared,
    prediction_rules,
    scoring_sql,
    train,
)

DEFAULT_FLOOR = 0.3  # pairs below this probability are not kept: never a duplicate to review


@dataclass(frozen=True)
class RuleCoverage:
    rule: str
    pairs: int  # pairs this rule adds to the ones before it
    cumulative: int


@dataclass(frozen=True)
class MatchRun:
    run_id: int
    records: int
    pairs: int  # scored pairs kept (match probability >= floor)
    coverage: tuple[RuleCoverage, ...]
    attributes: tuple[str, ...]  # the attributes compared (of those the records fill)
    seconds: tuple[tuple[str, float], ...]  # (phase, wall seconds)
    # (phase, CPU seconds of this process, all threads): on a shared machine the wall time
    # says little alone.
    cpu_seconds: tuple[tuple[str, float], ...] = ()


def find_duplicates(hub: Hub, floor: float = DEFAULT_FLOOR, with_coverage: bool = True) -> MatchRun:
    """Train, predict and store one match run over every record in the hub.

    >>> import tempfile, pathlib
    >>> from customers.hub import open_hub
    >>> with open_hub(pathlib.Path(tempfile.mkdtemp()) / "h.duckdb") as hub:
    ...     find_duplicates(hub)
    Traceback (most recent call last):
    ...
    customers.errors.CustomerError: the hub has 0 records; duplicates need at least 2
      hint: import a file first: strata customers import FILE --mapping NAME
    """
    phases = _Phases()
    records = hub.con.sql(normalised_records_sql()).to_arrow_table()
    if records.num_rows < 2:
        raise CustomerError(
            f"the hub has {records.num_rows} records; duplicates need at least 2",
            "import a file first: strata customers import FILE --mapping NAME",
        )
    present = _present(records)
    con = duckdb.connect()
    con.register("records_arrow", records)
    con.execute("CREATE TABLE records AS SELECT * FROM records_arrow")
    con.unregister("records_arrow")
    db_api = DuckDBAPI(con)
    phases.end("load")
    linker = train(db_api, "records", present)
    phases.end("train")
    con.register("blocked_arrow", blocked_pairs(con, "records", present))
    con.execute("CREATE TABLE blocked_pairs AS SELECT * FROM blocked_arrow")
    con.unregister("blocked_arrow")
    coverage = _coverage(con, present) if with_coverage else ()
    phases.end("block")
    scored = scoring_sql(linker, "records", "blocked_pairs", floor)
    pairs = con.sql(_pairs_sql(scored, con.sql(scored).columns, compared(present)))
    pairs = pairs.to_arrow_table()
    phases.end("score")
    model = json.dumps(linker.misc.save_model_to_json())
    con.close()
    run_id = _store(hub, records.num_rows, pairs, model, coverage)
    phases.end("store")
    return MatchRun(
        run_id,
        records.num_rows,
        pairs.num_rows,
        coverage,
        tuple(compared(present)),
        tuple(phases.wall),
        tuple(phases.cpu),
    )


class _Phases:
    """Wall and CPU seconds of consecutive phases, each ended by name."""

    def __init__(self) -> None:
        self.wall: list[tuple[str, float]] = []
        self.cpu: list[tuple[str, float]] = []
        self._clock, self._cpu_clock = time.perf_counter(), time.process_time()

    def end(self, name: str) -> None:
        clock, cpu_clock = time.perf_counter(), time.process_time()
        self.wall.append((name, clock - self._clock))
        self.cpu.append((name, cpu_clock - self._cpu_clock))
        self._clock, self._cpu_clock = clock, cpu_clock


def normalised_records_sql(where: str = "") -> str:
    """The records as Splink compares them: case and stray spaces are not differences.

    >>> normalised_records_sql()[:50]
    'SELECT record_id, NULLIF(LOWER(TRIM(CAST(first_nam'
    """
    columns = ", ".join(_normalised(c) for c in COMPARED)
    return f"SELECT record_id, {columns} FROM customer_record {where}"


def _normalised(column: str) -> str:
    value = f"NULLIF(LOWER(TRIM(CAST({column} AS VARCHAR))), '')"
    if column in ("email", "phone"):
        # A kept invalid value ("n/a", "broken@") is shared by unrelated people: comparing or
        # blocking on it would make them duplicates of each other.
        value = f"CASE WHEN {column}_valid IS NOT FALSE THEN {value} END"
    return f"{value} AS {column}"


def _present(records: pa.Table) -> list[str]:
    # An attribute no record fills (or all fill alike) cannot be trained: leave it out.
    con = duckdb.connect()
    con.register("r", records)
    counts = con.sql(
        "SELECT " + ", ".join(f"approx_count_distinct({c})" for c in COMPARED) + " FROM r"
    ).fetchall()[0]
    con.close()
    return [c for c, n in zip(COMPARED, counts, strict=True) if n > 1]


def _coverage(con: duckdb.DuckDBPyConnection, present: list[str]) -> tuple[RuleCoverage, ...]:
    # Each blocked pair carries the first rule that proposes it: the pairs a rule adds to the
    # ones before it, as Splink's count_comparisons_from_blocking_rules reports them, counted
    # from the pairs that are scored anyway instead of by a second pass of joins.
    added = dict(
        con.sql(
            "SELECT CAST(match_key AS INTEGER), COUNT(*) FROM blocked_pairs GROUP BY 1"
        ).fetchall()
    )
    coverage, cumulative = [], 0
    for number, rule in enumerate(prediction_rules(present)):
        text = rule if isinstance(rule, str) else rule.get_blocking_rule("duckdb").blocking_rule_sql
        cumulative += added.get(number, 0)
        coverage.append(RuleCoverage(text, added.get(number, 0), cumulative))
    return tuple(coverage)


def _pairs_sql(scored: str, columns: list[str], attributes: list[str]) -> str:
    weights = []
    for name in attributes:
        # A field's weight plus its term-frequency adjustment when Splink made one: what the
        # review screen's waterfall shows per field.
        tf = f" + COALESCE(mw_tf_adj_{name}, 0)" if f"mw_tf_adj_{name}" in columns else ""
        weights.append(f"mw_{name}{tf}")
    # A list in the order of the model's comparisons (`attributes`), which the run's model_json
    # keeps: naming the fields on every one of millions of pairs cost more than scoring them.
    # Read straight from Splink's scoring statement: its dozens of intermediate columns per
    # pair are never materialised, only what is kept.
    return (
        "SELECT LEAST(record_id_l, record_id_r) AS record_id_l,"
        " GREATEST(record_id_l, record_id_r) AS record_id_r, match_probability, match_weight,"
        f" [{', '.join(weights)}] AS field_weights FROM ({scored})"
    )


def _store(
    hub: Hub, records: int, pairs: pa.Table, model: str, coverage: tuple[RuleCoverage, ...]
) -> int:
    con = hub.con
    con.register("new_pairs", pairs)
    try:
        con.execute("BEGIN TRANSACTION")
        [(run_id,)] = con.execute("SELECT COALESCE(MAX(run_id), 0) + 1 FROM match_run").fetchall()
        con.execute(
            "INSERT INTO match_run VALUES ($r, $t, $n, $p, $model, $coverage)",
            {
                "r": run_id,
                "t": datetime.now(UTC),
                "n": records,
                "p": pairs.num_rows,
                "model": model,
                "coverage": json.dumps([c.__dict__ for c in coverage]),
            },
        )
        con.execute("INSERT INTO match_pair SELECT $r, * FROM new_pairs", {"r": run_id})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("new_pairs")
    return run_id
