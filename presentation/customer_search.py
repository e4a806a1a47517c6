"""Fuzzy customer search: candidates from the engine (as the user), ranked by similarity.

Logical SQL is portable and has no similarity function, so the engine is asked for customers
whose name or e-mail contains any three-letter piece of the search term (or whose phone holds
its last digits), with the user's row filters applied, and the candidates are ranked here by
how closely a name, e-mail or phone resembles the term. A typo leaves most pieces intact.

>>> search_analysis("Hodzic", {("Customer", "Customer Name")}).filters.items[0].values
('hod',)
>>> similarity("hodzic amra", "Amra Hodžić")
1.0
"""

from __future__ import annotations

import difflib
import re
import unicodedata

import pandas as pd

from engine.analysis import Analysis, Condition, FilterGroup, Selected

AREA = "Campaigns"
NAME = ("Customer", "Customer Name")
EMAIL = ("Contact", "Email")
PHONE = ("Contact", "Mobile Phone")
SHOWN = (("Customer", "Customer Id"), ("Customer", "Customer Number"), NAME, EMAIL, PHONE)
SHOWN = (*SHOWN, ("Customer", "Distribution Area"))
MAX_PIECES = 12
CANDIDATES = 2_000


def fold(text: object) -> str:
    """Lower case without diacritics (đ is written dj): "Đula Hodžić" -> "djula hodzic".

    >>> fold("Đula Hodžić")
    'djula hodzic'
    """
    text = str(text or "").lower().replace("đ", "dj")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _digits(text: object) -> str:
    return re.sub(r"\D", "", str(text or ""))


def search_analysis(term: str, visible: set[tuple[str, str]]) -> Analysis | None:
    """The candidate request for `term` over the columns the user may see (None: nothing to
    search for)."""
    conditions: list[Condition] = []
    # Pieces of the term as typed and without diacritics: the database compares letters.
    words = re.findall(r"[\w@.-]+", f"{term.lower()} {fold(term)}")
    pieces = list(
        dict.fromkeys(
            w[i : i + 3] for w in words if not w.isdigit() for i in range(max(len(w) - 2, 1))
        )
    )[:MAX_PIECES]
    for folder, column in (NAME, EMAIL):
        if (folder, column) in visible:
            conditions += [Condition(folder, column, "contains", (p,)) for p in pieces]
    digits = _digits(term)
    if len(digits) >= 6 and PHONE in visible:
        conditions.append(Condition(*PHONE, "contains", (digits[-6:],)))
    if not conditions:
        return None
    columns = tuple(Selected(f, c) for f, c in SHOWN if (f, c) in visible)
    return Analysis(AREA, columns, FilterGroup("or", tuple(conditions)))


def similarity(term: str, value: object) -> float:
    """How alike two strings are, ignoring case, diacritics and word order (0 to 1)."""
    a, b = fold(term).strip(), fold(value).strip()
    if not a or not b:
        return 0.0
    ordered = difflib.SequenceMatcher(None, a, b).ratio()
    unordered = difflib.SequenceMatcher(
        None, " ".join(sorted(a.split())), " ".join(sorted(b.split()))
    )
    return round(max(ordered, unordered.ratio()), 3)


def rank(candidates: pd.DataFrame, term: str, top: int = 20) -> pd.DataFrame:
    """The `top` candidates most like `term`, with their score, best first."""
    if candidates.empty:
        return candidates.assign(score=[])
    digits = _digits(term)

    def score(row: pd.Series) -> float:
        best = similarity(term, row.get("Customer Name"))
        email = row.get("Email")
        if email:
            best = max(best, similarity(term, email), similarity(term, str(email).split("@")[0]))
        phone = _digits(row.get("Mobile Phone"))
        if len(digits) >= 6 and phone:
            tail = min(len(digits), 8)
            ratio = difflib.SequenceMatcher(None, digits[-tail:], phone[-tail:]).ratio()
            best = max(best, round(ratio, 3))
        return best

    ranked = candidates.assign(score=candidates.apply(score, axis=1))
    return ranked.sort_values("score", ascending=False, kind="stable").head(top)
