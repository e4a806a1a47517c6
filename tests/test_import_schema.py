"""`strata import-schema` reads a live database into physical YAML that `strata check` accepts;
`strata demo --target` puts the demo on PostgreSQL or Spark with a model that answers there."""

from __future__ import annotations

import duckdb
import psycopg
import yaml

from tests.conftest import strata
from tests.engines_fixtures import pg_database
from tests.store_fixtures import _free_port

DDL = """
CREATE TABLE area (area_id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);
CREATE TABLE customer (
  customer_id BIGINT PRIMARY KEY, name TEXT, since DATE, area_id INTEGER REFERENCES area);
CREATE TABLE invoice (
  customer_id BIGINT REFERENCES customer, month CHAR(7), billed NUMERIC(12, 2),
  issued TIMESTAMP, paid BOOLEAN,
  -- a second route to area (through customer too): left out, with a comment
  area_id INTEGER REFERENCES area,
  PRIMARY KEY (customer_id, month));
CREATE TABLE loose (x DOUBLE PRECISION);
CREATE SCHEMA other; CREATE TABLE other.hidden (id INTEGER);
"""


def _imported(pg_server, tmp_path):
    url = pg_database(pg_server, "imported")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DDL)
    done = strata("import-schema", "--connection", url, "--name", "crm")
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "physical.yaml").write_text(done.stdout)
    return url, folder, done.stdout


def test_import_schema_writes_tables_types_and_keys(pg_server, tmp_path):
    url, _, text = _imported(pg_server, tmp_path)
    [database] = yaml.safe_load(text)["databases"]
    assert database["name"] == "crm" and database["dialect"] == "postgres"
    assert database["connection"] == {"url": url}
    tables = {t["name"]: t for t in database["tables"]}
    assert sorted(tables) == ["area", "customer", "invoice", "loose"]  # not other.hidden
    assert tables["area"] == {
        "name": "area",
        "primary_key": "area_id",
        "columns": {"area_id": "int", "name": "varchar"},
    }
    assert tables["customer"]["columns"] == {
        "customer_id": "bigint",
        "name": "varchar",
        "since": "date",
        "area_id": "int",
    }
    assert tables["invoice"]["primary_key"] == ["customer_id", "month"]
    assert tables["invoice"]["columns"]["billed"] == "decimal(12, 2)"
    assert tables["invoice"]["columns"]["issued"] == "timestamp"
    assert tables["invoice"]["columns"]["paid"] == "boolean"
    assert tables["loose"] == {"name": "loose", "columns": {"x": "double"}}
    assert sorted(database["joins"], key=str) == [
        {"from": "customer.area_id", "to": "area.area_id"},
        {"from": "invoice.customer_id", "to": "customer.customer_id"},
    ]
    assert "# left out: invoice.area_id -> area (a second route" in text


def test_imported_schema_passes_strata_check(pg_server, tmp_path):
    _, folder, _ = _imported(pg_server, tmp_path)
    done = strata("check", str(folder))
    assert done.returncode == 0, done.stdout
    assert "4 physical tables" in done.stdout


def test_import_schema_reads_another_schema_when_asked(pg_server):
    url = pg_database(pg_server, "schemas")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DDL)
    done = strata("import-schema", "--connection", url, "--schema", "other")
    [database] = yaml.safe_load(done.stdout)["databases"]
    assert [t["name"] for t in database["tables"]] == ["hidden"]


def test_import_schema_never_writes_the_password(pg_server):
    url = pg_database(pg_server, "secret")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    # The cluster trusts loopback logins, so any password gets in; it must not be written.
    with_password = url.replace("postgres@", "postgres:hunter2@")
    done = strata("import-schema", "--connection", with_password)
    assert done.returncode == 0, done.stderr
    assert "hunter2" not in done.stdout
    [database] = yaml.safe_load(done.stdout)["databases"]
    assert database["connection"] == {"url": url, "password": "${PGPASSWORD}"}


def test_import_schema_from_an_unreachable_server_is_one_clear_line():
    done = strata("import-schema", "--connection", f"postgresql://bi@127.0.0.1:{_free_port()}/x")
    assert done.returncode == 2
    assert done.stderr.startswith("error: database 'import': cannot connect to PostgreSQL")
    assert "Traceback" not in done.stderr


BILLING = 'SELECT "Time"."Year", "Facts"."Billed Amount", "Facts"."# Invoices" FROM "Billing"'


def _answer(model: str, data) -> list[str]:
    done = strata("query", "--model", model, "--format", "csv", BILLING, STRATA_DATA=str(data))
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.splitlines())


def test_demo_target_postgres_answers_as_the_duckdb_demo(pg_server, tmp_path):
    url = pg_database(pg_server, "demo")
    done = strata("demo", "--customers", "300", "--target", url, STRATA_DATA=str(tmp_path))
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(tmp_path / "demo.duckdb"), read_only=True) as con:
        tables = len(con.execute("SHOW TABLES").fetchall())
    assert f"loaded {tables} tables" in done.stdout
    assert f"model for it: {tmp_path / 'demo-postgres'}" in done.stdout
    expected = _answer("models/demo", tmp_path)
    assert len(expected) == 4  # header + three years
    assert _answer(str(tmp_path / "demo-postgres"), tmp_path) == expected


def test_demo_target_spark_answers_as_the_duckdb_demo(spark, tmp_path):
    done = strata("demo", "--customers", "300", "--target", "spark", STRATA_DATA=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "demo-parquet" / "invoice.parquet").is_file()
    expected = _answer("models/demo", tmp_path)
    assert _answer(str(tmp_path / "demo-spark"), tmp_path) == expected
