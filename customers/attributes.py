"""The customer model's attributes: what a CSV column can be mapped onto.

>>> ATTRIBUTES["date_of_birth"].kind
<Kind.DATE: 'date'>
>>> "email" in ATTRIBUTE_NAMES
True
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    DATE = "date"


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: Kind
    description: str


_ALL = (
    Attribute("source_key", Kind.TEXT, "the record's key in its source system"),
    Attribute("first_name", Kind.TEXT, "given name"),
    Attribute("last_name", Kind.TEXT, "family name"),
    Attribute("date_of_birth", Kind.DATE, "date of birth"),
    Attribute("email", Kind.TEXT, "e-mail address"),
    Attribute("phone", Kind.TEXT, "mobile phone, E.164 after the phone transform"),
    Attribute("street", Kind.TEXT, "street name"),
    Attribute("house_number", Kind.TEXT, "house number"),
    Attribute("postal_code", Kind.TEXT, "postal code"),
    Attribute("city", Kind.TEXT, "city or suburb"),
    Attribute("area", Kind.TEXT, "distribution area (or state)"),
    Attribute("customer_since", Kind.DATE, "when the source first knew the customer"),
)
ATTRIBUTES: dict[str, Attribute] = {a.name: a for a in _ALL}
ATTRIBUTE_NAMES: tuple[str, ...] = tuple(ATTRIBUTES)
