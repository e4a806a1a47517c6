"""Arrow results to pandas, the one way every answer is converted."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa


def to_frame(table: pa.Table, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """`table` as a DataFrame, its columns renamed to `columns` when given.

    Single-threaded: on this project's machines (2 cores) Arrow's threaded conversion was
    slower at every size measured, 1,000 to 5,000,000 rows (docs/decisions.md), and renaming
    in Arrow is cheaper than assigning pandas columns afterwards.

    >>> to_frame(pa.table({"d0": [1, 2]}), ["Customer Id"])
       Customer Id
    0            1
    1            2
    """
    if columns is not None:
        table = table.rename_columns(list(columns))
    return table.to_pandas(use_threads=False)
