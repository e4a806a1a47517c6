"""Campaign lists use golden records, so a person is contacted once: members that the customer
hub has merged into one entity collapse onto one of them.

The rule, applied when a list is frozen:

- a member finds its hub record by the value of its hub-key column (the customer's key that
  the warehouse export carried into the hub as `source_key`);
- among the members whose records share an entity, the one whose record is the entity's
  survivor (its id is the entity's id) is kept; when the survivor's customer is not on the
  list (the user may not see it, or the analysis left it out), the member with the oldest
  record is kept. Nobody is added: the list stays what the user's query returned;
- the kept member of a merged entity is contacted at the golden record's e-mail and phone
  (survivorship chose them: the most recent), falling back to its own when the golden record
  has none;
- the others stay on the list marked `merged_into` the kept member's key, so that the
  pre-flight report counts them ("duplicate customer (merged)") and the ledger records why
  they got nothing.

>>> from customers.golden_contacts import GoldenContact
>>> ms = [Member("7", "old@x.ba", None, {"Id": 7, "Email": "old@x.ba"}),
...       Member("9", "b@x.ba", None, {"Id": 9, "Email": "b@x.ba"}),
...       Member("5", "c@x.ba", None, {"Id": 5, "Email": "c@x.ba"})]
>>> contacts = {"7": GoldenContact("7", 1, 1, 2, "new@x.ba", None),
...             "9": GoldenContact("9", 4, 1, 2, "new@x.ba", None)}
>>> [(m.key, m.email, m.merged_into) for m in collapse_merged(ms, "Id", contacts, "Email", None)]
[('7', 'new@x.ba', None), ('9', 'b@x.ba', '7'), ('5', 'c@x.ba', None)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from campaigns.lists import Member
from customers.golden_contacts import GoldenContact
from customers.hub import default_hub_path


def default_hub() -> Path | None:
    """The hub the app's lists collapse by: $STRATA_DATA/customers.duckdb, once it exists."""
    path = default_hub_path()
    return path if path.exists() else None


def collapse_merged(
    members: Sequence[Member],
    hub_key: str,
    contacts: Mapping[str, GoldenContact],
    email_column: str | None,
    phone_column: str | None,
) -> list[Member]:
    """The members, in their order, with one kept per merged entity and the rest marked."""
    groups: dict[int, list[tuple[Member, GoldenContact]]] = {}
    for member in members:
        value = member.fields.get(hub_key)
        contact = contacts.get(str(value)) if value is not None else None
        if contact is not None and contact.records > 1:
            groups.setdefault(contact.entity_id, []).append((member, contact))
    changed: dict[str, Member] = {}
    for group in groups.values():
        kept, contact = min(group, key=lambda mc: (not mc[1].survivor, mc[1].record_id))
        changed[kept.key] = _at_golden_address(kept, contact, email_column, phone_column)
        for member, _ in group:
            if member is not kept:
                changed[member.key] = replace(member, merged_into=kept.key)
    return [changed.get(m.key, m) for m in members]


def _at_golden_address(
    member: Member, contact: GoldenContact, email_column: str | None, phone_column: str | None
) -> Member:
    email = contact.email or member.email if email_column else member.email
    phone = contact.phone or member.phone if phone_column else member.phone
    fields = dict(member.fields)
    # The template sees the address the message goes to.
    if email_column:
        fields[email_column] = email
    if phone_column:
        fields[phone_column] = phone
    return replace(member, email=email, phone=phone, fields=fields)
