"""Cluster a match run's pairs by connected components at a threshold the steward moves.

Clustering reads the stored pairs only (no retraining), so moving the threshold and seeing
its effect takes a fraction of a second. Pairs a steward marked "distinct" never join.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from customers.errors import CustomerError
from customers.hub import Hub


@dataclass(frozen=True)
class Clusters:
    run_id: int
    threshold: float
    records: int
    clusters: int  # clusters of two or more records
    records_in_clusters: int
    sizes: tuple[tuple[int, int], ...]  # (cluster size, how many clusters), size >= 2
    assignment: pa.Table  # record_id, cluster_id (the smallest record id in the cluster)


def latest_run(hub: Hub) -> int:
    """The newest match run's id; an error when there is none."""
    [(run_id,)] = hub.con.execute("SELECT MAX(run_id) FROM match_run").fetchall()
    if run_id is None:
        raise CustomerError("no match run yet", "run `strata customers dedupe` first")
    return run_id


def cluster(hub: Hub, threshold: float = 0.9, run_id: int | None = None) -> Clusters:
    """Connected components of the run's pairs with match probability >= `threshold`.

    >>> import tempfile, pathlib
    >>> from customers.hub import open_hub
    >>> with open_hub(pathlib.Path(tempfile.mkdtemp()) / "h.duckdb") as hub:
    ...     cluster(hub)
    Traceback (most recent call last):
    ...
    customers.errors.CustomerError: no match run yet
      hint: run `strata customers dedupe` first
    """
    if not 0.0 <= threshold <= 1.0:
        raise CustomerError(f"threshold {threshold} is not a probability between 0 and 1")
    run_id = run_id or latest_run(hub)
    nodes = hub.con.sql("SELECT record_id FROM customer_record").to_arrow_table()
    edges = hub.con.sql(
        "SELECT p.record_id_l, p.record_id_r, p.match_probability FROM match_pair p"
        " ANTI JOIN review_decision d ON d.record_id_l = p.record_id_l"
        " AND d.record_id_r = p.record_id_r AND d.decision = 'distinct'"
        " WHERE p.run_id = $r AND p.match_probability >= $t",
        params={"r": run_id, "t": threshold},
    ).to_arrow_table()
    assignment = _components(nodes, edges)
    con = duckdb.connect()
    con.register("a", assignment)
    sizes = con.sql(
        "SELECT n, COUNT(*) FROM (SELECT COUNT(*) AS n FROM a GROUP BY cluster_id)"
        " WHERE n > 1 GROUP BY n ORDER BY n"
    ).fetchall()
    con.close()
    return Clusters(
        run_id,
        threshold,
        nodes.num_rows,
        sum(count for _, count in sizes),
        sum(size * count for size, count in sizes),
        tuple(sizes),
        assignment,
    )


def _components(nodes: pa.Table, edges: pa.Table) -> pa.Table:
    """record_id and cluster_id (the smallest record id of its connected component).

    Hooking and pointer jumping over numpy arrays: every edge hooks the larger root of its two
    ends under the smaller, then every record points to its root, until no edge joins two
    roots. Splink's clustering (the same components, as SQL iterations over new tables) took
    ~3 CPU s for the 3.8 M edges of 1 M people; this takes a few tenths.

    >>> nodes = pa.table({"record_id": [5, 1, 9, 3, 7]})
    >>> edges = pa.table({"record_id_l": [9, 3], "record_id_r": [7, 9]})
    >>> _components(nodes, edges).to_pydict()
    {'record_id': [1, 3, 5, 7, 9], 'cluster_id': [1, 3, 5, 3, 3]}
    """
    ids = np.sort(nodes.column("record_id").to_numpy())
    left = np.searchsorted(ids, edges.column("record_id_l").to_numpy())
    right = np.searchsorted(ids, edges.column("record_id_r").to_numpy())
    # Positions follow the record ids, so the smallest position is the smallest record id.
    root = np.arange(len(ids))
    while len(left):
        low = np.minimum(root[left], root[right])
        high = np.maximum(root[left], root[right])
        joins = low != high
        left, right, low, high = left[joins], right[joins], low[joins], high[joins]
        np.minimum.at(root, high, low)
        while True:
            jumped = root[root]
            if np.array_equal(jumped, root):
                break
            root = jumped
    return pa.table({"record_id": ids, "cluster_id": ids[root]})
