"""A model copied to another engine changes only its database's dialect and connection."""

from __future__ import annotations

import pytest

from physical.retarget import retarget
from semantic import load_model
from semantic.errors import StrataError
from tests.conftest import TINY


def test_retargeted_model_keeps_every_layer_and_changes_only_the_connection(tmp_path):
    out = retarget(TINY, tmp_path / "spark", "tiny", "spark", {"parquet": "/srv/tiny"})
    original, copied = load_model(TINY), load_model(out)
    assert copied.database("tiny").dialect == "spark"
    assert copied.database("tiny").connection == (("parquet", "/srv/tiny"),)
    assert [t.name for t in copied.tables] == [t.name for t in original.tables]
    assert [a.name for a in copied.subject_areas] == [a.name for a in original.subject_areas]


def test_retarget_replaces_an_earlier_copy_but_never_a_folder_with_other_files(tmp_path):
    out = retarget(TINY, tmp_path / "pg", "tiny", "postgres", {"url": "postgresql://a@h/db"})
    assert retarget(TINY, out, "tiny", "postgres", {"url": "postgresql://b@h/db"}) == out
    (out / "data.parquet").write_bytes(b"not a model")
    with pytest.raises(StrataError, match="holds files other than a model's YAML"):
        retarget(TINY, out, "tiny", "postgres", {"url": "postgresql://c@h/db"})
    assert (out / "data.parquet").exists()


def test_retarget_names_a_database_the_model_does_not_have(tmp_path):
    with pytest.raises(StrataError, match="has no database 'warehouse'"):
        retarget(TINY, tmp_path / "x", "warehouse", "postgres", {})
