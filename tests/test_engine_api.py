"""The Python API: results named as selected, timings per stage, compiled requests reused."""

from engine import Engine
from tests.conftest import TINY


def test_result_columns_are_named_as_selected_and_aliases_win(tiny):
    result = tiny.query('SELECT "Customer"."Type" AS "Kind", "Facts"."Billed" FROM "Tiny"')
    assert list(result.df.columns) == ["Kind", "Billed"]


def test_a_first_query_reports_every_stage(tiny_db):
    result = Engine.open(TINY).query('SELECT "Customer"."Type" FROM "Tiny"')
    assert [stage for stage, _ in result.timings] == [
        "parse",
        "resolve",
        "plan",
        "generate",
        "execute",
        "convert",
    ]


def test_the_same_request_again_reuses_its_compilation(tiny):
    request = 'SELECT "Customer"."Area", "Facts"."kWh" FROM "Tiny" ORDER BY 1'
    first, again = tiny.query(request), tiny.query(request)
    assert [stage for stage, _ in again.timings] == ["plan cache", "execute", "convert"]
    assert again.sql == first.sql and again.df.equals(first.df)


def test_the_plan_cache_keeps_only_the_most_recent_requests(tiny_db, monkeypatch):
    monkeypatch.setattr(Engine, "PLAN_CACHE_SIZE", 2)
    engine = Engine.open(TINY)
    for name in ("a", "b", "c"):
        engine.explain(f'SELECT "Customer"."Name" FROM "Tiny" WHERE "Customer"."Name" = \'{name}\'')
    assert len(engine._plans) == 2
