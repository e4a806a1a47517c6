"""The model: three layers loaded from YAML, checked, hashed.

>>> from semantic import load_model
>>> load_model("models/demo").subject_area("Campaigns").name
'Campaigns'
"""

from semantic.errors import ModelError, ModelErrors, SourceSpan, StrataError
from semantic.load import load_model
from semantic.model import Model

__all__ = ["Model", "ModelError", "ModelErrors", "SourceSpan", "StrataError", "load_model"]
