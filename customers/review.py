"""The steward's review queue: candidate clusters, most uncertain first, with match weights
per field for every pair, and the steward's decisions.

A cluster is a candidate when its records are not one entity yet. Its uncertainty is that of
its weakest link: 1 when that pair's match probability is 0.5, 0 when it is 0 or 1.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from customers.attributes import ATTRIBUTE_NAMES
from customers.cluster import cluster
from customers.errors import CustomerError
from customers.hub import Hub
from customers.merge import MergeResult, merge


@dataclass(frozen=True)
class ReviewPair:
    record_id_l: int
    record_id_r: int
    match_probability: float
    match_weight: float
    field_weights: tuple[tuple[str, float], ...]  # (attribute, weight): Splink's waterfall


@dataclass(frozen=True)
class ReviewItem:
    cluster_id: int
    record_ids: tuple[int, ...]
    uncertainty: float
    pairs: tuple[ReviewPair, ...]


def uncertainty(probability: float) -> float:
    """How undecided a match probability is: 1 at 0.5, 0 at 0 or 1.

    >>> uncertainty(0.5), uncertainty(0.9), uncertainty(1.0)
    (1.0, 0.2, 0.0)
    """
    return round(1 - abs(2 * probability - 1), 12)


def review_queue(
    hub: Hub, threshold: float = 0.5, run_id: int | None = None, limit: int = 50
) -> tuple[ReviewItem, ...]:
    """Candidate clusters at `threshold`, most uncertain first (then the largest)."""
    clusters = cluster(hub, threshold, run_id)
    hub.con.register("assignment", clusters.assignment)
    try:
        rows = hub.con.execute(
            """
            WITH candidates AS (
              SELECT a.cluster_id FROM assignment a JOIN entity_member m USING (record_id)
              GROUP BY a.cluster_id HAVING COUNT(DISTINCT m.entity_id) > 1
            )
            SELECT a.cluster_id, p.record_id_l, p.record_id_r, p.match_probability,
                   p.match_weight, p.field_weights
            FROM match_pair p
            JOIN assignment a ON a.record_id = p.record_id_l
            JOIN assignment b ON b.record_id = p.record_id_r AND b.cluster_id = a.cluster_id
            WHERE p.run_id = $r AND p.match_probability >= $t
              AND a.cluster_id IN (SELECT cluster_id FROM candidates)
            ORDER BY a.cluster_id, p.match_probability
            """,
            {"r": clusters.run_id, "t": threshold},
        ).fetchall()
    finally:
        hub.con.unregister("assignment")
    names = run_attributes(hub, clusters.run_id)
    by_cluster: dict[int, list[ReviewPair]] = {}
    for cluster_id, left, right, probability, weight, fields in rows:
        if isinstance(fields, dict):  # a hub not yet converted (opened read-only): a MAP
            fields = list(fields.values())
        weights = tuple(zip(names, fields or (), strict=False))
        by_cluster.setdefault(cluster_id, []).append(
            ReviewPair(left, right, probability, weight, weights)
        )
    items = [
        ReviewItem(
            cluster_id,
            tuple(sorted({r for p in pairs for r in (p.record_id_l, p.record_id_r)})),
            max(uncertainty(p.match_probability) for p in pairs),
            tuple(pairs),
        )
        for cluster_id, pairs in by_cluster.items()
    ]
    items.sort(key=lambda i: (-i.uncertainty, -len(i.record_ids), i.cluster_id))
    return tuple(items[:limit])


def run_attributes(hub: Hub, run_id: int) -> tuple[str, ...]:
    """The attributes run `run_id` compared, in the order of its pairs' field weights: the
    comparisons of the Splink model it stored.

    >>> import tempfile, pathlib
    >>> from customers.hub import open_hub
    >>> with open_hub(pathlib.Path(tempfile.mkdtemp()) / "h.duckdb") as hub:
    ...     model = '{"comparisons": [{"output_column_name": "last_name"}]}'
    ...     run = "INSERT INTO match_run VALUES (1, now(), 2, 0, $m, '[]')"
    ...     _ = hub.con.execute(run, {"m": model})
    ...     run_attributes(hub, 1)
    ('last_name',)
    """
    [(model,)] = hub.con.execute(
        "SELECT model_json FROM match_run WHERE run_id = $r", {"r": run_id}
    ).fetchall()
    return tuple(c["output_column_name"] for c in json.loads(model).get("comparisons", ()))


def compare(hub: Hub, record_ids: Sequence[int]) -> pd.DataFrame:
    """The records side by side: one row per attribute, one column per record.

    >>> import tempfile, pathlib
    >>> from customers.hub import open_hub
    >>> with open_hub(pathlib.Path(tempfile.mkdtemp()) / "h.duckdb") as hub:
    ...     compare(hub, [1]).shape
    (14, 0)
    """
    rows = hub.con.execute(
        "SELECT record_id, source, batch_id, "
        + ", ".join(f"CAST({a} AS VARCHAR)" for a in ATTRIBUTE_NAMES)
        + " FROM customer_record WHERE record_id IN (SELECT UNNEST($ids)) ORDER BY record_id",
        {"ids": list(record_ids)},
    ).fetchall()
    index = ["source", "batch", *ATTRIBUTE_NAMES]
    return pd.DataFrame({row[0]: list(row[1:]) for row in rows}, index=index)


def decide(
    hub: Hub, item: ReviewItem, same: bool, user: str, note: str | None = None
) -> MergeResult | None:
    """Record the steward's decision on a candidate cluster: merge it, or mark its pairs
    distinct so they never cluster again."""
    if same:
        return merge(
            hub, item.record_ids, user, note=note or f"review of cluster {item.cluster_id}"
        )
    entity = dict(
        hub.con.execute(
            "SELECT record_id, entity_id FROM entity_member WHERE record_id IN (SELECT UNNEST($r))",
            {"r": list(item.record_ids)},
        ).fetchall()
    )
    # Pairs inside one entity were merged on purpose; only the others are called distinct.
    pairs = [(p.record_id_l, p.record_id_r) for p in item.pairs]
    mark_distinct(hub, [(a, b) for a, b in pairs if entity.get(a) != entity.get(b)], user)
    return None


def mark_distinct(hub: Hub, pairs: Sequence[tuple[int, int]], user: str) -> None:
    """Record that each pair is two different customers."""
    if not pairs:
        raise CustomerError("no pairs to mark distinct")
    hub.con.executemany(
        "INSERT OR REPLACE INTO review_decision VALUES (?, ?, 'distinct', ?, ?)",
        [(min(a, b), max(a, b), datetime.now(UTC), user) for a, b in pairs],
    )
