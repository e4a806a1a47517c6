"""Golden queries declared beside the model: `strata model test` runs them and shows, for a
failure, where the test is and what came back instead."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import ROOT, TINY, strata


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory):
    from physical.demo import build_demo

    folder = tmp_path_factory.mktemp("default-demo")
    build_demo(folder / "demo.duckdb", customers=50_000, seed=42)  # what `strata demo` builds
    return folder


def test_the_demo_golden_queries_hold_on_the_default_demo(default_demo):
    done = strata("model", "test", str(ROOT / "models" / "demo"), STRATA_DATA=str(default_demo))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "10 of 10 golden queries as expected"


@pytest.fixture
def tiny_with_tests(tmp_path, tiny_db):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("*.sql"))
    (folder / "tests.yaml").write_text(
        "tests:\n"
        "  - name: billed by type\n"
        '    request: SELECT "Customer"."Type", "Facts"."Billed" FROM "Tiny"\n'
        "    expect:\n"
        "      rows: [[Commercial, 100], [Household, 60]]\n"
        "  - name: customers\n"
        '    request: SELECT "Customer"."Name" FROM "Tiny"\n'
        "    expect: {row_count: 4}\n"
    )
    return folder


def test_a_failing_golden_query_prints_its_place_and_expected_and_actual_rows(tiny_with_tests):
    done = strata("model", "test", str(tiny_with_tests))
    assert done.returncode == 1
    out = done.stdout
    assert "FAIL billed by type" in out and f"{tiny_with_tests / 'tests.yaml'}:2:5" in out
    assert "-('Household', 60)" in out and "+('Household', 65.0)" in out  # Dina's 5 counts
    assert "ok   customers" in out
    assert out.splitlines()[-1] == "1 of 2 golden queries as expected"


def test_a_wrong_row_count_or_value_is_named(tiny_with_tests):
    tests = tiny_with_tests / "tests.yaml"
    tests.write_text(
        "tests:\n"
        "  - name: total\n"
        '    request: SELECT "Facts"."Billed", "Facts"."# Invoices" FROM "Tiny"\n'
        '    expect: {row_count: 2, values: {Billed: 165, "# Invoices": 6}}\n'
    )
    out = strata("model", "test", str(tiny_with_tests)).stdout
    assert "expected 2 row(s), got 1" in out and "# Invoices: expected 6, got 5" in out
    assert "Billed:" not in out  # 165 is right
