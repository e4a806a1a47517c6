"""Errors in a Logical SQL request: what is wrong, where, and what to write instead."""

from __future__ import annotations

from semantic.errors import StrataError


class LogicalSQLError(StrataError):
    """A request that cannot be compiled; `hint` suggests a fix.

    >>> print(LogicalSQLError('column "A"."Nme" not found', hint='did you mean "A"."Name"?'))
    column "A"."Nme" not found
      hint: did you mean "A"."Name"?
    """

    def __init__(
        self, message: str, hint: str | None = None, line: int | None = None, col: int | None = None
    ):
        self.message, self.hint, self.line, self.col = message, hint, line, col
        where = f"line {line}, col {col}: " if line is not None else ""
        super().__init__(where + message + (f"\n  hint: {hint}" if hint else ""))


def quoted(*parts: str) -> str:
    """Logical SQL spelling of a qualified name.

    >>> quoted("Customer", "Customer Id")
    '"Customer"."Customer Id"'
    """
    return ".".join(f'"{p}"' for p in parts)
