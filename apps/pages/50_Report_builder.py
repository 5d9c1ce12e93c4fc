"""Report builder: choose metrics, dimensions, filters, time grain, comparison and chart from
the semantic layer's catalogue, preview the result, save it; open, run and export saved
reports; start from a template. Everything goes through the API (``/api/v1/reports``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from apps import ui
from apps.client import ApiError

session = ui.start("Report builder")
api = session.api

try:
    metrics = api.get("/semantic/metrics")["data"]
    dimensions = api.get("/semantic/dimensions")["data"]
    saved = api.get("/reports", {"limit": 100})["data"]
    templates = api.get("/report-templates")["data"]
except ApiError as e:
    ui.stop_on_error(e, "loading the catalogue")

metric_labels = {m["name"]: m["label"] for m in metrics}
dim_labels = {d["name"]: d["label"] for d in dimensions}
time_dims = [d["name"] for d in dimensions if d["type"] == "time"]
CHARTS = ["table", "bar", "line", "pie", "funnel", "heatmap", "kpi"]


def chart_of(df: pd.DataFrame, columns: list[dict[str, Any]], chart: str) -> alt.Chart | None:
    dims = [c for c in columns if c["role"] == "dimension"]
    nums = [c for c in columns if c["role"] == "metric"]
    if df.empty or not dims or not nums or chart in ("table", "kpi"):
        return None
    x, y = dims[0]["name"], nums[0]["name"]
    data = df.assign(**{y: pd.to_numeric(df[y], errors="coerce")})
    if chart == "pie":
        return alt.Chart(data).mark_arc().encode(theta=f"{y}:Q", color=f"{x}:N")
    if chart == "heatmap" and len(dims) > 1:
        return (
            alt.Chart(data).mark_rect().encode(x=f"{x}:O", y=f"{dims[1]['name']}:O", color=f"{y}:Q")
        )
    if chart == "funnel":
        return alt.Chart(data).mark_bar().encode(y=alt.Y(f"{x}:N", sort="-x"), x=f"{y}:Q")
    kind = "temporal" if dims[0]["type"] == "time" else "nominal"
    mark = alt.Chart(data).mark_line(point=True) if chart == "line" else alt.Chart(data).mark_bar()
    enc: dict[str, Any] = {"x": alt.X(x, type=kind), "y": alt.Y(f"{y}:Q")}
    if len(dims) > 1:
        enc["color"] = f"{dims[1]['name']}:N"
    return mark.encode(**enc)


def show(result: dict[str, Any], chart: str) -> None:
    df = pd.DataFrame(result["data"], columns=[c["name"] for c in result["columns"]])
    as_of = result.get("data_as_of")
    st.caption(
        f"Data as of {as_of} (UTC)" if as_of else "The report's models have not been built yet."
    )
    if result.get("totals"):
        cols = st.columns(min(4, len(result["totals"])) or 1)
        for i, (name, value) in enumerate(result["totals"].items()):
            cols[i % len(cols)].metric(
                metric_labels.get(name, name),
                f"{value:,.2f}"
                if isinstance(value, float)
                else f"{value:,}"
                if isinstance(value, int)
                else str(value),
            )
    drawn = chart_of(df, result["columns"], chart)
    if drawn is not None:
        st.altair_chart(drawn.properties(height=320), width="stretch")
    st.dataframe(df, hide_index=True, width="stretch")
    if result.get("has_more"):
        st.info("More rows than one page: export the report for every row.")


build, open_saved = st.tabs(["Build", "Saved reports"])

with build:
    chosen = st.multiselect("Metrics", list(metric_labels), format_func=metric_labels.get, key="rb_metrics",
                            default=["leads_created"] if "leads_created" in metric_labels else None)  # fmt: skip
    usable = sorted(
        set.intersection(*(set(m["dimensions"]) for m in metrics if m["name"] in chosen))
        if chosen
        else set()
    )
    dims = st.multiselect("Dimensions", usable, format_func=dim_labels.get, key="rb_dims")
    c1, c2, c3 = st.columns(3)
    grain = c1.selectbox(
        "Time grain", ["day", "week", "month", "quarter", "year"], index=2, key="rb_grain"
    )
    chart = c2.selectbox("Chart", CHARTS, index=1, key="rb_chart")
    compare = c3.selectbox(
        "Compare to", ["—", "previous_period", "same_period_last_year"], key="rb_compare"
    )
    period_dims = [d for d in time_dims if d in usable]
    filters: list[dict[str, Any]] = []
    if period_dims:
        p1, p2 = st.columns(2)
        period_dim = p1.selectbox(
            "Period of", period_dims, format_func=dim_labels.get, key="rb_period_dim"
        )
        today = dt.date.today()
        period = p2.date_input("Period", (today - dt.timedelta(days=89), today), key="rb_period")
        if isinstance(period, tuple) and len(period) == 2:
            filters.append(
                {
                    "dimension": period_dim,
                    "op": "between",
                    "value": [period[0].isoformat(), period[1].isoformat()],
                }
            )
    definition: dict[str, Any] = {"metrics": chosen, "dimensions": dims, "filters": filters,
                                  "time_grain": grain, "chart": chart}  # fmt: skip
    if compare != "—":
        definition["compare_to"] = compare
    if chosen:
        try:
            show(api.post("/reports/run", json=definition), chart)
        except ApiError as e:
            ui.show_api_error(e, "running the report")
        with st.form("rb_save"):
            name = st.text_input("Name", key="rb_name")
            visibility = st.radio(
                "Visible to", ["personal", "team"], horizontal=True, key="rb_visibility"
            )
            if st.form_submit_button("Save report") and name.strip():
                try:
                    api.post(
                        "/reports", json={**definition, "name": name, "visibility": visibility}
                    )
                    st.success(f"Saved “{name}”.")
                except ApiError as e:
                    ui.show_api_error(e, "saving the report")
    with st.expander("Start from a template"):
        t = st.selectbox("Template", [x["key"] for x in templates], key="rb_template",
                         format_func=lambda k: next(x["name"] for x in templates if x["key"] == k))  # fmt: skip
        if st.button("Save as my report", key="rb_from_template"):
            try:
                made = api.post(f"/report-templates/{t}/reports", json={})
                st.success(f"Saved “{made['name']}”: open it under Saved reports.")
            except ApiError as e:
                ui.show_api_error(e, "saving the template")

with open_saved:
    if not saved:
        st.info("No saved reports yet: build one, or start from a template.")
    else:
        pick = st.selectbox("Report", [r["id"] for r in saved], key="rb_saved",
                            format_func=lambda i: next(r["name"] for r in saved if r["id"] == i))  # fmt: skip
        report = next(r for r in saved if r["id"] == pick)
        st.caption(f"{report['visibility']} · metrics: {', '.join(report['metrics'])}")
        try:
            show(api.post(f"/reports/{pick}/run"), report["chart"])
        except ApiError as e:
            ui.show_api_error(e, "running the report")
        fmt = st.selectbox("Export as", ["csv", "xlsx", "parquet", "pdf"], key="rb_fmt")
        if st.button("Prepare export", key="rb_export"):
            try:
                content = api.request(
                    "GET", f"/reports/{pick}/export", params={"format": fmt}
                ).content
                st.download_button(
                    f"Download {fmt.upper()}", content, file_name=f"{report['name']}.{fmt}"
                )
            except ApiError as e:
                ui.show_api_error(e, "exporting the report")
