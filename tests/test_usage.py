"""The query log is a subject area: administrators analyse usage like any other data."""

import os
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from engine import LogicalSQLError
from tests.conftest import rows


def test_requests_per_user_and_outcome_match_the_log(demo, demo_db):
    demo.query('SELECT "Time"."Year" FROM "Billing"', user="tuzla.mostar")
    with pytest.raises(LogicalSQLError):
        demo.query('SELECT "Time"."Yeer" FROM "Billing"', user="tuzla.mostar")
    # Counted before the Usage request, which logs itself once it has run.
    demo.log.flush()
    store = Path(os.environ["STRATA_DATA"]) / "app.db"
    with sqlite3.connect(store) as con:
        expected = con.execute(
            "SELECT user_name, CASE WHEN error IS NULL THEN 'answered' ELSE 'refused' END, "
            "COUNT(*) FROM query_log GROUP BY 1, 2"
        ).fetchall()
    result = demo.query(
        'SELECT "Request"."User", "Request"."Outcome", "Facts"."# Requests" FROM "Usage"'
    )
    assert rows(result.df) == rows(pd.DataFrame(expected))
    assert ("tuzla.mostar", "refused", 1) in rows(result.df)


def test_usage_is_hidden_from_an_area_office(demo):
    with pytest.raises(LogicalSQLError, match="not found or not permitted"):
        demo.query('SELECT "Request"."User" FROM "Usage"', user="zenica.office")


def test_routes_are_counted_per_source_and_user_like_the_log_holds_them(demo):
    demo.query('SELECT "Time"."Year", "Facts"."Billed Amount" FROM "Billing"', user="tuzla.mostar")
    demo.query('SELECT "Customer"."Customer Name", "Facts"."Billed Amount" FROM "Billing"')
    demo.log.flush()
    store = Path(os.environ["STRATA_DATA"]) / "app.db"
    with sqlite3.connect(store) as con:
        by_source = con.execute(
            "SELECT source, CASE aggregate WHEN 1 THEN 'aggregate' ELSE 'detail' END, "
            "COUNT(DISTINCT request_id) FROM query_route GROUP BY 1, 2"
        ).fetchall()
        by_user = con.execute(
            "SELECT l.user_name, COUNT(*) FROM query_route r "
            "JOIN query_log l USING (request_id) GROUP BY 1"
        ).fetchall()
    got = demo.query(
        'SELECT "Route"."Source", "Route"."Source Kind", "Facts"."# Routed Requests" FROM "Usage"'
    )
    assert rows(got.df) == rows(pd.DataFrame(by_source))
    kinds = {r[:2] for r in rows(got.df)}
    assert {("monthly by area and tariff", "aggregate"), ("invoices", "detail")} <= kinds
    got = demo.query('SELECT "Request"."User", "Facts"."# Routed Fact Queries" FROM "Usage"')
    assert rows(got.df) == rows(pd.DataFrame(by_user))
    assert "tuzla.mostar" in {r[0] for r in rows(got.df)}
