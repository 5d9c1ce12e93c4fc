"""Dashboards: saved reports as widgets on a grid (rows by ``y``, widths by ``w`` of 12), the
layout editor, templates, the whole dashboard as one PDF, and share links."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from apps import ui
from apps.client import ApiError

session = ui.start("Dashboards")
api = session.api

try:
    boards = api.get("/dashboards", {"limit": 100})["data"]
    reports = {r["id"]: r for r in api.get("/reports", {"limit": 100})["data"]}
    templates = api.get("/dashboard-templates")["data"]
except ApiError as e:
    ui.stop_on_error(e, "loading the dashboards")

with st.sidebar.expander("New dashboard from a template"):
    key = st.selectbox("Template", [t["key"] for t in templates], key="db_template",
                       format_func=lambda k: next(t["name"] for t in templates if t["key"] == k))  # fmt: skip
    vis = st.radio("Visible to", ["personal", "team"], horizontal=True, key="db_visibility")
    if st.button("Create", key="db_create"):
        try:
            api.post(f"/dashboard-templates/{key}/dashboards", json={"visibility": vis})
            st.rerun()
        except ApiError as e:
            ui.show_api_error(e, "creating the dashboard")

if not boards:
    st.info("No dashboards yet: create one from a template (sidebar).")
    st.stop()

pick = st.selectbox("Dashboard", [b["id"] for b in boards], key="db_pick",
                    format_func=lambda i: next(b["name"] for b in boards if b["id"] == i))  # fmt: skip
board = next(b for b in boards if b["id"] == pick)
widgets = sorted(board["layout"], key=lambda w: (w["y"], w["x"]))


def widget(w: dict[str, Any]) -> None:
    report = reports.get(w["report_id"])
    if report is None:
        st.warning("A report you can no longer see.")
        return
    st.subheader(report["name"])
    try:
        result = api.post(f"/reports/{w['report_id']}/run", params={"limit": 500})
    except ApiError as e:
        ui.show_api_error(e, "running the report")
        return
    df = pd.DataFrame(result["data"], columns=[c["name"] for c in result["columns"]])
    chart = w.get("chart") or report["chart"]
    dims = [c["name"] for c in result["columns"] if c["role"] == "dimension"]
    nums = [c["name"] for c in result["columns"] if c["role"] == "metric"]
    if chart == "kpi" or not dims:
        for name in nums:
            st.metric(name, str((result.get("totals") or {}).get(name, "—")))
    elif chart in ("bar", "line", "funnel") and not df.empty:
        data = df.set_index(dims[0])[nums[:1]].apply(pd.to_numeric, errors="coerce")
        (st.line_chart if chart == "line" else st.bar_chart)(data, height=220)
    else:
        st.dataframe(df, hide_index=True, width="stretch", height=220)


for y in sorted({w["y"] for w in widgets}):
    row = [w for w in widgets if w["y"] == y]
    cols = st.columns([max(1, w["w"]) for w in row])
    for col, w in zip(cols, row, strict=True):
        with col:
            widget(w)

st.divider()
left, right = st.columns(2)
with left:
    st.markdown("**Layout** (x, y on a 12-column grid; w, h in cells)")
    edited = st.data_editor(pd.DataFrame(board["layout"], columns=["report_id", "x", "y", "w", "h", "chart"]),
                            num_rows="dynamic", key="db_layout", hide_index=True)  # fmt: skip
    if st.button("Save layout", key="db_save_layout"):
        layout = [
            {k: (int(v) if k in "xywh" else v) for k, v in r.items() if v is not None and v == v}
            for r in edited.to_dict("records")
        ]
        try:
            api.request("PATCH", f"/dashboards/{pick}", json={"layout": layout},
                        headers={"If-Match": f'"{board["version"]}"'})  # fmt: skip
            st.rerun()
        except ApiError as e:
            ui.show_api_error(e, "saving the layout")
with right:
    if st.button("Prepare PDF", key="db_pdf"):
        try:
            pdf = api.request("GET", f"/dashboards/{pick}/export", params={"format": "pdf"}).content
            st.download_button("Download PDF", pdf, file_name=f"{board['name']}.pdf")
        except ApiError as e:
            ui.show_api_error(e, "rendering the PDF")
    days = st.number_input("Share for (days)", 1, 365, 7, key="db_share_days")
    if st.button("Create a share link", key="db_share"):
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=int(days))
        try:
            link = api.post(
                "/share-links", json={"dashboard_id": pick, "expires_at": until.isoformat()}
            )
            st.code(link["url"])
            st.caption(
                "Anyone with this link sees the dashboard read-only until it expires or you revoke it."
            )
        except ApiError as e:
            ui.show_api_error(e, "sharing the dashboard")
