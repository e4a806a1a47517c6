"""Connections in the physical layer: secrets only from the environment, and one clear error,
naming the database and what to check, when a server refuses or a table is missing."""

from __future__ import annotations

import shutil

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from physical.backend import QueryError, connect
from semantic.errors import SourceSpan, StrataError
from semantic.model import Database
from tests.conftest import TINY, strata
from tests.engines_fixtures import pg_database
from tests.store_fixtures import _free_port


def _database(dialect: str, **settings: str) -> Database:
    return Database("crm", dialect, tuple(settings.items()), SourceSpan("physical.yaml", 3, 5))


def _model_with_connection(tmp_path, connection: str):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("*.sql"))
    path = folder / "physical.yaml"
    text = path.read_text().replace(
        'connection: {path: "${TINY_DB}"}', f"dialect: postgres\n    connection: {connection}"
    )
    path.write_text(text)
    return folder


def test_check_refuses_a_literal_password_and_names_the_setting(tmp_path):
    folder = _model_with_connection(tmp_path, "{host: db, user: bi, password: hunter2}")
    done = strata("check", str(folder))
    assert done.returncode == 1
    assert f"{folder / 'physical.yaml'}:2:" in done.stdout
    assert "database 'tiny': connection setting 'password' holds a literal secret" in done.stdout
    assert "hunter2" not in done.stdout + done.stderr


def test_check_refuses_a_password_inside_a_url(tmp_path):
    folder = _model_with_connection(tmp_path, '{url: "postgresql://bi:hunter2@db/bi"}')
    done = strata("check", str(folder))
    assert done.returncode == 1
    assert "holds a URL with a literal password" in done.stdout


def test_check_accepts_a_password_from_the_environment(tmp_path):
    folder = _model_with_connection(
        tmp_path, '{url: "postgresql://bi:${PG_PASSWORD}@db/bi", password: "${PG_PASSWORD}"}'
    )
    done = strata("check", str(folder))
    assert done.returncode == 0, done.stdout


def test_unreachable_server_names_the_database_and_says_what_to_check():
    port = _free_port()  # nothing listens there
    with pytest.raises(StrataError) as caught:
        connect(_database("postgres", url=f"postgresql://bi@127.0.0.1:{port}/bi"))
    message = str(caught.value)
    assert message.startswith(f"database 'crm': cannot connect to PostgreSQL at 127.0.0.1:{port}")
    assert "hint: check that the server is running and host and port are right" in message


def test_wrong_password_names_the_database_and_never_prints_the_password(pg_server):
    url = pg_database(pg_server, "auth")
    base = url.rsplit("/", 1)[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE ROLE analyst LOGIN PASSWORD 'right-one'")
    # The cluster trusts every local login; this database asks analyst for a password.
    with psycopg.connect(url, autocommit=True) as conn:
        hba = conn.execute("SHOW hba_file").fetchone()[0]
    with open(hba) as f:
        rules = f.read()
    with open(hba, "w") as f:
        f.write("host all analyst 127.0.0.1/32 scram-sha-256\n" + rules)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    target = base.replace("postgres@", "analyst@") + "/" + url.rsplit("/", 1)[1]
    with pytest.raises(StrataError) as caught:
        connect(_database("postgres", url=target, password="wrong-one"))
    message = str(caught.value)
    assert message.startswith("database 'crm': cannot connect to PostgreSQL at 127.0.0.1:")
    assert "password authentication failed" in message
    assert "hint: check the user and the password variable" in message
    assert "wrong-one" not in message
    # The right password, from the environment as a model would read it, gets in.
    backend = connect(_database("postgres", url=target, password="right-one"))
    assert backend.run("SELECT current_user AS u").to_pylist() == [{"u": "analyst"}]
    backend.close()


def test_missing_table_on_postgres_is_named_with_a_hint(pg_server):
    backend = connect(_database("postgres", url=pg_database(pg_server, "empty")))
    with pytest.raises(QueryError) as caught:
        backend.run('SELECT * FROM "invoice"')
    message = str(caught.value)
    assert message.startswith("database 'crm' refused the query: relation \"invoice\" does not")
    assert "hint: the model names a table this database does not have" in message
    backend.close()


def test_missing_table_on_spark_is_named_with_a_hint(spark):
    backend = connect(_database("spark", master="local[2]"))
    with pytest.raises(QueryError) as caught:
        backend.run("SELECT * FROM `no_such_invoice`")
    message = str(caught.value)
    assert message.startswith("database 'crm' refused the query: [TABLE_OR_VIEW_NOT_FOUND]")
    assert "hint: the model names a table Spark does not have" in message


def test_two_spark_databases_with_a_table_of_the_same_name_each_read_their_own(spark, tmp_path):
    for city, amount in (("sarajevo", 10), ("zenica", 20)):
        (tmp_path / city).mkdir()
        pq.write_table(pa.table({"amount": [amount]}), tmp_path / city / "invoice.parquet")
    sarajevo = connect(_database("spark", parquet=str(tmp_path / "sarajevo")))
    zenica = connect(_database("spark", parquet=str(tmp_path / "zenica")))
    assert sarajevo.run("SELECT amount FROM invoice").to_pylist() == [{"amount": 10}]
    assert zenica.run("SELECT amount FROM invoice").to_pylist() == [{"amount": 20}]


def test_missing_parquet_folder_is_named_with_a_hint(spark, tmp_path):
    with pytest.raises(StrataError) as caught:
        connect(_database("spark", parquet=str(tmp_path / "nowhere")))
    assert f"database 'crm': Parquet folder {tmp_path / 'nowhere'} does not exist" in str(
        caught.value
    )


def test_strata_query_on_an_unreachable_server_prints_one_line_without_traceback(tmp_path):
    port = _free_port()
    folder = _model_with_connection(tmp_path, f'{{url: "postgresql://bi@127.0.0.1:{port}/bi"}}')
    done = strata("query", "--model", str(folder), 'SELECT "Customer"."Name" FROM "Tiny"')
    assert done.returncode == 2
    assert done.stderr.startswith("error: database 'tiny': cannot connect to PostgreSQL")
    assert "Traceback" not in done.stderr
