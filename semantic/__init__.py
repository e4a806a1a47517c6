"""The model: three layers loaded from YAML, checked, hashed.

>>> from semantic import load_model
>>> load_model("models/demo").subject_area("Campaigns").name
'Campaigns'
"""

from __future__ import annotations

import importlib

from semantic.errors import ModelError, ModelErrors, SourceSpan, StrataError

__all__ = ["Model", "ModelError", "ModelErrors", "SourceSpan", "StrataError", "load_model"]

# Loaded on first use: a process that only needs StrataError (a campaign sender, most CLI
# verbs) should not pay for YAML, Pydantic and sqlglot at start-up.
_LAZY = {"load_model": "semantic.load", "Model": "semantic.model"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'semantic' has no attribute {name!r}")
