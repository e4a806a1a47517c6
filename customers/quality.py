"""Quality metrics of the customer hub, asked of the "Data Quality" subject area as a user.

The numbers come from the semantic layer (models/demo/data_quality.yaml) through the engine,
so the page, the CLI and any saved analysis agree, and permissions apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from engine import Engine

SUBJECT_AREA = "Data Quality"
QUESTIONS: dict[str, str] = {
    "summary": '"Facts"."# Records", "Facts"."# Entities", "Facts"."Duplicate Rate",'
    ' "Facts"."# Duplicate Records"',
    "cluster sizes": '"Entity"."Records per Entity", "Facts"."# Entities"',
    "severity": '"Pair"."Severity", "Facts"."# Candidate Pairs"',
    "by batch": '"Batch"."Batch", "Batch"."File", "Facts"."# Records",'
    ' "Facts"."# Duplicate Records"',
    "completeness by area": '"Record"."Distribution Area", "Facts"."# Records",'
    ' "Facts"."# Missing E-mail", "Facts"."# Invalid E-mail", "Facts"."# Missing Phone"',
    "growth by month": '"Record"."Customer Since Month", "Facts"."# Records", "Facts"."# Entities"',
}


@dataclass(frozen=True)
class QualityReport:
    tables: tuple[tuple[str, pd.DataFrame], ...]  # (question, answer), in QUESTIONS order

    def table(self, name: str) -> pd.DataFrame:
        return dict(self.tables)[name]


def quality_report(engine: Engine, user: str | None = None) -> QualityReport:
    """Every question of `QUESTIONS`, answered for `user`.

    >>> sorted(QUESTIONS)[:2]
    ['by batch', 'cluster sizes']
    """
    return QualityReport(
        tuple(
            (name, engine.query(f'SELECT {columns} FROM "{SUBJECT_AREA}"', user=user).df)
            for name, columns in QUESTIONS.items()
        )
    )
