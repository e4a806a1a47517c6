"""What every page shares: the engine, the user the pages act as, and the app store.

The user is picked in the sidebar; every engine call passes it, so a page can never show
what that user's permissions and row filters hide.
"""

from __future__ import annotations

import os

import streamlit as st

from engine import Engine
from semantic.errors import StrataError
from store import Store

USER_KEY = "acting_user"


@st.cache_resource
def _engine(model_dir: str) -> Engine:
    return Engine.open(model_dir)


def engine() -> Engine | None:
    """The engine for $STRATA_MODEL (default models/demo), or None after showing why not."""
    model_dir = os.environ.get("STRATA_MODEL", "models/demo")
    try:
        found = _engine(model_dir)
    except StrataError as e:
        st.error(f"The model in {model_dir} cannot be loaded:\n\n```\n{e}\n```")
        return None
    found.reload_if_changed()
    if found.reload_errors is not None:
        st.warning("The model on disk has errors; the last good model stays in use.")
        st.code(str(found.reload_errors), language=None, wrap_lines=True)
    return found


def page() -> tuple[Engine, str | None] | None:
    """What every page starts with: the engine and the acting user (None: the model did not
    load, and the page has said why)."""
    found = engine()
    return None if found is None else (found, user_picker(found))


def user_picker(eng: Engine) -> str | None:
    """The sidebar's "Acting as" choice: the model's users, its default user first."""
    users = [u.name for u in eng.model.security.users]
    if not users:
        return None
    default = eng.model.security.default_user
    users.sort(key=lambda name: (name != default, name))
    fixed = os.environ.get("STRATA_USER")
    if fixed:
        # A deployment that authenticates in front of Strata names the user; no picker then.
        st.sidebar.caption(f"Signed in as **{fixed}**")
        return fixed
    if st.session_state.get(USER_KEY) not in users:
        st.session_state[USER_KEY] = users[0]
    return st.sidebar.selectbox(
        "Acting as",
        users,
        key=USER_KEY,
        help="Every result on every page is what this user may see.",
    )


def current_user() -> str | None:
    return os.environ.get("STRATA_USER") or st.session_state.get(USER_KEY)


def owner(eng: Engine, user: str | None) -> str:
    """Whose My Folder: the session's user ("anonymous" in a model without users)."""
    return eng.session(user).user


def store(eng: Engine) -> Store:
    return eng.store


def is_admin(eng: Engine, user: str | None) -> bool:
    return eng.session(user).administrator
