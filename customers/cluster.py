"""Cluster a match run's pairs by connected components at a threshold the steward moves.

Clustering reads the stored pairs only (no retraining), so moving the threshold and seeing
its effect takes a fraction of a second. Pairs a steward marked "distinct" never join.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
from splink import DuckDBAPI
from splink.clustering import cluster_pairwise_predictions_at_threshold

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
    assignment = _components(nodes, edges, threshold)
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


def _components(nodes: pa.Table, edges: pa.Table, threshold: float) -> pa.Table:
    con = duckdb.connect()
    try:
        con.register("nodes_arrow", nodes)
        con.register("edges_arrow", edges)
        con.execute("CREATE TABLE nodes AS SELECT * FROM nodes_arrow")
        con.execute("CREATE TABLE edges AS SELECT * FROM edges_arrow")
        db_api = DuckDBAPI(con)
        result = cluster_pairwise_predictions_at_threshold(
            db_api.register("nodes", table_name="cluster_nodes"),
            db_api.register("edges", table_name="cluster_edges"),
            db_api,
            node_id_column_name="record_id",
            edge_id_column_name_left="record_id_l",
            edge_id_column_name_right="record_id_r",
            threshold_match_probability=threshold,
        )
        # Splink names a cluster by one of its members; name it by the smallest, so that
        # the same records give the same cluster id at every threshold and in every run.
        return con.sql(
            f"SELECT record_id, MIN(record_id) OVER (PARTITION BY cluster_id) AS cluster_id"
            f' FROM "{result.physical_name}" ORDER BY record_id'
        ).to_arrow_table()
    finally:
        con.close()
