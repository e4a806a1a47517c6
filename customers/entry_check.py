"""Entry-time duplicate check: score new records against the registry before they become
customers, with the model of the latest match run.

A checker is built once: the registry and its term-frequency tables are loaded into a DuckDB
of its own, every blocking key of every registry row is hashed into a sorted array, and the
model's scoring SQL (Splink's own, from its comparison and prediction steps) is generated.
Each check then finds the rows that share a blocking key with the new records by binary
search, and runs that one SQL statement over those pairs only: no join over the registry, no
Splink pipeline per call. A warm check of one record against a large registry takes a few
hundredths of a second (see `bench/`).
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from splink import DuckDBAPI, Linker

from customers.cluster import latest_run
from customers.dedupe import normalised_records_sql
from customers.hub import Hub
from customers.linkage import (
    COMPARED,
    blocking_keys,
    key_columns,
    key_hash_sql,
    prediction_rules,
    scoring_sql,
)

LIKELY = 0.9  # at or above: a likely duplicate, held for review instead of becoming a customer


@dataclass(frozen=True)
class EntryMatch:
    new_id: int  # the new record's id as given
    record_id: int  # the existing record it matches
    entity_id: int
    match_probability: float
    field_weights: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class BlockingIndex:
    """Every registry row's blocking keys, hashed and sorted: one binary search per new record
    and rule finds the rows that rule would pair it with."""

    rules: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # (new side, registry side)
    hashes: tuple[np.ndarray, ...]  # per rule, sorted
    positions: tuple[np.ndarray, ...]  # per rule, the registry row of each hash
    registry: pa.Table  # the registry rows, as the scoring SQL reads them (one chunk)
    new_keys_sql: str  # the new records' keys, hashed as the registry's were

    def pairs(self, con: duckdb.DuckDBPyConnection, new: pa.Table) -> tuple[pa.Table, pa.Table]:
        """(pairs to score, the registry rows they name) for the new records `new`."""
        con.register("entry_keys", new)
        try:
            new_hashes = con.sql(self.new_keys_sql).fetchnumpy()
        finally:
            con.unregister("entry_keys")
        found_new, found_row, found_rule = [], [], []
        for rule, (hashes, positions) in enumerate(zip(self.hashes, self.positions, strict=True)):
            wanted = new_hashes[f"h{rule}"]
            valid = ~np.ma.getmaskarray(wanted)
            wanted = np.ma.getdata(wanted).astype(np.uint64)
            starts = np.searchsorted(hashes, wanted, "left")
            ends = np.searchsorted(hashes, wanted, "right")
            counts = np.where(valid, ends - starts, 0)
            if counts.sum() == 0:
                continue
            new_index = np.repeat(np.arange(len(wanted)), counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            found_new.append(new_index)
            found_row.append(positions[np.repeat(starts, counts) + offsets])
            found_rule.append(np.full(len(new_index), rule))
        if not found_new:
            return pa.table({"match_key": [], "join_key_l": [], "join_key_r": []}), self.registry[
                :0
            ]
        new_index, row, rule = (np.concatenate(a) for a in (found_new, found_row, found_rule))
        # A pair two rules propose is scored once, under the first rule (as Splink does).
        order = np.lexsort((rule, row, new_index))
        new_index, row, rule = new_index[order], row[order], rule[order]
        first = np.ones(len(order), bool)
        first[1:] = (new_index[1:] != new_index[:-1]) | (row[1:] != row[:-1])
        new_index, row, rule = new_index[first], row[first], rule[first]
        rows = np.unique(row)
        candidates = self.registry.take(pa.array(rows))
        pairs = pa.table(
            {
                "match_key": pa.array(rule.astype(str)),
                "join_key_l": new.column("record_id").take(pa.array(new_index)),
                "join_key_r": self.registry.column("record_id").take(pa.array(row)),
            }
        )
        return pairs, candidates


@dataclass(frozen=True)
class EntryChecker:
    linker: Linker
    db_api: DuckDBAPI
    existing: Any  # Splink's registered registry table
    attributes: tuple[str, ...]  # compared by the model, in its order
    columns: tuple[str, ...]  # read from a new record: compared or blocked on
    entities: dict[int, int]
    # None: score with Splink's predict_between against the whole registry (the reference
    # the index is tested against, and the way for a model whose rules it cannot index).
    index: BlockingIndex | None = None
    _scoring: dict[float, str] = field(default_factory=dict)
    _names: itertools.count = field(default_factory=itertools.count)

    def check(self, new: pa.Table, threshold: float = LIKELY) -> tuple[EntryMatch, ...]:
        """Existing records that each new record (columns record_id + compared attributes,
        as `normalised_records_sql` gives them) likely duplicates, best first per record."""
        if new.num_rows == 0:
            return ()
        new = new.select(["record_id", *self.columns])
        con = self.db_api.duckdb_con
        if self.index is None:
            number = next(self._names)
            sdf = self.db_api.register(new, table_name=f"entry_{number}")
            result = self.linker.inference.predict_between(
                sdf, self.existing, threshold_match_probability=threshold
            )
            relation = con.sql(
                f'SELECT * FROM "{result.physical_name}" ORDER BY match_probability DESC'
            )
            return self._matches(relation.columns, relation.fetchall(), new)
        pairs, candidates = self.index.pairs(con, new)
        if pairs.num_rows == 0:
            return ()
        if threshold not in self._scoring:
            self._scoring[threshold] = scoring_sql(
                self.linker, "entry_new", "entry_pairs", threshold, other="entry_candidates"
            )
        for name, table in (("entry_new", new), ("entry_candidates", candidates)):
            con.register(name, table)
        con.register("entry_pairs", pairs)
        try:
            relation = con.sql(
                f"SELECT * FROM ({self._scoring[threshold]}) ORDER BY match_probability DESC"
            )
            return self._matches(relation.columns, relation.fetchall(), new)
        finally:
            for name in ("entry_new", "entry_candidates", "entry_pairs"):
                con.unregister(name)

    def _matches(self, names: list[str], rows: list, new: pa.Table) -> tuple[EntryMatch, ...]:
        new_ids = set(new.column("record_id").to_pylist())
        matches = []
        for row in rows:
            values = dict(zip(names, row, strict=True))
            left, right = values["record_id_l"], values["record_id_r"]
            new_id, old_id = (left, right) if left in new_ids else (right, left)
            weights = tuple(
                (a, values[f"mw_{a}"] + (values.get(f"mw_tf_adj_{a}") or 0))
                for a in self.attributes
                if f"mw_{a}" in values
            )
            matches.append(
                EntryMatch(
                    new_id,
                    old_id,
                    self.entities.get(old_id, old_id),
                    values["match_probability"],
                    weights,
                )
            )
        return tuple(matches)


def _adjusted(linker: Linker) -> list[str]:
    """The columns the model adjusts for term frequency."""
    model = linker.misc.save_model_to_json()
    return sorted(
        {
            level["tf_adjustment_column"]
            for c in model["comparisons"]
            for level in c["comparison_levels"]
            if level.get("tf_adjustment_column")
        }
    )


def entry_checker(hub: Hub, run_id: int | None = None) -> EntryChecker:
    """A warm checker over every record the hub holds now, with run `run_id`'s model."""
    run_id = run_id or latest_run(hub)
    [(model_json,)] = hub.con.execute(
        "SELECT model_json FROM match_run WHERE run_id = $r", {"r": run_id}
    ).fetchall()
    model = json.loads(model_json)
    records = hub.con.sql(normalised_records_sql()).to_arrow_table()
    entities = dict(hub.con.sql("SELECT record_id, entity_id FROM entity_member").fetchall())
    con = duckdb.connect()
    con.register("registry_arrow", records)
    con.execute("CREATE TABLE registry AS SELECT * FROM registry_arrow")
    con.unregister("registry_arrow")
    db_api = DuckDBAPI(con)
    existing = db_api.register("registry")
    linker = Linker(existing, model, log_level=logging.ERROR)
    attributes = tuple(
        c["output_column_name"] for c in model["comparisons"] if c["output_column_name"] in COMPARED
    )
    rules = model["blocking_rules_to_generate_predictions"]
    blocked = key_columns([r["blocking_rule"] if isinstance(r, dict) else r for r in rules])
    columns = tuple(c for c in COMPARED if c in attributes or c in blocked)
    # Scoring needs the registry's term frequencies for every column the model adjusts by
    # them (names, e-mail): computed once here, that is what makes the checker warm.
    for name in _adjusted(linker):
        linker.table_management.compute_tf_table(name)
    index = _index(con, records.select(["record_id", *columns]), columns, rules)
    return EntryChecker(linker, db_api, existing, attributes, columns, entities, index)


def _index(
    con: duckdb.DuckDBPyConnection, records: pa.Table, columns: tuple[str, ...], model_rules
) -> BlockingIndex | None:
    """The blocking index of the registry `records`, or None when the model's rules are not
    the ones `linkage.blocking_keys` describes (a model saved by another version)."""
    keys = blocking_keys(columns)
    ours = [
        r if isinstance(r, str) else r.get_blocking_rule("duckdb").blocking_rule_sql
        for r in prediction_rules(columns)
    ]
    theirs = [r["blocking_rule"] if isinstance(r, dict) else r for r in model_rules]
    if ours != theirs:
        return None
    # The new records are the left side of each rule, the registry its right side.
    positioned = records.append_column("entry_position", pa.array(np.arange(records.num_rows)))
    con.register("entry_registry", positioned)
    hashes, positions = [], []
    try:
        for _, right in keys:
            found = con.sql(
                f"SELECT h, entry_position FROM (SELECT {key_hash_sql(right, 'h')}, entry_position"
                " FROM entry_registry) WHERE h IS NOT NULL ORDER BY h"
            ).fetchnumpy()
            hashes.append(np.asarray(found["h"], dtype=np.uint64))
            positions.append(np.asarray(found["entry_position"], dtype=np.int64))
    finally:
        con.unregister("entry_registry")
    new_keys = ", ".join(key_hash_sql(left, f"h{i}") for i, (left, _) in enumerate(keys))
    # One chunk: taking a few rows from a table of many record batches cost 10-30 ms a check.
    return BlockingIndex(
        tuple(keys),
        tuple(hashes),
        tuple(positions),
        records.combine_chunks(),
        f"SELECT {new_keys} FROM entry_keys",
    )
