"""The TPC-H model written for sidemantic (a bench-only extra), as its documentation models
a star: one model per table, many-to-one relationships from the facts to the dimensions."""

from __future__ import annotations

from typing import Any


def sidemantic_layer() -> Any | None:
    """A sidemantic SemanticLayer over TPC-H for compiling only, or None if not installed.

    It is given an in-memory DuckDB: the benchmark runs its SQL on the same connection as
    the hand SQL and Strata's.

    >>> layer = sidemantic_layer()
    >>> layer is None or "lineitem" in layer.compile(metrics=["lineitem.revenue"])
    True
    """
    try:
        from sidemantic import Dimension, Metric, Model, Relationship, SemanticLayer
    except ImportError:
        return None

    def dim(name: str, sql: str, kind: str = "categorical") -> Any:
        return Dimension(name=name, type=kind, sql=sql)

    def to_one(name: str, key: str) -> Any:
        return Relationship(name=name, type="many_to_one", foreign_key=key)

    layer = SemanticLayer("duckdb:///:memory:", auto_register=False)
    layer.add_model(
        Model(
            name="region",
            table="region",
            primary_key="r_regionkey",
            dimensions=[dim("name", "r_name")],
        )
    )
    layer.add_model(
        Model(
            name="nation",
            table="nation",
            primary_key="n_nationkey",
            dimensions=[dim("name", "n_name")],
            relationships=[to_one("region", "n_regionkey")],
        )
    )
    layer.add_model(
        Model(
            name="customer",
            table="customer",
            primary_key="c_custkey",
            dimensions=[
                dim("key", "c_custkey", "numeric"),
                dim("name", "c_name"),
                dim("market_segment", "c_mktsegment"),
            ],
            relationships=[to_one("nation", "c_nationkey")],
        )
    )
    layer.add_model(
        Model(
            name="orders",
            table="orders",
            primary_key="o_orderkey",
            dimensions=[dim("order_year", "EXTRACT(YEAR FROM o_orderdate)", "numeric")],
            metrics=[
                Metric(name="order_count", agg="count", sql="o_orderkey"),
                Metric(name="total_price", agg="sum", sql="o_totalprice"),
                Metric(name="customers", agg="count_distinct", sql="o_custkey"),
            ],
            relationships=[to_one("customer", "o_custkey")],
        )
    )
    layer.add_model(
        Model(
            name="lineitem",
            table="lineitem",
            primary_key=["l_orderkey", "l_linenumber"],
            metrics=[
                Metric(name="revenue", agg="sum", sql="l_extendedprice * (1 - l_discount)"),
                Metric(name="avg_quantity", agg="avg", sql="l_quantity"),
            ],
            relationships=[to_one("orders", "l_orderkey")],
        )
    )
    layer.add_metric(
        Metric(
            name="revenue_per_order",
            type="ratio",
            numerator="lineitem.revenue",
            denominator="orders.order_count",
        )
    )
    return layer
