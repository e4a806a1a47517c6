"""The SQL dialects a physical database may name.

Kept apart from `semantic.spec` so that the command line can offer them without loading
Pydantic (every `strata` process pays for what its first imports load).

>>> [d.value for d in Dialect]
['duckdb', 'postgres', 'spark', 'sqlite']
"""

from __future__ import annotations

from enum import StrEnum


class Dialect(StrEnum):
    duckdb = "duckdb"
    postgres = "postgres"
    spark = "spark"
    sqlite = "sqlite"
