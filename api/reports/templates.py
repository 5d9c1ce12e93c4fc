"""The seed's ten report types as templates: definitions over the semantic layer that a member
saves as a report of their own (``POST /api/v1/report-templates/{key}/reports``) and then
changes like any other. Periods are relative (``today-89``, ``year_start``), so a template's
report keeps moving with the calendar."""

from __future__ import annotations

from typing import Any

LAST_90_DAYS = {"dimension": "created_date", "op": "between", "value": ["today-89", "today"]}

TEMPLATES: dict[str, dict[str, Any]] = {
    "sales_funnel": {
        "name": "Sales funnel",
        "description": "Leads created in the last 90 days and how many reached each step.",
        "metrics": ["leads_created", "leads_contacted", "leads_qualified", "leads_converted"],
        "filters": [LAST_90_DAYS],
        "chart": "funnel",
    },
    "conversion_rates": {
        "name": "Conversion rates by stage",
        "description": "Contact, qualification and conversion rates per lead source (90 days).",
        "metrics": ["lead_contact_rate", "lead_qualification_rate", "lead_conversion_rate"],
        "dimensions": ["lead_source"],
        "filters": [LAST_90_DAYS],
        "chart": "bar",
    },
    "revenue_forecast": {
        "name": "Revenue forecast",
        "description": "Deals by forecast category and close month as the pipeline stands "
        "today; change as_of_date to see the forecast as it stood on a past day.",
        "metrics": ["forecast_deals", "forecast_value", "forecast_weighted_value"],
        "dimensions": ["close_date", "forecast_category"],
        "filters": [{"dimension": "as_of_date", "op": "eq", "value": "today"}],
        "time_grain": "month",
        "chart": "bar",
    },
    "team_performance": {
        "name": "Team performance",
        "description": "Per member: deals won and their value, open pipeline, calls, "
        "activities and tasks completed.",
        "metrics": [
            "deals_won",
            "deals_won_value",
            "pipeline_value",
            "calls_logged",
            "activities_logged",
            "tasks_completed",
        ],
        "dimensions": ["owner_name"],
        "sort": ["-deals_won_value"],
        "chart": "table",
    },
    "activity_report": {
        "name": "Activities: calls, emails, meetings",
        "description": "Timeline entries per week and type over the last 90 days.",
        "metrics": ["timeline_entries"],
        "dimensions": ["created_date", "activity_type"],
        "filters": [
            {"dimension": "activity_type", "op": "in", "value": ["call", "email", "meeting"]},
            LAST_90_DAYS,
        ],
        "time_grain": "week",
        "chart": "line",
    },
    "lead_source_attribution": {
        "name": "Lead source attribution",
        "description": "Leads and conversions per source over the last 90 days.",
        "metrics": ["leads_created", "leads_converted", "lead_conversion_rate"],
        "dimensions": ["lead_source"],
        "filters": [LAST_90_DAYS],
        "sort": ["-leads_created"],
        "chart": "pie",
    },
    "deal_velocity": {
        "name": "Deal velocity per stage",
        "description": "How long deals stay in each stage before moving on (last 90 days).",
        "metrics": ["stage_exits", "avg_days_in_stage"],
        "dimensions": ["deal_stage"],
        "filters": [{"dimension": "changed_date", "op": "between", "value": ["today-89", "today"]}],
        "chart": "bar",
    },
    "win_loss": {
        "name": "Win/loss",
        "description": "Closed deals by outcome and reason, with the win rate.",
        "metrics": ["deals_closed", "deals_won", "deals_lost", "win_rate", "deals_won_value"],
        "dimensions": ["owner_name"],
        "filters": [{"dimension": "deal_status", "op": "in", "value": ["won", "lost"]}],
        "chart": "bar",
    },
    "cohort_analysis": {
        "name": "Cohort analysis",
        "description": "Leads by creation month (rows) converted after 0, 1, 2... months "
        "(columns): a heat map of this year's cohorts.",
        "metrics": ["leads_converted"],
        "dimensions": ["created_date", "months_to_convert"],
        "filters": [
            {"dimension": "created_date", "op": "between", "value": ["today-364", "today"]},
            {"dimension": "months_to_convert", "op": "is_null", "value": False},
        ],
        "time_grain": "month",
        "chart": "heatmap",
    },
    "year_over_year": {
        "name": "Year over year",
        "description": "This year so far against the same period last year, per month, "
        "with the change.",
        "metrics": ["leads_created", "deals_won_value"],
        "dimensions": ["created_date"],
        "filters": [
            {"dimension": "created_date", "op": "between", "value": ["year_start", "today"]}
        ],
        "time_grain": "month",
        "compare_to": "same_period_last_year",
        "chart": "line",
    },
}


def catalogue() -> list[dict[str, Any]]:
    return [{"key": key, **t} for key, t in TEMPLATES.items()]


def report_values(key: str) -> dict[str, Any] | None:
    """A template's fields as a report body (None: no such template)."""
    t = TEMPLATES.get(key)
    if t is None:
        return None
    return {
        **{k: v for k, v in t.items() if k != "description"},
        "template": key,
        "description": t["description"],
    }
