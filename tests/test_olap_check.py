"""The consistency rules for hierarchies, level-based measures and aggregate sources, each
reported as `file:line:col: message` at the element that is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from semantic import ModelErrors, load_model

OLAP = Path(__file__).parent / "models" / "olap"


@pytest.fixture
def model_dir(tmp_path) -> Path:
    folder = tmp_path / "olap"
    shutil.copytree(OLAP, folder, ignore=shutil.ignore_patterns("*.sql"))
    return folder


def _edit(folder: Path, old: str, new: str) -> int:
    path = folder / "business.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


def _error(folder: Path) -> str:
    with pytest.raises(ModelErrors) as caught:
        load_model(folder)
    [error] = caught.value.errors
    return str(error)


def test_the_olap_model_passes_the_check():
    assert load_model(OLAP).hierarchy("Time").time


def test_a_time_level_without_chronological_key_is_an_error(model_dir):
    line = _edit(model_dir, "key: Quarter, chronological_key: Quarter,", "key: Quarter,")
    error = _error(model_dir)
    assert error.startswith(f"{model_dir / 'business.yaml'}:{line}:9: ")
    assert "level 'Quarter' of time hierarchy 'Time' has no chronological_key" in error


def test_a_level_based_measure_on_a_missing_level_is_an_error_with_a_suggestion(model_dir):
    line = _edit(model_dir, "level: {Geography: Area}", "level: {Geography: Aera}")
    error = _error(model_dir)
    assert error.startswith(f"{model_dir / 'business.yaml'}:{line}:9: ")
    assert "measure 'Area Billed' names level 'Aera', which hierarchy 'Geography'" in error
    assert "did you mean 'Area'?" in error


def test_an_aggregate_source_missing_a_measure_mapping_is_an_error(model_dir):
    source = _edit(model_dir, "- name: monthly", "- name: monthly")
    _edit(model_dir, "          kWh: agg_invoice_month.kwh\n", "")
    error = _error(model_dir)
    assert error.startswith(f"{model_dir / 'business.yaml'}:{source}:9: ")
    assert "aggregate source 'monthly' of 'Sales' has no mapping for measure 'kWh'" in error


def test_a_semi_additive_measure_needs_no_mapping_in_an_aggregate_source():
    # Sales has "Last Day Billed" (last over Time) and an aggregate source that does not map
    # it: it is only ever read from the detail, so a mapping would be dead configuration.
    sales = load_model(OLAP).logical_table("Sales")
    last = next(c for c in sales.columns if c.name == "Last Day Billed")
    monthly = next(s for s in sales.sources if s.name == "monthly")
    assert last.last_over == "Time" and last.name not in dict(monthly.measures)


def test_an_aggregate_source_without_content_for_a_hierarchy_it_joins_is_an_error(model_dir):
    _edit(
        model_dir,
        "content: {Time: Month, Geography: Area, Tariff: Tariff Group}",
        "content: {Time: Month, Geography: Area}",
    )
    error = _error(model_dir)
    assert "source 'monthly' of 'Sales' joins the tables of hierarchy 'Tariff'" in error
    assert "declares no content level for it" in error


def test_mapping_a_count_distinct_in_an_aggregate_source_is_an_error(model_dir):
    _edit(
        model_dir,
        "          kWh: agg_invoice_month.kwh\n",
        "          kWh: agg_invoice_month.kwh\n"
        '          "# Customers": agg_invoice_month.invoices\n',
    )
    error = _error(model_dir)
    assert "maps '# Customers' (count_distinct), which cannot be re-aggregated" in error


def test_a_semi_additive_measure_over_a_hierarchy_that_is_not_time_is_an_error(model_dir):
    line = _edit(
        model_dir,
        "last_over: Time}\n      - {name: Largest",
        "last_over: Geography}\n      - {name: Largest",
    )
    error = _error(model_dir)
    assert error.startswith(f"{model_dir / 'business.yaml'}:{line}:9: ")
    assert "is last over 'Geography', which is not a time hierarchy" in error


def test_a_fragmented_fact_with_a_source_that_is_no_fragment_is_an_error(model_dir):
    line = _edit(
        model_dir,
        '{name: current, tables: [sales], fragment: \'"Time"."Year" >= 2025\', reads: sales_2025}',
        "{name: current, tables: [sales], reads: sales_2025}",
    )
    error = _error(model_dir)
    assert error.startswith(f"{model_dir / 'business.yaml'}:{line}:9: ")
    assert "source 'current' of 'Split Sales' is no fragment" in error


def test_a_fragment_reading_a_table_without_the_base_columns_is_an_error(model_dir):
    _edit(model_dir, "reads: sales_2024}", "reads: area}")
    error = _error(model_dir)
    assert "'area' cannot stand for 'sales': it lacks billed, customer_id" in error


def test_an_average_mapped_to_one_column_is_an_error_naming_the_merge(model_dir):
    _edit(
        model_dir,
        "Average Bill: agg_invoice_month.billed / agg_invoice_month.invoices",
        "Average Bill: agg_invoice_month.largest",
    )
    error = _error(model_dir)
    assert "maps the average 'Average Bill' to 'agg_invoice_month.largest'" in error
    assert "SUM(sums) / SUM(counts)" in error


def test_a_time_series_formula_on_a_column_that_is_no_time_level_is_an_error(model_dir):
    line = _edit(
        model_dir,
        """AGO("Billed", "Time"."Month", 12)""",
        """AGO("Billed", "Time"."Month Name", 12)""",
    )
    error = _error(model_dir)
    assert error.startswith(f"{model_dir / 'business.yaml'}:{line}:9: ")
    assert 'AGO in \'Billed Year Ago\' names "Time"."Month Name", which is not a level key' in error
