"""Dashboards: saved reports as widgets on a 12-column grid, personal or team, from templates.

``layout`` is ``[{report_id, x, y, w, h, chart}]``: every widget names a report the member may
see (422 naming ``layout[i].report_id`` otherwise), fits the grid, and draws its report with
``chart`` (default: the report's own). Rearranging is a ``PATCH`` of the layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from api.reports.service import SharedRecordService, from_template, report_service
from leadly.actor import Actor
from leadly.problem import Problem, validation
from warehouse.models import Dashboard

GRID_COLUMNS = 12

TEMPLATES: dict[str, dict[str, Any]] = {
    "sales_leader": {
        "name": "Sales leader",
        "description": "Team performance, the forecast, win/loss and the year so far.",
        "widgets": [
            ("team_performance", 0, 0, 12, 4),
            ("revenue_forecast", 0, 4, 6, 4),
            ("win_loss", 6, 4, 6, 4),
            ("year_over_year", 0, 8, 12, 4),
        ],
    },
    "rep": {
        "name": "Rep",
        "description": "My funnel, my activities and where my leads come from.",
        "widgets": [
            ("sales_funnel", 0, 0, 6, 4),
            ("activity_report", 6, 0, 6, 4),
            ("lead_source_attribution", 0, 4, 12, 4),
        ],
    },
    "revenue_ops": {
        "name": "Revenue ops",
        "description": "Conversion by source, deal velocity and cohorts.",
        "widgets": [
            ("conversion_rates", 0, 0, 6, 4),
            ("deal_velocity", 6, 0, 6, 4),
            ("cohort_analysis", 0, 4, 12, 5),
        ],
    },
}


class DashboardService(SharedRecordService):
    table = Dashboard.__table__
    object_type = "dashboard"
    plural = "dashboards"
    prefix = "dash"

    async def validate(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        current: Mapping[str, Any] | None,
    ) -> None:
        await super().validate(conn, actor, values, current)
        if "name" in values and not (values["name"] or "").strip():
            raise validation([{"field": "name", "message": "A dashboard needs a name."}])
        if "layout" not in values:
            return
        layout = values["layout"] = msgspec.to_builtins(values["layout"])
        errors = []
        for i, w in enumerate(layout):
            if w["x"] + w["w"] > GRID_COLUMNS:
                errors.append(
                    {
                        "field": f"layout[{i}].w",
                        "message": f"x + w is past the grid's {GRID_COLUMNS} columns.",
                    }
                )
        found = await report_service.get_many(conn, actor, [w["report_id"] for w in layout])
        errors += [
            {"field": f"layout[{i}].report_id", "message": "No report you can see has this id."}
            for i, w in enumerate(layout)
            if w["report_id"] not in found
        ]
        if errors:
            raise validation(errors)


dashboard_service = DashboardService()


async def reports_of(
    conn: AsyncConnection, actor: Actor, dashboard: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The dashboard's reports in reading order (top to bottom, left to right), each with its
    widget's chart; reports the member can no longer see are left out."""
    widgets = sorted(dashboard["layout"], key=lambda w: (w["y"], w["x"]))
    found = await report_service.get_many(conn, actor, [w["report_id"] for w in widgets])
    return [
        {**found[w["report_id"]], "chart": w.get("chart") or found[w["report_id"]]["chart"]}
        for w in widgets
        if w["report_id"] in found
    ]


async def from_dashboard_template(
    conn: AsyncConnection, actor: Actor, key: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Save template ``key``: its reports (from the report templates) and the dashboard."""
    t = TEMPLATES.get(key)
    if t is None:
        raise Problem(404, f"No dashboard template {key!r} (GET /api/v1/dashboard-templates).")
    visibility = overrides.get("visibility", "personal")
    layout = []
    for report_key, x, y, w, h in t["widgets"]:
        report = await from_template(conn, actor, report_key, {"visibility": visibility})
        layout.append(
            {"report_id": report["id"], "x": x, "y": y, "w": w, "h": h, "chart": report["chart"]}
        )
    values = {
        "name": t["name"],
        "description": t["description"],
        "layout": layout,
        "template": key,
        **overrides,
    }
    return await dashboard_service.create(conn, actor, values)


def catalogue() -> list[dict[str, Any]]:
    return [
        {
            "key": k,
            "name": t["name"],
            "description": t["description"],
            "reports": [w[0] for w in t["widgets"]],
        }
        for k, t in TEMPLATES.items()
    ]
