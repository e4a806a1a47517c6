"""Errors that point at their source: `file:line:col: message`, then a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SourceSpan:
    """Where a model element was declared; line and column count from 1."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class StrataError(Exception):
    """Base of every error a user may see; the CLI prints it without a traceback."""


class ModelError(StrataError):
    """One problem in a model file.

    >>> span = SourceSpan("business.yaml", 14, 9)
    >>> print(ModelError(span, "unknown column 'amout'", "did you mean 'amount'?"))
    business.yaml:14:9: unknown column 'amout'
      hint: did you mean 'amount'?
    """

    def __init__(self, span: SourceSpan, message: str, hint: str | None = None):
        self.span, self.message, self.hint = span, message, hint
        super().__init__(f"{span}: {message}" + (f"\n  hint: {hint}" if hint else ""))


class ModelErrors(StrataError):
    """Every problem found in a model, reported together, sorted by position."""

    def __init__(self, errors: Iterable[ModelError]):
        self.errors = tuple(sorted(errors, key=lambda e: (e.span, e.message)))
        super().__init__("\n".join(str(e) for e in self.errors))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, if one is close enough.

    >>> did_you_mean("amout", ["amount", "kwh"])
    "did you mean 'amount'?"
    """
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean '{lowered[match[0]]}'?" if match else None
