"""Verified navigation: does a result read from an aggregate source equal the detail's?"""

from __future__ import annotations

import math

import pandas as pd


def same_rows(routed: pd.DataFrame, detail: pd.DataFrame, tolerance: float = 1e-6) -> bool:
    """Whether two results hold the same rows in any order; numbers may differ by a relative
    `tolerance` (sums of decimals in another order round differently as doubles).

    >>> a = pd.DataFrame({"y": [2024, 2025], "b": [10.0, 20.0]})
    >>> same_rows(a, a.iloc[::-1]), same_rows(a, a.assign(b=[10.0, 21.0]))
    (True, False)
    """
    if list(routed.columns) != list(detail.columns) or len(routed) != len(detail):
        return False
    left, right = _sorted(routed), _sorted(detail)
    pairs = zip(left, right, strict=True)
    return all(_equal(x, y, tolerance) for a, b in pairs for x, y in zip(a, b, strict=True))


def _value(v: object) -> object:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def _sorted(df: pd.DataFrame) -> list[tuple]:
    rows = [tuple(_value(v) for v in row) for row in df.itertuples(index=False, name=None)]
    return sorted(
        rows,
        key=lambda r: [
            (x is None, str(round(x, 4)) if isinstance(x, float) else str(x)) for x in r
        ],
    )


def _equal(x: object, y: object, tolerance: float) -> bool:
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)
    return x == y
