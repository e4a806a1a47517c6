"""What changed between two versions of a model, layer by layer."""

from __future__ import annotations

from dataclasses import dataclass

from semantic.model import Model


@dataclass(frozen=True)
class Change:
    layer: str  # physical | business | presentation | security
    kind: str  # added | removed | renamed | changed
    item: str  # what changed, e.g. 'column "Customer"."Customer Name"'
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.layer:12} {self.kind:8} {self.item}" + (
            f": {self.detail}" if self.detail else ""
        )


def diff_models(old: Model, new: Model) -> tuple[Change, ...]:
    """Every difference between `old` and `new`; a removal and an addition that mean the same
    (same mapping or formula) is one rename.

    >>> from semantic import load_model
    >>> m = load_model("models/demo")
    >>> diff_models(m, m)
    ()
    """
    business = _business(old, new)
    # A presentation column over a renamed logical column still shows the same data.
    renamed = {
        c.item.removeprefix("column "): c.detail.removeprefix("now ")
        for c in business
        if c.kind == "renamed"
    }
    return (
        *_physical(old, new),
        *business,
        *_presentation(old, new, renamed),
        *_security(old, new),
    )


def _compare(layer: str, noun: str, old: dict, new: dict, rename_key=None) -> list[Change]:
    """Changes between two {name: description} maps; equal descriptions pair a rename."""
    changes = []
    removed = [n for n in old if n not in new]
    added = [n for n in new if n not in old]
    if rename_key is not None:
        for name in list(removed):
            twin = next((a for a in added if rename_key(new[a]) == rename_key(old[name])), None)
            if twin is not None:
                changes.append(Change(layer, "renamed", f"{noun} {name}", f"now {twin}"))
                removed.remove(name)
                added.remove(twin)
    changes += [Change(layer, "removed", f"{noun} {n}") for n in removed]
    changes += [Change(layer, "added", f"{noun} {n}") for n in added]
    changes += [
        Change(layer, "changed", f"{noun} {n}", f"{old[n]} -> {new[n]}")
        for n in old
        if n in new and old[n] != new[n]
    ]
    return changes


def _q(*parts: str) -> str:
    return ".".join(f'"{p}"' for p in parts)


def _physical(old: Model, new: Model) -> list[Change]:
    def columns(model: Model) -> dict:
        return {_q(t.name, c): kind for t in model.tables for c, kind in t.columns}

    def joins(model: Model) -> dict:
        def name(j) -> str:
            return f"{j.many}({', '.join(j.many_columns)}) -> {j.one}({', '.join(j.one_columns)})"

        return {name(j): j.cardinality.value for j in model.joins}

    tables = _compare(
        "physical", "table", *({t.name: t.table for t in m.tables} for m in (old, new))
    )
    return [
        *tables,
        *_compare("physical", "column", columns(old), columns(new)),
        *_compare("physical", "join", joins(old), joins(new)),
    ]


def _business(old: Model, new: Model) -> list[Change]:
    def columns(model: Model) -> dict:
        return {
            _q(c.table, c.name): " ".join(
                part
                for part in (
                    c.expr.sql() if c.expr is not None else "",
                    c.formula.sql() if c.formula is not None else "",
                    c.aggregation.value if c.aggregation else "",
                )
                if part
            )
            for t in model.logical_tables
            for c in t.columns
        }

    def sources(model: Model) -> dict:
        return {
            f"{t.name}/{s.name}": ", ".join(s.tables)
            for t in model.logical_tables
            for s in t.sources
        }

    tables = {t.name: t.kind.value for t in old.logical_tables}
    new_tables = {t.name: t.kind.value for t in new.logical_tables}
    return [
        *_compare("business", "logical table", tables, new_tables),
        *_compare("business", "column", columns(old), columns(new), rename_key=lambda d: d),
        *_compare("business", "source", sources(old), sources(new)),
    ]


def presentation_columns(model: Model) -> dict[str, str]:
    """'"Area"."Folder"."Column"' -> the logical column it shows, with its roles."""
    return {
        _q(a.name, c.folder, c.name): _q(c.table, c.column)
        + (f" roles {', '.join(sorted(c.roles))}" if c.roles else "")
        for a in model.subject_areas
        for c in a.columns()
    }


def _presentation(old: Model, new: Model, renamed: dict[str, str]) -> list[Change]:
    def areas(model: Model) -> dict:
        return {a.name: ", ".join(sorted(a.roles)) or "everyone" for a in model.subject_areas}

    def folders(model: Model) -> dict:
        return {
            _q(a.name, f.name): ", ".join(sorted(f.roles)) or "everyone"
            for a in model.subject_areas
            for f in a.folders
        }

    return [
        *_compare("presentation", "subject area", areas(old), areas(new)),
        *_compare("presentation", "folder", folders(old), folders(new)),
        *_compare(
            "presentation",
            "column",
            {
                name: next((renamed[r] + d[len(r) :] for r in renamed if d.startswith(r)), d)
                for name, d in presentation_columns(old).items()
            },
            presentation_columns(new),
            rename_key=lambda d: d,
        ),
    ]


def _security(old: Model, new: Model) -> list[Change]:
    def users(model: Model) -> dict:
        return {u.name: ", ".join(u.roles) for u in model.security.users}

    def filters(model: Model) -> dict:
        return {
            f"{f.role} on {f.table}": f.condition.sql() if f.condition is not None else ""
            for f in model.security.row_filters
        }

    roles = {r.name: "administrator" if r.administrator else "role" for r in old.security.roles}
    new_roles = {r.name: "administrator" if r.administrator else "role" for r in new.security.roles}
    return [
        *_compare("security", "role", roles, new_roles),
        *_compare("security", "user", users(old), users(new)),
        *_compare("security", "row filter", filters(old), filters(new)),
    ]
