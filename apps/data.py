"""Reads of the reporting models (``analytics_reporting.rpt_*``) for the dashboards.

The dashboards never touch the ``app`` tables. They connect as the dashboard login role
(``LEADLY_DASHBOARD_DB_ROLE``), which reads the reporting tables through row-level security:
every query runs in a transaction that first sets ``app.team_id`` to the signed-in member's team
(from ``GET /api/v1/me``), so even a query without a team filter sees only that team's rows.

Results are cached per (team, parameters) for :data:`TTL_SECONDS`; dbt rebuilds the models every
15 minutes, so a short cache costs nothing in freshness. Until dbt has built the models (or when
the role cannot read them yet) the readers raise :class:`ReportNotReady`, which the pages show as
an info message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd
import psycopg
import streamlit as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from leadly.settings import get_settings

SCHEMA = "analytics_reporting"
TTL_SECONDS = 60

ROLLUP_METRICS: tuple[str, ...] = (
    "leads_created",
    "leads_contacted",
    "leads_qualified",
    "leads_converted",
    "calls_logged",
    "calls_connected",
    "call_minutes",
    "contacts_created",
    "accounts_created",
)
FUNNEL_STEPS: tuple[str, ...] = ("created", "contacted", "qualified", "converted")

_NOT_READY = (
    psycopg.errors.UndefinedTable,
    psycopg.errors.InvalidSchemaName,
    psycopg.errors.InsufficientPrivilege,
    psycopg.errors.UndefinedColumn,
)


class ReportNotReady(Exception):
    """The reporting model is not there (yet) or not readable by the dashboard role."""


@st.cache_resource(show_spinner=False)
def _engine(url: str, role: str) -> Engine:
    from warehouse.db import make_engine

    return make_engine(url, role, pool_size=5, max_overflow=5, pool_pre_ping=True)


def dashboard_engine() -> Engine:
    from warehouse.db import database_url

    s = get_settings()
    return _engine(database_url(s), s.dashboard_db_role)


def read_report(team_id: str, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run ``query`` as the dashboard role in a transaction scoped to ``team_id``."""
    if not team_id:
        raise ValueError("a team id is required")
    try:
        with dashboard_engine().begin() as conn:
            conn.execute(text("SELECT set_config('app.team_id', :t, true)"), {"t": team_id})
            result = conn.execute(text(query), dict(params or {}))
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    except DBAPIError as e:
        if isinstance(e.orig, _NOT_READY):
            raise ReportNotReady(str(e.orig).splitlines()[0]) from e
        raise


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def daily_rollup(
    team_id: str, start: dt.date, end: dt.date, dimension_name: str = "all"
) -> pd.DataFrame:
    """Rows of ``rpt_daily_rollup`` between ``start`` and ``end`` (inclusive) for one dimension:
    metric_date, metric, dimension_value, value (float)."""
    df = read_report(
        team_id,
        f"""
        SELECT metric_date, metric, dimension_value, value
        FROM {SCHEMA}.rpt_daily_rollup
        WHERE team_id = :team_id AND dimension_name = :dim
          AND metric_date BETWEEN :start AND :end
        ORDER BY metric_date, metric, dimension_value
        """,
        {"team_id": team_id, "dim": dimension_name, "start": start, "end": end},
    )
    if not df.empty:
        df["metric_date"] = pd.to_datetime(df["metric_date"]).dt.date
        df["value"] = df["value"].astype(float)
    return df


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def lead_funnel(team_id: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Rows of ``rpt_lead_funnel`` for leads created between ``start`` and ``end``."""
    df = read_report(
        team_id,
        f"""
        SELECT created_date, source, owner_id, owner_name,
               leads_created, leads_contacted, leads_qualified, leads_converted,
               avg_hours_to_contacted, avg_hours_to_qualified, avg_hours_to_converted
        FROM {SCHEMA}.rpt_lead_funnel
        WHERE team_id = :team_id AND created_date BETWEEN :start AND :end
        ORDER BY created_date
        """,
        {"team_id": team_id, "start": start, "end": end},
    )
    if not df.empty:
        df["created_date"] = pd.to_datetime(df["created_date"]).dt.date
        for col in df.columns:
            if col.startswith(("leads_", "avg_hours_")):
                df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
        df["source"] = df["source"].fillna("(none)")
        df["owner_name"] = df["owner_name"].where(
            df["owner_name"].notna(), df["owner_id"].fillna("Unassigned")
        )
    return df


# --------------------------------------------------------------------------- pure helpers


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of the same length just before ``start..end``."""
    days = (end - start).days + 1
    return start - dt.timedelta(days=days), start - dt.timedelta(days=1)


def metric_totals(df: pd.DataFrame, start: dt.date, end: dt.date) -> dict[str, float]:
    """Sum of each metric over ``start..end`` (every known metric present, 0 when absent)."""
    totals = dict.fromkeys(ROLLUP_METRICS, 0.0)
    if df.empty:
        return totals
    rows = df[(df["metric_date"] >= start) & (df["metric_date"] <= end)]
    for metric, value in rows.groupby("metric")["value"].sum().items():
        totals[str(metric)] = float(value)
    return totals


def funnel_summary(df: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Funnel counts per segment (``by``: None for one row, ``source`` or ``owner_name``):
    the four step counts, conversion rates from created, and hours between steps averaged
    over the leads that reached each step."""
    cols = [
        "segment",
        *(f"leads_{s}" for s in FUNNEL_STEPS),
        *(f"{s}_rate" for s in FUNNEL_STEPS[1:]),
        *(f"avg_hours_to_{s}" for s in FUNNEL_STEPS[1:]),
    ]
    if df.empty:
        return pd.DataFrame(columns=cols)
    work = df.copy()
    work["segment"] = work[by] if by else "All leads"
    for step in FUNNEL_STEPS[1:]:
        hours = work[f"avg_hours_to_{step}"]
        work[f"_h_{step}"] = hours.fillna(0) * work[f"leads_{step}"]
        work[f"_n_{step}"] = work[f"leads_{step}"].where(hours.notna(), 0)
    agg = work.groupby("segment", dropna=False).sum(numeric_only=True).reset_index()
    for step in FUNNEL_STEPS[1:]:
        created = agg["leads_created"].where(agg["leads_created"] > 0)
        agg[f"{step}_rate"] = (agg[f"leads_{step}"] / created).fillna(0.0)
        n = agg[f"_n_{step}"].where(agg[f"_n_{step}"] > 0)
        agg[f"avg_hours_to_{step}"] = agg[f"_h_{step}"] / n
    agg = agg.sort_values("leads_created", ascending=False, kind="stable")
    return agg[cols].reset_index(drop=True)


def funnel_long(summary: pd.DataFrame) -> pd.DataFrame:
    """``funnel_summary`` reshaped for a chart: segment, step, step_order, leads, share and a
    label such as ``Contacted · 1,204 (40%)``."""
    rows = []
    for rec in summary.to_dict("records"):
        created = rec["leads_created"] or 0
        for i, step in enumerate(FUNNEL_STEPS):
            n = rec[f"leads_{step}"]
            rows.append(
                {
                    "segment": rec["segment"],
                    "step": step.capitalize(),
                    "step_order": i,
                    "leads": int(n),
                    "share": (n / created) if created else 0.0,
                    "label": f"{step.capitalize()} · {int(n):,}"
                    + (f" ({n / created:.0%})" if created and i else ""),
                }
            )
    return pd.DataFrame(rows, columns=["segment", "step", "step_order", "leads", "share", "label"])


# --------------------------------------------------------------------------- deals (issue 4)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def deal_forecast(team_id: str, as_of: dt.date) -> pd.DataFrame:
    """``rpt_forecast`` as of one day: pipeline_id, forecast_category, close_month, currency,
    deals, total_value, weighted_value (floats)."""
    df = read_report(
        team_id,
        f"""
        SELECT pipeline_id, forecast_category, close_month, currency, deals,
               total_value, weighted_value
        FROM {SCHEMA}.rpt_forecast
        WHERE team_id = :team_id AND snapshot_date = :as_of
        ORDER BY close_month NULLS LAST, forecast_category
        """,
        {"team_id": team_id, "as_of": as_of},
    )
    for c in ("total_value", "weighted_value"):
        if not df.empty:
            df[c] = df[c].astype(float)
    return df


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def weighted_pipeline(team_id: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """``rpt_weighted_pipeline`` per day in [start, end]: snapshot_date, pipeline_id, stage,
    stage_name, stage_order, owner_id, currency, open_deals, total_value, weighted_value."""
    df = read_report(
        team_id,
        f"""
        SELECT snapshot_date, pipeline_id, stage, stage_name, stage_order, owner_id, currency,
               open_deals, total_value, weighted_value
        FROM {SCHEMA}.rpt_weighted_pipeline
        WHERE team_id = :team_id AND snapshot_date BETWEEN :start AND :end
        ORDER BY snapshot_date, stage_order NULLS LAST, stage
        """,
        {"team_id": team_id, "start": start, "end": end},
    )
    if not df.empty:
        df["snapshot_date"] = pd.to_datetime(df["snapshot_date"]).dt.date
        for c in ("total_value", "weighted_value"):
            df[c] = df[c].astype(float)
    return df


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def win_loss(team_id: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """``rpt_win_loss`` for the close months overlapping [start, end]."""
    df = read_report(
        team_id,
        f"""
        SELECT close_month, pipeline_id, owner_id, source, outcome, reason, competitor,
               currency, deals, total_value, avg_days_to_close
        FROM {SCHEMA}.rpt_win_loss
        WHERE team_id = :team_id
          AND close_month BETWEEN date_trunc('month', CAST(:start AS date)) AND :end
        ORDER BY close_month, outcome
        """,
        {"team_id": team_id, "start": start, "end": end},
    )
    if not df.empty:
        df["total_value"] = df["total_value"].astype(float)
        df["avg_days_to_close"] = df["avg_days_to_close"].astype(float)
    return df
