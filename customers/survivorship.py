"""Survivorship: which member record's value each attribute of a golden record takes.

Each attribute runs a chain of rules; each rule keeps the best candidates by its criterion,
and the first rule that leaves one candidate decides (the lowest record id breaks a tie).

>>> a = Member(1, "billing", 1, {"first_name": "Amra", "email": None})
>>> b = Member(2, "crm", 2, {"first_name": "Amra H.", "email": "amra@x.ba"})
>>> golden = golden_record((a, b), Policy(("billing",)))
>>> [(v.attribute, v.value, v.record_id, v.rule) for v in golden]
[('first_name', 'Amra', 1, 'source priority'), ('email', 'amra@x.ba', 2, 'only value')]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Rule(StrEnum):
    SOURCE_PRIORITY = "source priority"  # the most trusted source's value
    MOST_COMPLETE = "most complete"  # the value of the record with the most attributes filled
    MOST_RECENT = "most recent"  # the value of the most recently imported record


@dataclass(frozen=True)
class Member:
    record_id: int
    source: str
    recency: int  # larger is more recent (import order)
    values: Mapping[str, str | None]


@dataclass(frozen=True)
class Policy:
    source_priority: tuple[str, ...] = ()  # most trusted first; other sources after them
    default: tuple[Rule, ...] = (Rule.SOURCE_PRIORITY, Rule.MOST_COMPLETE, Rule.MOST_RECENT)
    # Contact data goes stale: the newest e-mail and phone are the ones that reach the person.
    per_attribute: Mapping[str, tuple[Rule, ...]] = field(
        default_factory=lambda: {
            "email": (Rule.MOST_RECENT, Rule.SOURCE_PRIORITY),
            "phone": (Rule.MOST_RECENT, Rule.SOURCE_PRIORITY),
        }
    )

    def rules(self, attribute: str) -> tuple[Rule, ...]:
        return tuple(self.per_attribute.get(attribute, self.default))


@dataclass(frozen=True)
class GoldenValue:
    attribute: str
    value: str | None
    record_id: int | None  # provenance: the member record the value came from
    rule: str  # the rule that decided, "only value", "tie: lowest record id" or "no value"


def golden_record(members: tuple[Member, ...], policy: Policy) -> tuple[GoldenValue, ...]:
    """One golden value per attribute, with the record it came from and the deciding rule."""
    attributes = list(dict.fromkeys(a for m in members for a in m.values))
    completeness = {m.record_id: sum(v is not None for v in m.values.values()) for m in members}
    scores: dict[Rule, Callable[[Member], object]] = {
        Rule.SOURCE_PRIORITY: lambda m: -_rank(policy.source_priority, m.source),
        Rule.MOST_COMPLETE: lambda m: completeness[m.record_id],
        Rule.MOST_RECENT: lambda m: m.recency,
    }
    golden = []
    for attribute in attributes:
        candidates = [m for m in members if m.values.get(attribute) is not None]
        rule = "only value" if len(candidates) == 1 else "no value"
        for chosen_rule in policy.rules(attribute) if len(candidates) > 1 else ():
            best = max(scores[chosen_rule](m) for m in candidates)
            candidates = [m for m in candidates if scores[chosen_rule](m) == best]
            if len(candidates) == 1:
                rule = chosen_rule.value
                break
        else:
            if len(candidates) > 1:
                rule = "tie: lowest record id"
        winner = min(candidates, key=lambda m: m.record_id) if candidates else None
        golden.append(
            GoldenValue(
                attribute,
                winner.values[attribute] if winner else None,
                winner.record_id if winner else None,
                rule,
            )
        )
    return tuple(golden)


def _rank(priority: tuple[str, ...], source: str) -> int:
    return priority.index(source) if source in priority else len(priority)
