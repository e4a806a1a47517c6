"""The Splink model for customer records: comparisons, blocking rules, unsupervised training.

Which comparisons and rules apply depends on which attributes the records fill: an attribute
that no record has cannot be trained, so it is left out rather than guessed.

>>> [c.get_comparison("duckdb").output_column_name for c in comparisons(("first_name", "email"))]
['first_name', 'email']
>>> [r.get_blocking_rule("duckdb").blocking_rule_sql for r in prediction_rules(("email",))]
['l."email" = r."email"']
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.comparison_vector_values import (
    compute_comparison_vector_values_from_id_pairs_sqls,
)
from splink.internals.pipeline import CTEPipeline
from splink.internals.predict import predict_from_comparison_vectors_sqls_using_settings
from splink.internals.term_frequencies import _join_tf_to_input_table_sql

# Attributes Splink compares, in the order the review screen shows them.
COMPARED = (
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "phone",
    "street",
    "house_number",
    "postal_code",
    "city",
    "area",
)
# u by random sampling and m by EM, each on a capped number of pairs. Halving the caps the
# dedup bench used (5 M, 2 M) halved training time on 200 k people at the same cluster F1:
# an agreement level whose u is as small as an exact date of birth's (~7e-5) still gets a
# hundred sampled pairs.
U_SAMPLE_PAIRS = 1e6
# EM at 200 k pairs per pass (from 400 k): 3.8 CPU s less at 1 M people, cluster F1 0.9899
# and FEBRL3's 0.9907 unchanged.
EM_MAX_PAIRS = 2e5


def _comparison(name: str, present: Sequence[str]):
    if name in ("first_name", "last_name"):
        # NameComparison's levels, the exact one adjusted for term frequency: "Hodžić"
        # agreeing says more than "Hasić" agreeing when there are fewer Hodžićs.
        return _different_first(name, "jaro_winkler", (0.92, 0.88, 0.7), tf=True)
    if name == "date_of_birth":
        return _different_first(name, "levenshtein", (1, 2))  # digit typos, day/month swaps
    if name == "email":
        # Exact only, adjusted for how common the address is. EmailComparison's fuzzy levels
        # score the name inside the address a second time: "ana.kovac3@x" and
        # "ana.kovac7@x" are two people, and they made most false merges among 200 k people.
        return cl.ExactMatch(name).configure(term_frequency_adjustments=True)
    if name == "street":
        return _different_first(name, "jaro_winkler", (0.9, 0.7))
    if name in ("city", "area"):
        return _location(name, present)
    if name == "postal_code":
        return cl.LevenshteinAtThresholds(name, [1])
    return cl.ExactMatch(name)


def _different_first(name: str, distance: str, thresholds: Sequence[float], tf: bool = False):
    """Splink's null, exact and threshold levels of a string distance, with "too different
    for any threshold" tested right after the exact level.

    The levels part the pairs as Splink's own comparisons do, so the model is the same, but
    a CASE stops at the first level that holds and most blocked pairs are strangers: the
    string distance is computed once for them instead of once per threshold (0.89 -> 0.57
    CPU s for names, birth date and street over 0.9 M pairs).
    """
    exact = cll.ExactMatchLevel(name)
    if tf:
        exact.configure(tf_adjustment_column=name)
    value = f'{distance}("{name}_l", "{name}_r")'
    if distance == "jaro_winkler":
        value = f'jaro_winkler_similarity("{name}_l", "{name}_r")'
        loosest, closer = min(thresholds), sorted(thresholds, reverse=True)[:-1]
        levels = [cll.JaroWinklerLevel(name, t) for t in closer]
        different, rest = f"{value} < {loosest}", f"Jaro-Winkler similarity >= {loosest}"
    else:
        loosest, closer = max(thresholds), sorted(thresholds)[:-1]
        levels = [cll.LevenshteinLevel(name, t) for t in closer]
        different, rest = f"{value} > {loosest}", f"Levenshtein distance <= {loosest}"
    return cl.CustomComparison(
        output_column_name=name,
        comparison_levels=[
            cll.NullLevel(name),
            exact,
            {"sql_condition": different, "label_for_charts": different},
            *levels,
            cll.ElseLevel().configure(label_for_charts=rest),
        ],
    )


def _location(name: str, present: Sequence[str]):
    # City and area say again what the postal code says (and area what the city says). The
    # model multiplies the evidence of agreements as if they were independent: two strangers
    # in one postal code got the weight of three agreements (19 bits among 1 M synthetic
    # people, the postal code alone 9.5), and most false merges at p >= 0.9 were such pairs.
    # So a coarser place counts only when the finer ones differ or are missing: a moved
    # street within the city, a mistyped postal code.
    finer = [c for c in ("postal_code", "city")[: 1 if name == "city" else 2] if c in present]
    repeated = " OR ".join(f'"{c}_l" = "{c}_r"' for c in finer)
    levels: list = [
        {
            "sql_condition": f'"{name}_l" IS NULL OR "{name}_r" IS NULL'
            + (f" OR {repeated}" if repeated else ""),
            "label_for_charts": "missing, or a finer place agrees",
            "is_null_level": True,
        },
        cll.ExactMatchLevel(name),
    ]
    if name == "city":
        levels.append(cll.JaroWinklerLevel(name, 0.9))
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(output_column_name=name, comparison_levels=levels)


def compared(present: Sequence[str]) -> list[str]:
    """The attributes the model compares: those `present` in the data, in the review order.

    >>> compared(("postal_code", "first_name"))
    ['first_name', 'postal_code']
    """
    return [name for name in COMPARED if name in present]


def comparisons(present: Sequence[str]) -> list:
    """Splink comparisons for the compared attributes that are `present` in the data."""
    return [_comparison(name, present) for name in compared(present)]


# Blocking keys: a pair is scored when one rule's expressions are equal on both sides (all of
# them non-NULL). Each rule was counted on 1 M synthetic people (pairs it adds, true pairs it
# adds) before it was kept; see docs/decisions.md. Names alone (6.4 M more pairs at 1 M
# people, 0.6 % of the true pairs) and birth date alone (11.7 M, 0.4 %) were dropped for the
# birth date with a name's initial, names with the birth year, and the phone.
# Dropped later (issue 7, every blocked pair of 1 M people scored once with the set of rules
# proposing it, then the cluster F1 of each subset computed): last name + birth date and
# first name + birth date (every pair they propose, birth date + that name's initial does
# too), names + birth day and month (17 k pairs no other rule proposes), birth date + street
# (5 k) and street + last name (0.9 M pairs, 753 true ones): F1 0.9896 -> 0.9899, 11.3 M ->
# 10.4 M pairs. Postal code + last name stays for FEBRL3 (0.9854 without it) though at 1 M
# its own 2.0 M pairs lowered F1 (0.9903 without it).
BLOCKING_KEYS: tuple[tuple[str, ...], ...] = (
    ("phone",),
    ("email",),
    ("first_name", "last_name", "substr(date_of_birth, 1, 4)"),
    ("date_of_birth", "substr(first_name, 1, 1)"),
    ("date_of_birth", "substr(last_name, 1, 1)"),
    ("postal_code", "last_name"),
    # Not postal code + house number, nor street + house number: with most people at low
    # house numbers they proposed 112 M and 51 M pairs among 1 M synthetic people.
    ("postal_code", "street"),
    ("first_name", "city"),
    # Birth date with a piece of the address: both names changed (FEBRL3 has many such),
    # without the 11.7 M pairs of the birth date alone. Not with the house number: 2.3 M
    # pairs at 1 M people for 18 true pairs in FEBRL3.
    ("date_of_birth", "postal_code"),
    ("date_of_birth", "city"),
    ("street", "city"),
)
# Given and family name swapped between two systems: a common entry mistake. The left
# record's expressions are compared with the right one's swapped.
SWAPPED_NAMES = (("first_name", "last_name"), ("last_name", "first_name"))


def key_columns(expressions: Sequence[str]) -> list[str]:
    """The compared attributes that blocking expressions read.

    >>> key_columns(("first_name", "substr(date_of_birth, 1, 4)"))
    ['first_name', 'date_of_birth']
    """
    return [c for c in COMPARED if any(re.search(rf"\b{c}\b", e) for e in expressions)]


def blocking_keys(present: Sequence[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The rules whose attributes are `present`, each as (left expressions, right ones).

    >>> blocking_keys(("phone", "email"))
    [(('phone',), ('phone',)), (('email',), ('email',))]
    """
    keys = [(rule, rule) for rule in BLOCKING_KEYS if set(key_columns(rule)) <= set(present)]
    if {"first_name", "last_name"} <= set(present):
        keys.append(SWAPPED_NAMES)
    return keys


def key_hash_sql(expressions: Sequence[str], name: str) -> str:
    """One blocking key as a 64-bit hash of its expressions' values, NULL when any is NULL
    (an equality on a NULL is not true in Splink's rules either): what the entry check's
    index sorts and searches.

    >>> key_hash_sql(["email"], "h0").split(" ELSE ")[1]
    'hash(CAST("email" AS VARCHAR)) END AS h0'
    """
    keys = [f"CAST({_on_side(e, '')} AS VARCHAR)" for e in expressions]
    nulls = " OR ".join(f"{k} IS NULL" for k in keys)
    return f"CASE WHEN {nulls} THEN NULL ELSE hash({', '.join(keys)}) END AS {name}"


def blocked_pairs(con: duckdb.DuckDBPyConnection, table: str, present: Sequence[str]) -> pa.Table:
    """The pairs the blocking rules propose among the records of `table`, each once, as
    Splink's predict reads them (match_key: the first rule that proposes the pair; join keys:
    the two record ids, the smaller on the left).

    Splink joins once per rule and drops the pairs of earlier rules with a NOT of all their
    conditions, so the last rule's join evaluates a dozen string equalities on every pair it
    makes; among 1 M people that blocking cost more CPU than scoring the pairs. Here each
    rule is a plain equi-join on the records' positions, giving one integer per pair
    (left position, right position, rule), and the union (30 M for 10 M distinct pairs among
    1 M people) is made distinct by sorting those integers with numpy: 11 CPU s where
    DuckDB's grouping of the two ids took 19.

    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (7, 'a', 'x'), (3, 'a', 'y'),"
    ...     " (5, 'b', 'y'), (4, 'b', 'y')) AS v(record_id, email, phone)")
    >>> [tuple(p.values()) for p in blocked_pairs(con, "t", ("email", "phone")).to_pylist()]
    [('0', 3, 4), ('0', 3, 5), ('1', 3, 7), ('0', 4, 5)]
    """
    rules = blocking_keys(present)
    [(count,)] = con.execute(f"SELECT COUNT(*) FROM {table}").fetchall()
    if count >= 1 << _POSITION_BITS or len(rules) > 1 << _RULE_BITS:
        raise ValueError(f"{count} records or {len(rules)} blocking rules: too many to block")
    positioned = f"{table}_positioned"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {positioned} AS SELECT *,"
        f" CAST(row_number() OVER (ORDER BY record_id) - 1 AS BIGINT) AS position FROM {table}"
    )
    try:
        joins = []
        shift = _POSITION_BITS + _RULE_BITS
        for number, (left, right) in enumerate(rules):
            equal = " AND ".join(
                f"{_on_side(a, 'l')} = {_on_side(b, 'r')}" for a, b in zip(left, right, strict=True)
            )
            joins.append(
                f"SELECT (l.position << {shift}) | (r.position << {_RULE_BITS}) | {number} AS k"
                f" FROM {positioned} AS l JOIN {positioned} AS r"
                f" ON l.position < r.position AND {equal}"
            )
        keys = con.sql(" UNION ALL ".join(joins)).fetchnumpy()["k"]
        ids = con.sql(f"SELECT record_id FROM {positioned} ORDER BY position").fetchnumpy()
    finally:
        con.execute(f"DROP TABLE {positioned}")
    ids = np.asarray(ids["record_id"], dtype=np.int64)
    keys = np.sort(np.asarray(keys, dtype=np.int64))
    # Sorted, a pair's integers are together with the first rule's first.
    pair = keys >> _RULE_BITS
    first = np.ones(len(keys), bool)
    np.not_equal(pair[1:], pair[:-1], out=first[1:])
    keys = keys[first]
    return pa.table(
        {
            "match_key": pa.array(keys & ((1 << _RULE_BITS) - 1)).cast(pa.string()),
            "join_key_l": ids[keys >> (_POSITION_BITS + _RULE_BITS)],
            "join_key_r": ids[(keys >> _RULE_BITS) & ((1 << _POSITION_BITS) - 1)],
        }
    )


# A pair's integer: left position, right position (28 bits each), rule (6 bits), in 62 bits.
_POSITION_BITS = 28
_RULE_BITS = 6


def _on_side(expression: str, side: str) -> str:
    for column in key_columns((expression,)):
        quoted = f'{side}."{column}"' if side else f'"{column}"'
        expression = re.sub(rf"\b{column}\b", quoted, expression)
    return expression


def prediction_rules(present: Sequence[str]) -> list:
    """Blocking rules for prediction: a pair is scored if any rule proposes it."""
    rules: list = []
    for left, right in blocking_keys(present):
        if left == right:
            rules.append(block_on(*left))
        else:
            rules.append(
                " AND ".join(f'l."{a}" = r."{b}"' for a, b in zip(left, right, strict=True))
            )
    return rules


def _deterministic_rules(present: Sequence[str]) -> list:
    rules = [("first_name", "last_name", "date_of_birth"), ("email",), ("phone",)]
    return [block_on(*rule) for rule in rules if all(c in present for c in rule)]


def _em_rules(present: Sequence[str]) -> list:
    # Each EM pass leaves the compared columns of its own rule untrained; two passes on
    # disjoint columns train every comparison.
    passes = [("date_of_birth",), ("first_name", "last_name"), ("postal_code",)]
    usable = [block_on(*rule) for rule in passes if all(c in present for c in rule)]
    return usable[:2]


def settings(present: Sequence[str]) -> SettingsCreator:
    """The Splink settings for records whose filled attributes are `present`."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=comparisons(present),
        blocking_rules_to_generate_predictions=prediction_rules(present),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def train(db_api: DuckDBAPI, table: str, present: Sequence[str]) -> Linker:
    """A linker on `table`, trained without labels as the bench measured it.

    The prior comes from deterministic rules (assumed to find 70 % of true matches), u from
    random pairs, m from expectation maximisation on blocked pairs, capped.
    """
    linker = Linker(db_api.register(table), settings(present), log_level=logging.ERROR)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        _deterministic_rules(present), recall=0.7
    )
    training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=42)
    for rule in _em_rules(present):
        training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=EM_MAX_PAIRS)
    return linker


def trained_linker(db_api: DuckDBAPI, table: str, model: dict[str, Any]) -> Linker:
    """A linker on `table` with a model trained earlier (`linker.misc.save_model_to_json()`)."""
    return Linker(db_api.register(table), model, log_level=logging.ERROR)


def scoring_sql(
    linker: Linker, table: str, pairs: str, threshold: float, other: str | None = None
) -> str:
    """One statement scoring the pairs of `pairs` (match_key, join_key_l, join_key_r) between
    records of `table` with `linker`'s model, or, given `other`, between `table` (left) and
    `other` (right): Splink's own comparison and prediction SQL, each side joined to the
    linker's term frequencies once.

    `predict()` on registered pairs first copies the records each side of a pair names (two
    semi-joins of every record with every pair), then materialises every intermediate column
    of every pair above the threshold; read as one statement, only the columns a caller
    selects are made. The entry check scores new records against the registry this way too.
    """
    settings = linker._settings_obj
    left, right = table, other or table
    pipeline = CTEPipeline()
    for name in adjusted_columns(linker):
        pipeline.append_input_dataframe(linker.table_management.compute_tf_table(name))
    for side in dict.fromkeys((left, right)):
        pipeline.enqueue_sql(_join_tf_to_input_table_sql(linker, side), f"{side}_with_tf")
    pipeline.enqueue_sql(
        f"SELECT match_key, join_key_l, join_key_r FROM {pairs}", "__splink__blocked_id_pairs"
    )
    pipeline.enqueue_list_of_sqls(
        compute_comparison_vector_values_from_id_pairs_sqls(
            settings._columns_to_select_for_blocking,
            settings._columns_to_select_for_comparison_vector_values,
            input_tablename_l=f"{left}_with_tf",
            input_tablename_r=f"{right}_with_tf",
            source_dataset_input_column=settings.column_info_settings.source_dataset_input_column,
            unique_id_input_column=settings.column_info_settings.unique_id_input_column,
            link_type="dedupe_only" if other is None else "two_dataset_link_only",
            sql_dialect_str="duckdb",
        )
    )
    pipeline.enqueue_list_of_sqls(
        predict_from_comparison_vectors_sqls_using_settings(settings, threshold)
    )
    return pipeline.generate_cte_pipeline_sql()


def adjusted_columns(linker: Linker) -> list[str]:
    """The columns the model adjusts for term frequency."""
    return sorted(col.name for col in linker._settings_obj._term_frequency_columns)
