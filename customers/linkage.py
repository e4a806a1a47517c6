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
from collections.abc import Sequence
from typing import Any

import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

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
U_SAMPLE_PAIRS = 2e6
EM_MAX_PAIRS = 1e6


def _comparison(name: str):
    if name in ("first_name", "last_name"):
        # NameComparison adjusts its exact level for term frequency: "Hodžić" agreeing says
        # more than "Hasić" agreeing when there are fewer Hodžićs.
        return cl.NameComparison(name)
    if name == "date_of_birth":
        return cl.LevenshteinAtThresholds(name, [1, 2])  # digit typos, day/month swaps
    if name == "email":
        # Exact only, adjusted for how common the address is. EmailComparison's fuzzy levels
        # score the name inside the address a second time: "ana.kovac3@x" and
        # "ana.kovac7@x" are two people, and they made most false merges among 200 k people.
        return cl.ExactMatch(name).configure(term_frequency_adjustments=True)
    if name == "street":
        return cl.JaroWinklerAtThresholds(name, [0.9, 0.7])
    if name == "city":
        return cl.JaroWinklerAtThresholds(name, [0.9])
    if name == "postal_code":
        return cl.LevenshteinAtThresholds(name, [1])
    return cl.ExactMatch(name)


def comparisons(present: Sequence[str]) -> list:
    """Splink comparisons for the compared attributes that are `present` in the data."""
    return [_comparison(name) for name in COMPARED if name in present]


def prediction_rules(present: Sequence[str]) -> list:
    """Blocking rules for prediction: a pair is scored if any rule proposes it."""
    candidates = (
        ("first_name", "last_name"),
        ("last_name", "date_of_birth"),
        ("first_name", "date_of_birth"),
        ("email",),
        ("phone",),
        ("postal_code", "last_name"),
        # Not postal code + house number, nor street + house number: with most people at
        # low house numbers they proposed 112 M and 51 M pairs among 1 M synthetic people.
        ("postal_code", "street"),
        ("first_name", "city"),
        ("last_name", "city"),
        ("date_of_birth",),
    )
    rules: list = [block_on(*rule) for rule in candidates if all(c in present for c in rule)]
    if "first_name" in present and "last_name" in present:
        # Given and family name swapped between two systems: a common entry mistake.
        rules.append('l."first_name" = r."last_name" AND l."last_name" = r."first_name"')
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
