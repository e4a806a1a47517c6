"""Who may see which campaign lists and campaigns: one rule for the CLI and the pages.

A frozen list holds the rows its author was allowed to see; showing its members (or a
campaign's samples and ledger) to another user would step around the row filters the freeze
applied. So a user sees the lists and campaigns they made, and an administrator sees all.
The acting user is logged in through the engine, so the model's security decides who is an
administrator, as it does for every query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Viewer:
    """The acting user, as the campaign API needs to know them."""

    name: str
    administrator: bool = False

    def sees(self, item) -> bool:
        """Whether this user may open `item` (anything with a `created_by`).

        >>> from types import SimpleNamespace as Made
        >>> Viewer("ana").sees(Made(created_by="bo")), Viewer("x", True).sees(Made(created_by="bo"))
        (False, True)
        """
        return self.administrator or item.created_by == self.name


def viewer(engine, user: str | None) -> Viewer:
    """Log `user` in through `engine` (None: the model's default user).

    >>> from engine import Engine
    >>> eng = Engine.open("models/demo")
    >>> viewer(eng, "marketer"), viewer(eng, None)
    (Viewer(name='marketer', administrator=False), Viewer(name='admin', administrator=True))
    """
    session = engine.session(user)
    return Viewer(session.user, session.administrator)


def visible(items: Iterable[T], seen_by: Viewer | None) -> list[T]:
    """The items `seen_by` may open; None (the system: scheduler, sender) sees them all.

    >>> from types import SimpleNamespace as Made
    >>> made = [Made(created_by="ana"), Made(created_by="bo")]
    >>> len(visible(made, Viewer("ana"))), len(visible(made, Viewer("ana", True)))
    (1, 2)
    """
    return list(items) if seen_by is None else [i for i in items if seen_by.sees(i)]
