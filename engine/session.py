"""Log a user in: roles, and session variables from the model and its init blocks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from semantic.errors import StrataError
from semantic.model import InitBlock, Model

# Runs an init block for a user name -> its rows.
RunRows = Callable[[InitBlock, str], list[tuple]]


@dataclass(frozen=True)
class Session:
    user: str
    roles: frozenset[str]
    administrator: bool  # sees every object and every row
    variables: Mapping[str, tuple] = field(default_factory=dict, compare=False)
    # What the resolver derives from the session alone (its row filters), computed once.
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    def sees(self, roles: tuple[str, ...]) -> bool:
        """Whether an object visible to `roles` (empty: everyone) is visible in this session."""
        return self.administrator or not roles or not self.roles.isdisjoint(roles)


# Compiling for a model without security, and the engine's own look-ups: no restriction.
SYSTEM = Session("system", frozenset(), True, MappingProxyType({"USER": ("system",)}))


def login(model: Model, user: str | None, run: RunRows) -> Session:
    """The session of `user` (None: the model's default user).

    >>> from semantic import load_model
    >>> s = login(load_model("models/demo"), "tuzla.mostar", lambda block, user: [])
    >>> sorted(s.roles), s.administrator, s.variables["AREAS"]
    (['area office'], False, ('Tuzla', 'Mostar'))
    """
    security = model.security
    if not security.users:
        name = user or "anonymous"
        return Session(name, frozenset(), True, MappingProxyType({"USER": (name,)}))
    # Only a missing user means the default one: an empty name (a front end's missing
    # login) must never become the default user, who may be an administrator.
    name = security.default_user if user is None else user
    if name is None or not name.strip():
        raise StrataError("name a user (--user NAME); this model has users")
    found = next((u for u in security.users if u.name == name), None)
    if found is None:
        # No suggestion: listing close names would tell anyone which users exist.
        raise StrataError(f"unknown user '{name}'")
    roles = frozenset(found.roles)
    administrator = any(r.administrator for r in security.roles if r.name in roles)

    def variables() -> dict[str, tuple]:
        values: dict[str, tuple] = {"USER": (name,)}
        for block in security.init_blocks:
            rows = run(block, name)
            for i, variable in enumerate(block.variables):
                values[variable.upper()] = tuple(row[i] for row in rows)
        # A value written for the user in the model wins over an init block's.
        values.update({variable.upper(): v for variable, v in found.variables})
        return values

    return Session(name, roles, administrator, _Deferred(variables))


class _Deferred(Mapping):
    """Variables computed on first use, as BI EE's deferred init blocks: `explain` and
    requests that read no variable never touch the database."""

    def __init__(self, compute: Callable[[], dict[str, tuple]]):
        self._compute, self._values = compute, None
        self._lock = threading.Lock()

    def _loaded(self) -> dict[str, tuple]:
        with self._lock:
            if self._values is None:
                self._values = self._compute()
            return self._values

    def __getitem__(self, key: str) -> tuple:
        return self._loaded()[key]

    def __iter__(self):
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())
