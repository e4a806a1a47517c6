"""The TPC-H questions: Logical SQL, an analyst's hand SQL, and the same request to sidemantic.

The hand SQL is written from the TPC-H schema, the way an analyst would write it, not copied
from any engine's output: where it is the natural way it sums line items per order before
joining orders (two-facts-by-nation, revenue-per-order), or ranks customers by key before
looking up names (top-10-customers). TPC-H keeps every foreign key, so inner joins are right.
The sidemantic request names the fields of bench/tpch_sidemantic.py's models.

>>> [q.name for q in TPCH_QUESTIONS if q.ordered]
['top-10-customers']
>>> len({q.name for q in TPCH_QUESTIONS}) == len(TPCH_QUESTIONS) == 6
True
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TpchQuestion:
    name: str
    logical_sql: str
    hand_sql: str
    # Keyword arguments of sidemantic's SemanticLayer.compile.
    sidemantic: dict[str, object] = field(hash=False, compare=False)
    ordered: bool = False  # True: rows must come back in this order, not just as this set


_JOIN_CUSTOMER = """
    JOIN orders o ON o.o_orderkey = l.l_orderkey
    JOIN customer c ON c.c_custkey = o.o_custkey
    JOIN nation n ON n.n_nationkey = c.c_nationkey
    JOIN region r ON r.r_regionkey = n.n_regionkey"""

TPCH_QUESTIONS: tuple[TpchQuestion, ...] = (
    TpchQuestion(
        name="revenue-by-region-year",
        logical_sql="""
            SELECT "Customer"."Region", "Order"."Order Year", "Facts"."Revenue" FROM "TPC-H"
        """,
        hand_sql=f"""
            SELECT r.r_name, extract(year FROM o.o_orderdate),
                   sum(l.l_extendedprice * (1 - l.l_discount))
            FROM lineitem l {_JOIN_CUSTOMER}
            GROUP BY r.r_name, extract(year FROM o.o_orderdate)
        """,
        sidemantic={
            "metrics": ["lineitem.revenue"],
            "dimensions": ["region.name", "orders.order_year"],
        },
    ),
    TpchQuestion(
        name="europe-nations-1995-1996",
        logical_sql="""
            SELECT "Customer"."Nation", "Facts"."Revenue", "Facts"."# Orders",
                   "Facts"."Average Quantity"
            FROM "TPC-H"
            WHERE "Customer"."Region" = 'EUROPE' AND "Order"."Order Year" BETWEEN 1995 AND 1996
        """,
        # One pass over the line items: every TPC-H order has at least one, so counting
        # distinct order keys among them counts the orders.
        hand_sql=f"""
            SELECT n.n_name, sum(l.l_extendedprice * (1 - l.l_discount)),
                   count(DISTINCT o.o_orderkey), avg(l.l_quantity)
            FROM lineitem l {_JOIN_CUSTOMER}
            WHERE r.r_name = 'EUROPE' AND extract(year FROM o.o_orderdate) BETWEEN 1995 AND 1996
            GROUP BY n.n_name
        """,
        sidemantic={
            "metrics": ["lineitem.revenue", "orders.order_count", "lineitem.avg_quantity"],
            "dimensions": ["nation.name"],
            "filters": ["region.name = 'EUROPE'", "orders.order_year BETWEEN 1995 AND 1996"],
        },
    ),
    TpchQuestion(
        name="top-10-customers",
        # Customer Key breaks ties, so "the same order" has one meaning.
        logical_sql="""
            SELECT "Customer"."Customer Key", "Customer"."Customer Name", "Facts"."Revenue"
            FROM "TPC-H"
            ORDER BY "Facts"."Revenue" DESC, "Customer"."Customer Key"
            FETCH FIRST 10 ROWS ONLY
        """,
        hand_sql="""
            WITH top AS (
                SELECT o.o_custkey, sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue
                FROM lineitem l JOIN orders o ON o.o_orderkey = l.l_orderkey
                GROUP BY o.o_custkey
                ORDER BY revenue DESC, o.o_custkey
                LIMIT 10)
            SELECT c.c_custkey, c.c_name, t.revenue
            FROM top t JOIN customer c ON c.c_custkey = t.o_custkey
            ORDER BY t.revenue DESC, c.c_custkey
        """,
        sidemantic={
            "metrics": ["lineitem.revenue"],
            "dimensions": ["customer.key", "customer.name"],
            "order_by": ["lineitem.revenue DESC", "customer.key"],
            "limit": 10,
        },
        ordered=True,
    ),
    TpchQuestion(
        name="two-facts-by-nation",
        logical_sql="""
            SELECT "Customer"."Nation", "Facts"."Revenue", "Facts"."# Orders",
                   "Facts"."Total Price"
            FROM "TPC-H"
        """,
        # Line items summed per order first, so no order is counted once per line.
        hand_sql="""
            WITH per_order AS (
                SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue
                FROM lineitem
                GROUP BY l_orderkey)
            SELECT n.n_name, sum(p.revenue), count(*), sum(o.o_totalprice)
            FROM orders o
            JOIN customer c ON c.c_custkey = o.o_custkey
            JOIN nation n ON n.n_nationkey = c.c_nationkey
            LEFT JOIN per_order p ON p.l_orderkey = o.o_orderkey
            GROUP BY n.n_name
        """,
        sidemantic={
            "metrics": ["lineitem.revenue", "orders.order_count", "orders.total_price"],
            "dimensions": ["nation.name"],
        },
    ),
    TpchQuestion(
        name="ordering-customers-by-segment",
        logical_sql="""
            SELECT "Customer"."Market Segment", "Facts"."# Ordering Customers" FROM "TPC-H"
        """,
        hand_sql="""
            SELECT c.c_mktsegment, count(DISTINCT o.o_custkey)
            FROM orders o JOIN customer c ON c.c_custkey = o.o_custkey
            GROUP BY c.c_mktsegment
        """,
        sidemantic={"metrics": ["orders.customers"], "dimensions": ["customer.market_segment"]},
    ),
    TpchQuestion(
        name="revenue-per-order-by-segment",
        logical_sql="""
            SELECT "Customer"."Market Segment", "Facts"."Revenue per Order" FROM "TPC-H"
        """,
        hand_sql="""
            WITH per_order AS (
                SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue
                FROM lineitem
                GROUP BY l_orderkey)
            SELECT c.c_mktsegment, sum(p.revenue) / count(*)
            FROM orders o
            JOIN customer c ON c.c_custkey = o.o_custkey
            LEFT JOIN per_order p ON p.l_orderkey = o.o_orderkey
            GROUP BY c.c_mktsegment
        """,
        sidemantic={"metrics": ["revenue_per_order"], "dimensions": ["customer.market_segment"]},
    ),
)
