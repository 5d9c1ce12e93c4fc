"""Lead explorer: filter the team's leads through the API list (``filter[...]``, ``sort``,
cursor pages), the total count of the matches, the columns you choose, rows that open the
lead's record page, and an export of every matching lead (``GET /api/v1/leads/export``) with
owners by name."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import pandas as pd
import streamlit as st

from apps import fmt, lookup, record, ui
from apps.client import ApiClient, ApiError, list_params
from warehouse.models.crm import LEAD_STATUSES

session = ui.start("Lead explorer")
api = session.api

SORTS = {
    "Newest first": "-created_at",
    "Oldest first": "created_at",
    "Best rated": "-rating",
    "Most reviews": "-reviews_count",
    "Best website score": "-website_score",
    "Company A–Z": "company_name",
    "Last name A–Z": "last_name",
}
FIELDS = (
    "first_name",
    "last_name",
    "email",
    "company_name",
    "status",
    "source",
    "rating",
    "reviews_count",
    "industry",
    "location",
    "owner_id",
    "created_at",
)
EXPORT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}


names = lookup.members(api, session.team_id)


@st.cache_data(ttl=30, show_spinner=False)
def count(token: str, query: tuple[tuple[str, str], ...]) -> int:
    """How many leads match (the list's ids, 1,000 a page: the API has no count)."""
    params = {**dict(query), **list_params(fields=["id"], limit=1000)}
    return sum(1 for _ in ApiClient(token).iter_pages("/leads", params))


def with_names(content: bytes, kind: str) -> bytes:
    """The API's export with the owner's name beside its id (same format)."""
    read = {"csv": pd.read_csv, "xlsx": pd.read_excel, "parquet": pd.read_parquet}[kind]
    df = read(io.BytesIO(content))
    if "owner_id" in df.columns:
        at = list(df.columns).index("owner_id") + 1
        df.insert(at, "owner", df["owner_id"].map(lambda i: names.get(i, "") if i else ""))
    out = io.BytesIO()
    {"csv": lambda: df.to_csv(out, index=False), "xlsx": lambda: df.to_excel(out, index=False),
     "parquet": lambda: df.to_parquet(out, index=False)}[kind]()  # fmt: skip
    return out.getvalue()


with st.form("lead_filters"):
    c1, c2, c3 = st.columns(3)
    status = c1.multiselect("Status", LEAD_STATUSES, key="lx_status")
    sources = c2.text_input("Sources (comma-separated)", key="lx_sources")
    owner = c3.selectbox(
        "Owner",
        ["", *sorted(names, key=lambda i: names[i])],
        format_func=lambda i: names.get(i, "Anyone"),
        key="lx_owner",
    )
    c4, c5, c6 = st.columns(3)
    company = c4.text_input("Company contains", key="lx_company")
    email = c5.text_input("Email contains", key="lx_email")
    min_rating = c6.number_input(
        "Minimum rating", min_value=0.0, max_value=5.0, step=0.5, format="%.1f", key="lx_rating"
    )
    c7, c8, c9 = st.columns(3)
    created = c7.date_input("Created between", value=(), key="lx_created", format="YYYY-MM-DD")
    sort_label = c8.selectbox("Sort", list(SORTS), key="lx_sort")
    page_size = c9.selectbox("Rows per page", [10, 25, 50, 100, 250], index=2, key="lx_limit")
    shown_fields = st.multiselect(
        "Columns",
        [f for f in FIELDS if f not in ("first_name", "last_name")],
        default=["email", "company_name", "status", "source", "owner_id", "created_at"],
        format_func=lambda f: "Owner" if f == "owner_id" else fmt.label(f),
        key="lx_columns",
    )
    st.form_submit_button("Apply filters", type="primary")

filters: dict[str, object] = {
    "status__in": status,
    "source__in": [s.strip() for s in sources.split(",") if s.strip()],
    "owner_id": owner or None,
    "company_name__contains": company.strip(),
    "email__contains": email.strip(),
    "rating__gte": min_rating or None,
}
if isinstance(created, tuple | list) and created:
    first = created[0]
    last = created[1] if len(created) > 1 else created[0]
    filters["created_at__gte"] = dt.datetime.combine(first, dt.time(), dt.UTC).isoformat()
    filters["created_at__lt"] = dt.datetime.combine(
        last + dt.timedelta(days=1), dt.time(), dt.UTC
    ).isoformat()
query = list_params(filters, sort=SORTS[sort_label])

# Cursor pages: a stack of the cursors that opened each page, reset when the query changes.
signature = hashlib.sha256(json.dumps([query, page_size], sort_keys=True).encode()).hexdigest()
if st.session_state.get("lx_signature") != signature:
    st.session_state["lx_signature"] = signature
    st.session_state["lx_cursors"] = [None]
    st.session_state.pop("lx_export", None)
cursors: list[str | None] = st.session_state["lx_cursors"]

try:
    page = api.list(
        "leads",
        {
            **query,
            **list_params(fields=FIELDS, limit=page_size, cursor=cursors[-1]),
        },
    )
except ApiError as e:
    ui.stop_on_error(e, "Could not list the leads")

rows = page.get("data", [])
page_no = len(cursors)
if not rows:
    st.info("No leads match these filters." if page_no == 1 else "No more leads.")
else:
    zone = ui.zone()
    desc = lookup.objects.OBJECTS["leads"]
    table = pd.DataFrame(
        [
            {
                "Lead": fmt.record_url(r["id"]) + "#" + desc.name(r),
                **{
                    ("Owner" if f == "owner_id" else fmt.label(f)): (
                        names.get(r[f], "") if f == "owner_id" and r[f] else
                        fmt.when(r[f], zone) if f == "created_at" else
                        fmt.label(r[f]) if f == "status" else r[f]
                    )
                    for f in shown_fields
                },
            }
            for r in rows
        ]
    )  # fmt: skip
    try:
        total = count(session.token, tuple(sorted(query.items())))
    except ApiError as e:
        ui.stop_on_error(e, "Counting the leads")
    st.caption(
        f"{total:,} leads match · page {page_no} · rows {(page_no - 1) * page_size + 1:,}–"
        f"{(page_no - 1) * page_size + len(rows):,} · click a row to open the lead"
    )
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="lx_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "Lead": st.column_config.LinkColumn("Lead", display_text=r"#(.*)$"),
            "Rating": st.column_config.NumberColumn("Rating", format="%.1f"),
            "Reviews count": st.column_config.NumberColumn("Reviews", format="%d"),
        },
    )
    if event is not None and event.selection.rows:
        st.switch_page(record.RECORD_PAGE, query_params={"id": rows[event.selection.rows[0]]["id"]})

prev_col, next_col, _ = st.columns([1, 1, 6])
if prev_col.button("← Previous", disabled=page_no == 1, key="lx_prev"):
    cursors.pop()
    st.rerun()
if next_col.button("Next →", disabled=not page.get("has_more"), key="lx_next"):
    cursors.append(page["next_cursor"])
    st.rerun()

st.subheader("Export")
st.caption("Every lead matching the filters above, not only this page.")
e1, e2, e3 = st.columns([1, 1, 2])
kind = e1.selectbox("Format", list(EXPORT_TYPES), key="lx_export_format")
if e2.button("Prepare export", key="lx_export_prepare"):
    try:
        with st.spinner("Exporting ..."):
            content = with_names(api.export_leads(kind, query), kind)
    except ApiError as e:
        ui.show_api_error(e, "Export failed")
    else:
        st.session_state["lx_export"] = (kind, content)
prepared = st.session_state.get("lx_export")
if prepared:
    fmt_done, content = prepared
    e3.download_button(
        f"Download leads.{fmt_done} ({len(content):,} bytes)",
        data=content,
        file_name=f"leads-{dt.date.today():%Y%m%d}.{fmt_done}",
        mime=EXPORT_TYPES[fmt_done],
        key="lx_export_download",
        on_click="ignore",
        type="primary",
    )
