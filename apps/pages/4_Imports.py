"""Imports: upload a CSV or Excel file, check the preview and the header mapping, start the
import, follow its progress and download the rejected rows; past imports below.

Everything goes through the API (``/api/v1/imports``): the app only shows what it answers.
"""

from __future__ import annotations

import hashlib
import re
import time

import pandas as pd
import streamlit as st

from apps import ui
from apps.client import ApiError

session = ui.start("Imports")
api = session.api

SKIP = "(skip)"
POLICIES = {
    "skip": "Skip duplicates (keep the existing lead)",
    "update": "Update the existing lead with the file's values",
    "merge": "Merge: fill the existing lead's empty fields only",
}
POLL_SECONDS = 0.5
MAX_WAIT_SECONDS = 30 * 60
DONE = ("completed", "failed")


OBJECTS = {"leads": "Leads", "call_logs": "Call logs"}


def custom_field(column: str) -> str:
    """``custom.<key>``: keep a column no standard field takes in the record's custom fields."""
    key = re.sub(r"[^A-Za-z0-9_\-]+", "_", column.strip()).strip("_-").lower()[:64]
    return f"custom.{key or 'column'}"


def counts_row(imp: dict) -> None:
    cols = st.columns(5)
    for col, (key, label) in zip(
        cols,
        (
            ("total_rows", "Rows in file"),
            ("imported", "Imported"),
            ("updated", "Updated"),
            ("skipped_duplicates", "Duplicates skipped"),
            ("rejected", "Rejected"),
        ),
        strict=True,
    ):
        value = imp.get(key)
        col.metric(label, "–" if value is None else f"{value:,}", border=True)


def processed(imp: dict) -> int:
    return sum(
        int(imp.get(k) or 0) for k in ("imported", "updated", "skipped_duplicates", "rejected")
    )


def rejects_button(imp: dict, key: str) -> None:
    if not imp.get("rejected"):
        return
    cache = st.session_state.setdefault("imp_rejects", {})
    if imp["id"] not in cache:
        try:
            cache[imp["id"]] = api.import_rejects(imp["id"])
        except ApiError as e:
            ui.show_api_error(e, "Could not load the rejected rows")
            return
    st.download_button(
        f"Download rejected rows ({imp['rejected']:,}; CSV with a reason per row)",
        data=cache[imp["id"]],
        file_name=f"{imp['id']}-rejects.csv",
        mime="text/csv",
        key=key,
        on_click="ignore",
    )


def follow(import_id: str) -> dict:
    """Poll the import until it finishes, showing a progress bar; return its last status."""
    bar = st.progress(0.0, text="Queued ...")
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    while True:
        try:
            imp = api.import_status(import_id)
        except ApiError as e:
            bar.empty()
            ui.stop_on_error(e, "Could not read the import's status")
        total = imp.get("total_rows") or 0
        done = processed(imp)
        status = imp.get("status", "queued")
        if status in DONE:
            bar.progress(1.0, text=f"{status.capitalize()}: {done:,} of {total:,} rows processed")
            return imp
        fraction = min(done / total, 1.0) if total else 0.0
        bar.progress(
            fraction,
            text=f"{status.capitalize()} ... {done:,} of {total:,} rows"
            if total
            else f"{status.capitalize()} ...",
        )
        if time.monotonic() > deadline:
            st.warning("Still running; reopen this page later to see the result.")
            return imp
        time.sleep(POLL_SECONDS)


# --------------------------------------------------------------------------- new import

st.subheader("New import")
c1, c2 = st.columns([3, 1])
upload = c1.file_uploader(
    "CSV or Excel file", type=["csv", "tsv", "txt", "xlsx", "xls"], key="imp_file"
)
obj = c2.selectbox("Import as", list(OBJECTS), format_func=OBJECTS.get, key="imp_object")

if upload is not None:
    content = upload.getvalue()
    digest = hashlib.sha256(content).hexdigest() + ":" + obj
    if st.session_state.get("imp_preview_for") != digest:
        try:
            with st.spinner("Reading the file ..."):
                preview = api.preview_import(upload.name, content, obj)
        except ApiError as e:
            ui.stop_on_error(e, "The file cannot be imported")
        st.session_state["imp_preview"] = preview
        st.session_state["imp_preview_for"] = digest
        st.session_state.pop("imp_mapping", None)
    preview = st.session_state["imp_preview"]

    st.caption(
        f"Delimiter `{preview.get('delimiter')!s}` · encoding {preview.get('encoding')} · "
        f"about {preview.get('total_rows_estimate') or 0:,} rows"
    )
    columns = list(preview.get("columns") or [])
    sample = preview.get("sample_rows") or []
    if sample:
        sample_df = (
            pd.DataFrame(sample, columns=columns)
            if isinstance(sample[0], list | tuple)
            else pd.DataFrame(sample)
        )
        with st.expander(f"First {len(sample_df)} rows", expanded=False):
            st.dataframe(sample_df, hide_index=True, width="stretch")
    else:
        sample_df = pd.DataFrame(columns=columns)

    suggested = preview.get("suggested_mapping") or {}
    options = [
        SKIP,
        *dict.fromkeys(
            [
                *(preview.get("fields") or []),
                *(v for v in suggested.values() if v),
                *(custom_field(c) for c in columns if not suggested.get(c)),
            ]
        ),
    ]
    first_values = sample_df.iloc[0].to_dict() if len(sample_df) else {}
    mapping_df = pd.DataFrame(
        {
            "column": columns,
            "example": [
                "" if first_values.get(c) is None else str(first_values.get(c)) for c in columns
            ],
            "maps_to": [suggested.get(c) or SKIP for c in columns],
        }
    )
    st.markdown("**Map the file's columns** (change a row's *Maps to* to override):")
    edited = st.data_editor(
        mapping_df,
        key=f"imp_mapping_{digest[:12]}",
        hide_index=True,
        width="stretch",
        disabled=["column", "example"],
        column_config={
            "column": st.column_config.TextColumn("Column in the file"),
            "example": st.column_config.TextColumn("First value"),
            "maps_to": st.column_config.SelectboxColumn("Maps to", options=options, required=True),
        },
    )
    # Every column explicitly: a field, or None (ignored), so the import does what is shown.
    mapping: dict[str, str | None] = {
        str(r["column"]): (None if not r["maps_to"] or r["maps_to"] == SKIP else str(r["maps_to"]))
        for r in edited.to_dict("records")
    }
    policy = st.radio(
        "Duplicates (same email as an existing lead or an earlier row)",
        list(POLICIES),
        format_func=POLICIES.get,
        key="imp_policy",
        disabled=obj != "leads",
    )
    mapped = any(mapping.values())
    if not mapped:
        st.warning("Map at least one column.")
    if st.button("Start import", type="primary", disabled=not mapped, key="imp_start"):
        try:
            started = api.start_import(upload.name, content, obj, mapping, policy)
        except ApiError as e:
            ui.stop_on_error(e, "The import could not start")
        st.session_state["imp_current"] = started["id"]

current = st.session_state.get("imp_current")
if current:
    st.subheader(f"Import `{current}`")
    result = follow(current)
    counts_row(result)
    if result.get("status") == "failed":
        st.error(
            "The import failed: "
            + str(result.get("error") or result.get("detail") or "see the server log")
        )
    elif result.get("status") == "completed":
        st.success(
            f"Done: {result.get('imported') or 0:,} imported, {result.get('updated') or 0:,} "
            f"updated, {result.get('skipped_duplicates') or 0:,} duplicates skipped, "
            f"{result.get('rejected') or 0:,} rejected."
        )
    rejects_button(result, "imp_current_rejects")

# --------------------------------------------------------------------------- history

st.subheader("Past imports")
try:
    past = api.imports()
except ApiError as e:
    ui.stop_on_error(e, "Could not list the imports")
if not past:
    st.info("No imports yet.")
else:
    history = pd.DataFrame(past)
    for col in ("created_at", "finished_at"):
        if col in history.columns:
            history[col] = pd.to_datetime(history[col], utc=True, errors="coerce")
    shown = [
        c
        for c in (
            "id",
            "object",
            "file_name",
            "filename",
            "status",
            "total_rows",
            "imported",
            "updated",
            "skipped_duplicates",
            "rejected",
            "created_at",
            "finished_at",
        )
        if c in history.columns
    ]
    st.dataframe(
        history[shown],
        hide_index=True,
        width="stretch",
        column_config={
            "id": "Import",
            "object": "Object",
            "file_name": "File",
            "filename": "File",
            "status": "Status",
            "total_rows": st.column_config.NumberColumn("Rows", format="%d"),
            "imported": st.column_config.NumberColumn("Imported", format="%d"),
            "updated": st.column_config.NumberColumn("Updated", format="%d"),
            "skipped_duplicates": st.column_config.NumberColumn("Duplicates", format="%d"),
            "rejected": st.column_config.NumberColumn("Rejected", format="%d"),
            "created_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm"),
            "finished_at": st.column_config.DatetimeColumn("Finished", format="YYYY-MM-DD HH:mm"),
        },
    )
    with_rejects = [imp for imp in past if imp.get("rejected")]
    if with_rejects:
        by_id = {imp["id"]: imp for imp in with_rejects}
        pick = st.selectbox(
            "Rejected rows of",
            list(by_id),
            format_func=lambda i: f"{i} ({by_id[i]['rejected']:,} rejected)",
            key="imp_history_pick",
        )
        rejects_button(by_id[pick], "imp_history_rejects")
