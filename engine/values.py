"""The Logical SQL that lists a column's values for a filter's value picker.

Searching happens in the database (case-insensitive containment, the term a literal with LIKE's
wildcards escaped), one row more than the limit is asked for, and that extra row is how the
picker knows to say "list truncated". The request runs as the user, so a restricted user is
offered only values they may see.

>>> print(values_request("Campaigns", "Customer", "Distribution Area", "sa", 50))
... # doctest: +NORMALIZE_WHITESPACE
SELECT "Customer"."Distribution Area" FROM "Campaigns"
WHERE NOT "Customer"."Distribution Area" IS NULL
AND LOWER("Customer"."Distribution Area") LIKE '%sa%' ESCAPE '\\'
ORDER BY "Customer"."Distribution Area" ASC FETCH FIRST 51 ROWS ONLY
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.analysis import Analysis, Condition, FilterGroup, Selected, to_logical_sql


@dataclass(frozen=True)
class ValueList:
    values: tuple
    truncated: bool  # more values exist than were returned: search to narrow


def values_request(
    subject_area: str, folder: str, column: str, search: str | None, limit: int
) -> str:
    """A request for up to `limit` + 1 values of the column, containing `search` if given."""
    # NULL is not a value to pick: "is null" is its operator.
    conditions = (Condition(folder, column, "is not null"),)
    if search:
        conditions += (Condition(folder, column, "contains", (search,)),)
    analysis = Analysis(
        subject_area, (Selected(folder, column, sort="asc"),), FilterGroup("and", conditions)
    )
    return to_logical_sql(analysis, limit=limit + 1)
