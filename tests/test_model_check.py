"""A broken model is reported as `file:line:col: message`, every problem at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from semantic import ModelErrors, load_model
from tests.conftest import ROOT, TINY, strata


@pytest.fixture
def model_dir(tmp_path) -> Path:
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("*.sql"))
    return folder


def _edit(folder: Path, file: str, old: str, new: str) -> int:
    """Replace `old` by `new` in one file; return the 1-based line where it was."""
    path = folder / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


def _errors(folder: Path) -> list[str]:
    with pytest.raises(ModelErrors) as caught:
        load_model(folder)
    return [str(e) for e in caught.value.errors]


def _at(folder: Path, file: str, line: int) -> str:
    return f"{folder / file}:{line}:"


def test_unknown_physical_column_names_file_line_and_suggests(model_dir):
    line = _edit(model_dir, "business.yaml", "expr: invoice.billed,", "expr: invoice.billd,")
    [error] = _errors(model_dir)
    assert error.startswith(_at(model_dir, "business.yaml", line))
    assert "'Billed' of 'Sales' refers to unknown column 'billd' of table 'invoice'" in error
    assert "hint: did you mean 'billed'?" in error


def test_position_counts_lines_and_columns_from_one(model_dir):
    (model_dir / "extra.yaml").write_text(
        "logical_tables:\n  - name: X\n    kind: fact\n    columns:\n"
        "      - {name: Y, expr: invoice.nope, aggregation: sum}\n"
    )
    [error] = _errors(model_dir)
    assert error.startswith(f"{model_dir / 'extra.yaml'}:5:9: ")


def test_misspelt_key_is_named_with_the_key_it_resembles(model_dir):
    line = _edit(
        model_dir, "business.yaml", "aggregation: count_distinct", "agregation: count_distinct"
    )
    [error] = _errors(model_dir)
    assert error.startswith(_at(model_dir, "business.yaml", line))
    assert "unknown key 'agregation'" in error and "did you mean 'aggregation'?" in error


def test_bad_enumeration_value_lists_the_allowed_ones(model_dir):
    _edit(model_dir, "business.yaml", "aggregation: sum}", "aggregation: total}")
    [error] = _errors(model_dir)
    assert "'sum'" in error and "'count_distinct'" in error


def test_duplicate_yaml_key_is_an_error_not_a_silent_overwrite(model_dir):
    line = _edit(
        model_dir, "physical.yaml", "  - name: tiny\n", "  - name: tiny\n    name: again\n"
    )
    [error] = _errors(model_dir)
    assert error.startswith(_at(model_dir, "physical.yaml", line + 1))
    assert "duplicate key 'name'" in error


def test_invalid_yaml_reports_where_the_parser_stopped(model_dir):
    _edit(
        model_dir,
        "presentation.yaml",
        "columns: [Customer.Customer Id,",
        "columns: [Customer.Customer Id,,",
    )
    [error] = _errors(model_dir)
    assert error.startswith(f"{model_dir / 'presentation.yaml'}:") and "invalid YAML" in error


def test_duplicate_logical_column_names_are_reported(model_dir):
    _edit(model_dir, "business.yaml", "{name: Paid,", "{name: Billed,")
    assert any("duplicate column of 'Sales' 'Billed'" in e for e in _errors(model_dir))


def test_join_to_unknown_table_suggests_the_closest(model_dir):
    _edit(model_dir, "physical.yaml", "to: area.area_id", "to: areas.area_id")
    assert any(
        "join refers to unknown table 'areas'" in e and "did you mean 'area'?" in e
        for e in _errors(model_dir)
    )


def test_presentation_column_that_maps_to_nothing(model_dir):
    line = _edit(model_dir, "presentation.yaml", "Sales.kWh", "Sales.kwh total")
    [error] = _errors(model_dir)
    assert error.startswith(_at(model_dir, "presentation.yaml", line))
    assert "maps to unknown column 'kwh total' of 'Sales'" in error


def test_join_cycle_without_an_alias_is_reported(model_dir):
    _edit(
        model_dir,
        "physical.yaml",
        "    joins:\n",
        "    joins:\n      - {from: invoice.customer_id, to: area.area_id}\n",
    )
    errors = _errors(model_dir)
    assert any(
        "join cycle: table 'area' is reached from 'invoice' by two routes" in e for e in errors
    )
    assert any("declare an alias" in e for e in errors)


def test_source_table_that_no_join_reaches_is_unreachable(model_dir):
    _edit(
        model_dir,
        "business.yaml",
        "  - name: Sales\n    kind: fact\n",
        "  - name: Sales\n    kind: fact\n    sources: [{tables: [invoice, service]}]\n",
    )
    [error] = _errors(model_dir)
    assert "table 'service' in source 'invoice' of 'Sales' is unreachable" in error


def test_measure_without_a_fact_source(model_dir):
    _edit(
        model_dir,
        "business.yaml",
        "expr: subscription.subscription_id, aggregation: count",
        "expr: '1', aggregation: count",
    )
    [error] = _errors(model_dir)
    assert "fact 'Subscriptions' has measures but no source table" in error


def test_fact_column_without_aggregation(model_dir):
    _edit(
        model_dir,
        "business.yaml",
        "{name: kWh, expr: invoice.kwh, aggregation: sum}",
        "{name: kWh, expr: invoice.kwh}",
    )
    [error] = _errors(model_dir)
    assert "'kWh' of fact 'Sales' has no aggregation" in error


def test_derived_measure_with_unknown_reference(model_dir):
    _edit(model_dir, "business.yaml", '"Billed" / "# Invoices"', '"Billed" / "# Invoice"')
    [error] = _errors(model_dir)
    assert "refers to unknown column '# Invoice' of 'Sales'" in error
    assert "did you mean '# Invoices'?" in error


def test_every_error_is_reported_at_once_in_file_order(model_dir):
    _edit(model_dir, "business.yaml", "expr: invoice.billed,", "expr: invoice.billd,")
    _edit(model_dir, "presentation.yaml", "Sales.kWh", "Sales.kwh total")
    _edit(model_dir, "physical.yaml", "to: area.area_id", "to: areas.area_id")
    errors = _errors(model_dir)
    files = [Path(e.split(":")[0]).name for e in errors]
    assert files == sorted(files)
    assert {"business.yaml", "physical.yaml", "presentation.yaml"} <= set(files)
    assert any("unknown column 'billd'" in e for e in errors)


def test_strata_check_exits_1_with_one_line_per_error(model_dir):
    line = _edit(model_dir, "business.yaml", "expr: invoice.billed,", "expr: invoice.billd,")
    done = strata("check", str(model_dir))
    assert done.returncode == 1
    assert done.stdout.startswith(f"{model_dir / 'business.yaml'}:{line}:")
    assert "Traceback" not in done.stdout + done.stderr


def test_strata_check_exits_0_with_a_summary_on_the_demo():
    done = strata("check", "models/demo")
    assert done.returncode == 0
    assert done.stdout.count("\n") == 1 and "ok" in done.stdout


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "physical.yaml",
            "customer_id: integer, name: varchar, customer_type",
            "customer_id: !!int abc, name: varchar, customer_type",
            "cannot read this value",
        ),
        (
            "physical.yaml",
            "area_id: integer, name: varchar}",
            "area_id: !custom x, name: varchar}",
            "cannot read this value",
        ),
        (
            "physical.yaml",
            "area_id: integer, name: varchar}",
            'area_id: "int\'", name: varchar}',
            "has unknown type",
        ),
        (
            "business.yaml",
            "expr: invoice.paid,",
            "expr: 'invoice.paid; DROP TABLE x',",
            "is not one expression",
        ),
        ("business.yaml", "  - name: Area\n", "  - name: A.rea\n", "contains a dot"),
    ],
    ids=["bad-int-tag", "unknown-tag", "bad-type", "two-statements", "dotted-name"],
)
def test_odd_yaml_is_an_error_with_a_position_never_a_crash(model_dir, file, old, new, message):
    line = _edit(model_dir, file, old, new)
    errors = _errors(model_dir)
    assert any(e.startswith(_at(model_dir, file, line)) and message in e for e in errors), errors


def test_an_alias_inside_itself_is_an_error(tmp_path):
    (tmp_path / "m.yaml").write_text("x: &a [*a]\n")
    assert "an alias refers to itself" in _errors(tmp_path)[0]


def test_a_file_that_is_not_utf8_is_an_error(tmp_path):
    (tmp_path / "m.yaml").write_bytes(b"databases: []\n# caf\xe9\n")
    assert "not UTF-8" in _errors(tmp_path)[0]


def test_security_references_are_checked(tmp_path):
    folder = tmp_path / "demo"
    shutil.copytree(ROOT / "models" / "demo", folder)
    _edit(folder, "security.yaml", "roles: [marketing]}", "roles: [marketeers]}")
    _edit(folder, "security.yaml", "table: Customer\n", "table: Customers\n")
    _edit(folder, "presentation.yaml", "roles: [marketing]", "roles: [marketting]")
    errors = "\n".join(_errors(folder))
    assert "user 'marketer' names unknown role 'marketeers'" in errors
    assert "row filter refers to unknown logical table 'Customers'" in errors
    assert "folder 'Contact' names unknown role 'marketting'" in errors
    assert "did you mean 'marketing'?" in errors


def test_a_row_filter_reading_an_unset_variable_is_reported(tmp_path):
    folder = tmp_path / "demo"
    shutil.copytree(ROOT / "models" / "demo", folder)
    _edit(folder, "security.yaml", "NQ_SESSION.AREAS", "NQ_SESSION.AREA")
    assert any(
        "reads session variable AREA, which no user or init block sets" in e
        for e in _errors(folder)
    )


def test_a_row_filter_no_join_can_apply_is_reported(tmp_path):
    # Requests of the query log restricted by the customers' area: no join relates the log
    # to customers, on its own or through a fact, so the filter could never apply. Time and
    # Engagement reach customers through a fact (invoices, the ledger): no error for them.
    folder = tmp_path / "demo"
    shutil.copytree(ROOT / "models" / "demo", folder)
    by_area = '      filter: \'"Customer"."Distribution Area" IN (VALUEOF(NQ_SESSION.AREAS))\'\n'
    line = _edit(
        folder,
        "security.yaml",
        "    - role: area office\n      table: Campaign\n",
        "    - role: area office\n      table: Request\n"
        + by_area
        + "    - role: area office\n      table: Time\n"
        + by_area
        + "    - role: area office\n      table: Engagement\n"
        + by_area
        + "    - role: area office\n      table: Campaign\n",
    )
    errors = [e for e in _errors(folder) if "row filter on" in e]
    assert len(errors) == 1, errors
    assert errors[0].startswith(_at(folder, "security.yaml", line))
    assert (
        "row filter on 'Request' reads area, which neither 'Request' nor any fact joins"
        in errors[0]
    )
    assert "would be refused for role 'area office'" in errors[0]
