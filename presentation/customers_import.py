"""Import customers from a CSV file: format, mapping, preview, import, rejects, batches.

The page is a shell over `customers`: `sniff` detects the format, the mapping editor builds a
`Mapping` that `parse_mapping` checks, `preview` shows the first rows mapped, `import_csv`
stages the file (accepted + rejected = read, always) and `export_rejects` gives the rejects.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import re
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from customers import (
    CustomerError,
    Mapping,
    export_rejects,
    get_mapping,
    import_csv,
    list_mappings,
    parse_mapping,
    preview,
    save_mapping,
    sniff,
)
from customers.attributes import ATTRIBUTES, Kind
from customers.entry_check import entry_checker
from customers.hub import default_hub_path, read_hub
from customers.lookup import batches
from engine import Engine
from physical.settings import data_folder
from presentation import hub, state

ENCODINGS = ("utf-8", "utf-8-sig", "cp1250", "latin-1", "utf-16")
DELIMITERS = {",": "comma ,", ";": "semicolon ;", "\t": "tab", "|": "pipe |"}
CASES = ("", "upper", "lower", "title")
ON_ERROR = ("reject", "null", "keep")
# Source column names that say which attribute they hold, beyond the attributes' own names.
ALIASES = {
    "e-mail": "email",
    "mail": "email",
    "mobile": "phone",
    "mobitel": "phone",
    "tel": "phone",
    "telephone": "phone",
    "surname": "last_name",
    "ime": "first_name",
    "prezime": "last_name",
    "birth": "date_of_birth",
    "born": "date_of_birth",
    "id": "source_key",
    "zip": "postal_code",
}
VERSION = "ci_ver"  # bumped when the editor's starting rows change (new file, loaded mapping)
RESULT = "ci_result"


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("Import customers")
    if not hub.may_steward(eng, user):
        return
    path = _source()
    if path is not None:
        _file(eng, user, path)
    _result()
    _batches()


def _source() -> Path | None:
    how = st.radio("File", ["Upload", "Path on the server"], horizontal=True, key="ci_how")
    if how == "Upload":
        upload = st.file_uploader("CSV file", type=["csv", "txt"], key="ci_upload")
        return _saved_upload(upload.name, upload.getvalue()) if upload else None
    text = st.text_input("Path", key="ci_path", placeholder="/data/exports/crm.csv").strip()
    if not text:
        return None
    if not Path(text).is_file():
        st.error(f"{text}: no such file on the server")
        return None
    return Path(text)


def _saved_upload(name: str, data: bytes) -> Path:
    # Named by content and written once: the same upload is the same file (path, size and
    # modification time), so importing it again resumes or is a no-op instead of a new batch.
    digest = hashlib.sha256(data).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name)
    path = data_folder() / "uploads" / f"{digest}-{safe}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def _file(eng: Engine, user: str | None, path: Path) -> None:
    try:
        detected = sniff(path)
    except CustomerError as e:
        st.error(str(e))
        return
    cells = st.columns(2)
    encodings = list(dict.fromkeys((detected.encoding, *ENCODINGS)))
    encoding = cells[0].selectbox(
        "Encoding",
        encodings,
        format_func=lambda e: f"{e} (detected)" if e == detected.encoding else e,
        key=f"ci_enc::{path.name}",
    )
    delimiters = list(dict.fromkeys((detected.delimiter, *DELIMITERS)))
    delimiter = cells[1].selectbox(
        "Delimiter",
        delimiters,
        format_func=lambda d: (
            DELIMITERS.get(d, repr(d)) + (" (detected)" if d == detected.delimiter else "")
        ),
        key=f"ci_delim::{path.name}",
    )
    header = _header(path, encoding, delimiter)
    if header is None:
        return
    st.caption(f"{path.name}: {len(header)} columns: {', '.join(header)}")
    mapping = _mapping(eng, user, header)
    if mapping is None:
        return
    _preview(path, mapping, encoding, delimiter)
    _import(eng, user, path, mapping, encoding, delimiter)


def _header(path: Path, encoding: str, delimiter: str) -> tuple[str, ...] | None:
    try:
        with open(path, encoding=encoding, newline="") as f:
            header = next(csv.reader(f, delimiter=delimiter), [])
    except (UnicodeDecodeError, LookupError) as e:
        st.error(f"{path.name} cannot be read as {encoding}: {e}; pick another encoding.")
        return None
    header = tuple(h.strip() for h in header)
    if not any(header):
        st.error(f"{path.name}: the file is empty (no header row).")
        return None
    return header


def _mapping(eng: Engine, user: str | None, header: tuple[str, ...]) -> Mapping | None:
    st.subheader("Mapping")
    store = state.store(eng)
    saved = [m.name for m in list_mappings(store)]
    load = st.columns([3, 1])
    chosen = load[0].selectbox("Saved mapping", ["", *saved], key="ci_saved")
    if load[1].button("Load", key="ci_load", disabled=not chosen):
        loaded = get_mapping(store, chosen)
        st.session_state.update(
            ci_base=_rows(header, loaded),
            ci_header=header,
            ci_name=loaded.name,
            ci_system=loaded.source,
        )
        st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1
        st.rerun()
    if st.session_state.get("ci_header") != header:
        st.session_state.update(ci_base=_rows(header, None), ci_header=header)
        st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1
    names = st.columns(2)
    name = names[0].text_input("Mapping name", key="ci_name")
    system = names[1].text_input("Source system", key="ci_system", placeholder="csv")
    edited = st.data_editor(
        st.session_state["ci_base"],
        key=f"ci_mapping_{st.session_state[VERSION]}",
        hide_index=True,
        width="stretch",
        column_config={
            "attribute": st.column_config.TextColumn("attribute", disabled=True),
            "column": st.column_config.SelectboxColumn("source column", options=["", *header]),
            "trim": st.column_config.CheckboxColumn("trim"),
            "case": st.column_config.SelectboxColumn("case", options=list(CASES)),
            "date format": st.column_config.TextColumn("date format", help="e.g. %d.%m.%Y"),
            "phone": st.column_config.CheckboxColumn("phone to E.164"),
            "country code": st.column_config.TextColumn("country code", help="e.g. 387"),
            "email": st.column_config.CheckboxColumn("e-mail check"),
            "required": st.column_config.CheckboxColumn("required"),
            "on error": st.column_config.SelectboxColumn("on error", options=list(ON_ERROR)),
        },
    )
    try:
        mapping = parse_mapping(_spec(edited, name, system))
    except CustomerError as e:
        st.error(str(e))
        return None
    if st.button("Save mapping", key="ci_save"):
        if not name.strip():
            st.error("Give the mapping a name to save it under.")
        else:
            save_mapping(store, mapping, state.owner(eng, user))
            st.success(f"Saved mapping {mapping.name!r} ({len(mapping.fields)} fields)")
    return mapping


def _rows(header: tuple[str, ...], mapping: Mapping | None) -> pd.DataFrame:
    """The editor's starting rows: one per attribute, from `mapping` or guessed from names."""
    by_target = {f.target: f for f in mapping.fields} if mapping else {}
    guessed = {} if mapping else _guess(header)
    rows = []
    for name in ATTRIBUTES:
        field = by_target.get(name)
        transforms = field.transforms if field else _default_transforms(name, guessed)
        parts = dict(t.partition(":")[::2] for t in transforms)
        rows.append(
            {
                "attribute": name,
                "column": field.column if field else guessed.get(name, ""),
                "trim": "trim" in parts,
                "case": next((c for c in CASES[1:] if c in parts), ""),
                "date format": parts.get("date", ""),
                "phone": "phone" in parts,
                "country code": parts.get("phone", ""),
                "email": "email" in parts,
                "required": bool(field and field.required),
                "on error": field.on_error.value if field else "reject",
            }
        )
    return pd.DataFrame(rows)


def _guess(header: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for column in header:
        key = re.sub(r"[\s_]+", "_", column.strip().lower())
        target = ALIASES.get(key) or ALIASES.get(key.replace("_", "-"))
        if target is None:
            close = difflib.get_close_matches(key, list(ATTRIBUTES), n=1, cutoff=0.8)
            target = close[0] if close else None
        if target and target not in found:
            found[target] = column
    return found


def _default_transforms(name: str, guessed: dict[str, str]) -> tuple[str, ...]:
    if name not in guessed or ATTRIBUTES[name].kind is Kind.DATE:
        return ()
    return {"email": ("trim", "email"), "phone": ("phone",)}.get(name, ("trim",))


def _spec(frame: pd.DataFrame, name: str, system: str) -> dict:
    fields = {}
    for row in frame.to_dict("records"):
        if not row.get("column"):
            continue
        transforms = ["trim"] if row.get("trim") else []
        if row.get("case"):
            transforms.append(row["case"])
        if (row.get("date format") or "").strip():
            transforms.append(f"date:{row['date format'].strip()}")
        if row.get("phone"):
            code = (row.get("country code") or "").strip()
            transforms.append(f"phone:{code}" if code else "phone")
        if row.get("email"):
            transforms.append("email")
        fields[row["attribute"]] = {
            "column": row["column"],
            "transforms": transforms,
            "required": bool(row.get("required")),
            "on_error": row.get("on error") or "reject",
        }
    return {"name": name.strip() or "unsaved", "source": system.strip() or "csv", "fields": fields}


def _preview(path: Path, mapping: Mapping, encoding: str, delimiter: str) -> None:
    st.subheader("Preview")
    try:
        df = preview(path, mapping, 10, encoding, delimiter)
    except CustomerError as e:
        st.error(str(e))
        return
    shown = [f.target for f in mapping.fields]
    df = df[["row_number", "line", *shown, "reasons"]].copy()
    df.insert(2, "outcome", ["rejected" if r else "accepted" for r in df["reasons"]])
    df["reasons"] = df["reasons"].map("; ".join)
    for name in shown:
        if ATTRIBUTES[name].kind is Kind.DATE:
            df[name] = pd.to_datetime(df[name]).dt.date  # a date, not midnight of it
    st.dataframe(df, hide_index=True, width="stretch", key="ci_preview")
    st.caption("The first 10 rows as the mapping stages them; nothing is written.")


def _import(
    eng: Engine, user: str | None, path: Path, mapping: Mapping, encoding: str, delimiter: str
) -> None:
    st.subheader("Import")
    hold = st.checkbox(
        "Hold rows that likely duplicate a customer for review (needs a duplicate run)",
        key="ci_hold",
    )
    if not st.button("Import", key="ci_import", type="primary"):
        return
    try:
        with hub.opened(eng) as h, st.spinner(f"Importing {path.name}…"):
            checker = entry_checker(h) if hold else None
            result = import_csv(
                h, path, mapping, encoding=encoding, delimiter=delimiter, checker=checker
            )
            with tempfile.TemporaryDirectory() as folder:
                out = Path(folder) / "rejects.csv"
                export_rejects(h, result.batch_id, out)
                rejects = out.read_bytes()
    except CustomerError as e:
        st.error(str(e))
        return
    st.session_state[RESULT] = (result, rejects)


def _result() -> None:
    found = st.session_state.get(RESULT)
    if found is None:
        return
    result, rejects = found
    held = f", {result.held_for_review} of them held for review" if result.held_for_review else ""
    again = " (imported before: nothing to do)" if result.resumed_from == result.rows_read else ""
    st.success(
        f"Batch {result.batch_id}: {result.rows_read} read = {result.accepted} accepted + "
        f"{result.rejected} rejected{held}{again}"
    )
    if result.rejected:
        st.download_button(
            f"Download the {result.rejected} rejected row(s) as CSV",
            rejects,
            file_name=f"rejects-{result.batch_id}.csv",
            mime="text/csv",
            key="ci_rejects",
        )


def _batches() -> None:
    st.subheader("Batches")
    # Read-only, and only for the read: a page view must never take the writer's lock, or an
    # import in another process (the CLI, a scheduled job) would fail while someone looks.
    try:
        h = read_hub(default_hub_path())
    except (CustomerError, duckdb.Error) as e:  # a writer holds it (here: another session)
        st.info(f"The batches cannot be listed now: {e}")
        return
    if h is None:
        st.info("No file imported yet.")
        return
    with h:
        found = batches(h)
        if found.empty:
            st.info("No file imported yet.")
            return
        st.dataframe(found, hide_index=True, width="stretch", key="ci_batches")
        with_rejects = found.loc[found["rejected"] > 0, "batch"].tolist()
        if not with_rejects:
            return
        cells = st.columns([3, 2])
        batch = cells[0].selectbox("Rejects of batch", with_rejects, key="ci_reject_batch")
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "rejects.csv"
            count = export_rejects(h, batch, out)
            data = out.read_bytes()
    cells[1].download_button(
        f"Download {count} rejected row(s)",
        data,
        file_name=f"rejects-{batch}.csv",
        mime="text/csv",
        key="ci_batch_rejects",
    )
