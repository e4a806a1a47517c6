"""Errors of the customer data hub: what went wrong, then a hint.

>>> print(ImportError_("a.csv: the file is empty", "export it again"))
a.csv: the file is empty
  hint: export it again
"""

from __future__ import annotations

from semantic.errors import StrataError


class CustomerError(StrataError):
    """A customer-hub operation refused its input; the message says why and what to do."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message + (f"\n  hint: {hint}" if hint else ""))
        self.hint = hint


class ImportError_(CustomerError):  # the builtin ImportError means something else
    """A CSV file cannot be imported as it is (nothing of it was imported)."""


class MappingError(CustomerError):
    """A mapping is malformed or does not fit the file."""
