"""The app's pure helpers: periods, metric totals, funnel aggregation, list parameters and
problem documents (no server needed)."""

from __future__ import annotations

import datetime as dt

import httpx
import pandas as pd
import pytest

from apps import data
from apps.client import ApiError, list_params

D = dt.date


def test_previous_period_has_the_same_length_just_before() -> None:
    assert data.previous_period(D(2026, 3, 1), D(2026, 3, 31)) == (D(2026, 1, 29), D(2026, 2, 28))
    assert data.previous_period(D(2026, 3, 5), D(2026, 3, 5)) == (D(2026, 3, 4), D(2026, 3, 4))


def test_metric_totals_sum_the_period_and_default_to_zero() -> None:
    df = pd.DataFrame(
        {
            "metric_date": [D(2026, 3, 1), D(2026, 3, 2), D(2026, 2, 28), D(2026, 3, 2)],
            "metric": ["leads_created", "leads_created", "leads_created", "call_minutes"],
            "dimension_value": ["all"] * 4,
            "value": [3.0, 4.0, 10.0, 1.5],
        }
    )
    totals = data.metric_totals(df, D(2026, 3, 1), D(2026, 3, 31))
    assert totals["leads_created"] == 7 and totals["call_minutes"] == 1.5
    assert totals["accounts_created"] == 0 and set(totals) == set(data.ROLLUP_METRICS)
    assert data.metric_totals(df.iloc[0:0], D(2026, 3, 1), D(2026, 3, 31))["leads_created"] == 0


def funnel_rows() -> pd.DataFrame:
    return pd.DataFrame(
        [
            # created_date, source, owner, created, contacted, qualified, converted, hours...
            (D(2026, 3, 1), "web", "Ann", 10, 5, 2, 1, 2.0, 10.0, 30.0),
            (D(2026, 3, 2), "web", "Bob", 10, 5, 0, 0, 4.0, None, None),
            (D(2026, 3, 2), "referral", "Ann", 4, 0, 0, 0, None, None, None),
        ],
        columns=[
            "created_date",
            "source",
            "owner_name",
            "leads_created",
            "leads_contacted",
            "leads_qualified",
            "leads_converted",
            "avg_hours_to_contacted",
            "avg_hours_to_qualified",
            "avg_hours_to_converted",
        ],
    )


def test_funnel_summary_recomputes_rates_and_weights_hours_by_leads() -> None:
    total = data.funnel_summary(funnel_rows()).iloc[0]
    assert total["segment"] == "All leads"
    assert (total["leads_created"], total["leads_contacted"]) == (24, 10)
    assert total["contacted_rate"] == pytest.approx(10 / 24)
    # 5 leads at 2 h and 5 at 4 h: 3 h, not the mean of daily averages over 3 rows.
    assert total["avg_hours_to_contacted"] == pytest.approx(3.0)
    assert total["avg_hours_to_qualified"] == pytest.approx(10.0)

    by_source = data.funnel_summary(funnel_rows(), "source").set_index("segment")
    assert list(by_source.index) == ["web", "referral"]  # largest first
    assert by_source.loc["referral", "contacted_rate"] == 0
    assert pd.isna(by_source.loc["referral", "avg_hours_to_contacted"])


def test_funnel_long_has_four_ordered_steps_per_segment() -> None:
    long = data.funnel_long(data.funnel_summary(funnel_rows(), "owner_name"))
    ann = long[long["segment"] == "Ann"].sort_values("step_order")
    assert list(ann["step"]) == ["Created", "Contacted", "Qualified", "Converted"]
    assert list(ann["leads"]) == [14, 5, 2, 1]
    assert ann["label"].iloc[1] == "Contacted · 5 (36%)"


def test_list_params_follow_the_api_conventions() -> None:
    params = list_params(
        {"status__in": ["new", "contacted"], "owner_id": None, "email__contains": "", "x": True},
        sort="-created_at",
        fields=("id", "email"),
        limit=25,
        cursor="abc",
    )
    assert params == {
        "filter[status__in]": "new,contacted",
        "filter[x]": "true",
        "sort": "-created_at",
        "fields": "id,email",
        "limit": "25",
        "cursor": "abc",
    }


def test_api_error_reads_the_problem_document() -> None:
    r = httpx.Response(
        422,
        json={
            "title": "Unprocessable Content",
            "status": 422,
            "detail": "The request is not valid.",
            "errors": [{"field": "rating", "message": "Expected `float` <= 5"}],
        },
        headers={"content-type": "application/problem+json"},
    )
    e = ApiError.from_response(r)
    assert (e.status, e.detail, e.errors[0]["field"]) == (
        422,
        "The request is not valid.",
        "rating",
    )
    plain = ApiError.from_response(httpx.Response(502, text="Bad gateway"))
    assert plain.status == 502 and plain.detail == "Bad gateway" and plain.errors == []
