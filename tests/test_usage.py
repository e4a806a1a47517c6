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
