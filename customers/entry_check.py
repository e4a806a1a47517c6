"""Entry-time duplicate check: score new records against the registry before they become
customers, with the model of the latest match run (`predict_between`).

A checker is built once (the registry and its term-frequency tables loaded into Splink's
DuckDB) and then answers each new record or batch: a warm check of one record against a large
registry takes a fraction of a second (see `bench/`).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker

from customers.cluster import latest_run
from customers.dedupe import normalised_records_sql
from customers.hub import Hub
from customers.linkage import COMPARED

LIKELY = 0.9  # at or above: a likely duplicate, held for review instead of becoming a customer


@dataclass(frozen=True)
class EntryMatch:
    new_id: int  # the new record's id as given
    record_id: int  # the existing record it matches
    entity_id: int
    match_probability: float
    field_weights: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class EntryChecker:
    linker: Linker
    db_api: DuckDBAPI
    existing: Any  # Splink's registered registry table
    attributes: tuple[str, ...]
    entities: dict[int, int]
    # The registry rows any blocking rule could pair with the new records (None: all).
    candidates_sql: str | None = None
    _names: itertools.count = field(default_factory=itertools.count)

    def check(self, new: pa.Table, threshold: float = LIKELY) -> tuple[EntryMatch, ...]:
        """Existing records that each new record (columns record_id + compared attributes,
        as `normalised_records_sql` gives them) likely duplicates, best first per record."""
        if new.num_rows == 0:
            return ()
        new = new.select(["record_id", *self.attributes])
        number = next(self._names)
        sdf = self.db_api.register(new, table_name=f"entry_{number}")
        con = self.db_api.duckdb_con
        existing = self.existing
        if self.candidates_sql is not None:
            # Splink would join the new records to the whole registry once per blocking
            # rule; the few rows that share a blocking key with them are found in one pass
            # of hash semi-joins, and only those are scored.
            con.register("entry_new", new)
            try:
                candidates = con.sql(self.candidates_sql).to_arrow_table()
            finally:
                con.unregister("entry_new")
            if candidates.num_rows == 0:
                return ()
            existing = self.db_api.register(candidates, table_name=f"entry_candidates_{number}")
        result = self.linker.inference.predict_between(
            sdf, existing, threshold_match_probability=threshold
        )
        columns = {r[0] for r in con.execute(f'DESCRIBE "{result.physical_name}"').fetchall()}
        rows = con.sql(
            f'SELECT * FROM "{result.physical_name}" ORDER BY match_probability DESC'
        ).fetchall()
        names = [r[0] for r in con.execute(f'DESCRIBE "{result.physical_name}"').fetchall()]
        new_ids = set(new.column("record_id").to_pylist())
        matches = []
        for row in rows:
            values = dict(zip(names, row, strict=True))
            left, right = values["record_id_l"], values["record_id_r"]
            new_id, old_id = (left, right) if left in new_ids else (right, left)
            weights = tuple(
                (a, values[f"mw_{a}"] + (values.get(f"mw_tf_adj_{a}") or 0))
                for a in self.attributes
                if f"mw_{a}" in columns
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
    # predict_between needs the registry's term frequencies for every column the model
    # adjusts by them (names, e-mail): computed once here, that is what makes the checker warm.
    adjusted = {
        level["tf_adjustment_column"]
        for c in model["comparisons"]
        for level in c["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    for name in sorted(adjusted):
        linker.table_management.compute_tf_table(name)
    candidates = _candidates_sql(model["blocking_rules_to_generate_predictions"])
    return EntryChecker(linker, db_api, existing, attributes, entities, candidates)


_EQUALITY = re.compile(r'^\(?l\."(\w+)" = r\."(\w+)"')


def _candidates_sql(rules: list) -> str | None:
    """Registry rows that share the first equality of some blocking rule with a new record;
    None when a rule does not start with one (then every row is a candidate).

    >>> _candidates_sql([{"blocking_rule": '(l."email" = r."email")'}]).split(" SEMI JOIN ")[1]
    'entry_new AS n ON r."email" = n."email")'
    >>> _candidates_sql([{"blocking_rule": 'levenshtein(l."a", r."a") < 2'}]) is None
    True
    """
    joins = set()
    for rule in rules:
        found = _EQUALITY.match(rule["blocking_rule"] if isinstance(rule, dict) else rule)
        if found is None:
            return None
        # The new records are predict_between's left side, the registry its right one.
        joins.add((found.group(2), found.group(1)))
    semi = " UNION ALL ".join(
        "SELECT r.record_id FROM registry AS r SEMI JOIN entry_new AS n"
        f' ON r."{right}" = n."{left}"'
        for right, left in sorted(joins)
    )
    return f"SELECT * FROM registry WHERE record_id IN ({semi})"
