"""The Great Expectations suites: what must hold in the key marts and the raw import tables.

Each suite becomes one blocking asset check (severity ERROR) on its table's asset. Mart suites run
in every dbt build, after the models they check; raw suites run hourly (``raw_quality_checks``).
A failure fails the run and names the failing expectations with their unexpected counts.

dbt's own tests cover keys (unique, not null); these suites cover values: formats, ranges,
domains and cross-table consistency. To check another table, add a ``Suite`` here (``model=`` is
the dbt model's name: the check follows the model wherever its folder or schema moves).
"""

from __future__ import annotations

from orchestration.defs.quality.ge import Expect, Suite, expect
from warehouse.models.crm import (
    CALL_DIRECTIONS,
    IMPORTABLE_LEAD_STATUSES,
    LEAD_STATUSES,
    MAX_CALL_SECONDS,
)

EMAIL_REGEX = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
"""Something@domain.tld without blanks: what the API and the importer accept as an email."""


def _between(column: str, low: float | None = None, high: float | None = None) -> Expect:
    bounds: dict[str, float] = {}
    if low is not None:
        bounds["min_value"] = low
    if high is not None:
        bounds["max_value"] = high
    return expect("ExpectColumnValuesToBeBetween", column=column, **bounds)


def _known_owner(owner_column: str, key_columns: str) -> Expect:
    return expect(
        "UnexpectedRowsExpectation",
        description=f"every {owner_column} is a member in dim_team_members",
        unexpected_rows_query=(
            # {batch} is an aliased subquery: the query stays uncorrelated.
            f"SELECT {key_columns}, {owner_column} FROM {{batch}} "
            f"WHERE {owner_column} IS NOT NULL AND (team_id, {owner_column}) NOT IN "
            "(SELECT team_id, member_id FROM {dim_team_members} WHERE member_id IS NOT NULL)"
        ),
    )


MART_SUITES: tuple[Suite, ...] = (
    Suite(
        name="ge_fct_leads",
        model="fct_leads",
        refs=("dim_team_members",),
        description="Leads: valid emails, rating 0-5, website score 0-100, known owners.",
        expectations=(
            expect("ExpectColumnValuesToMatchRegex", column="email", regex=EMAIL_REGEX),
            _between("rating", 0, 5),
            _between("website_score", 0, 100),
            _between("reviews_count", 0),
            expect("ExpectColumnValuesToBeInSet", column="status", value_set=list(LEAD_STATUSES)),
            _known_owner("owner_id", "team_id, lead_id"),
        ),
    ),
    Suite(
        name="ge_dim_team_members",
        model="dim_team_members",
        description="Team members: valid emails.",
        expectations=(expect("ExpectColumnValuesToMatchRegex", column="email", regex=EMAIL_REGEX),),
    ),
    Suite(
        name="ge_fct_calls",
        model="fct_calls",
        refs=("dim_team_members",),
        description="Calls: durations never negative, known direction and caller.",
        expectations=(
            _between("duration_seconds", 0),
            _between("duration_minutes", 0),
            expect(
                "ExpectColumnValuesToBeInSet", column="direction", value_set=list(CALL_DIRECTIONS)
            ),
            _known_owner("member_id", "team_id, call_log_id"),
        ),
    ),
    Suite(
        name="ge_fct_lead_funnel",
        model="fct_lead_funnel",
        description="Funnel: rates within 0-1, steps never exceed leads created, times forward.",
        expectations=(
            _between("contacted_rate", 0, 1),
            _between("qualified_rate", 0, 1),
            _between("converted_rate", 0, 1),
            _between("avg_hours_to_contacted", 0),
            _between("avg_hours_to_qualified", 0),
            _between("avg_hours_to_converted", 0),
            expect(
                "UnexpectedRowsExpectation",
                description="leads_created >= leads_contacted >= leads_qualified",
                unexpected_rows_query=(
                    "SELECT team_id, created_date, source, owner_id FROM {batch} "
                    "WHERE leads_contacted > leads_created OR leads_qualified > leads_contacted "
                    "OR leads_converted > leads_created"
                ),
            ),
        ),
    ),
    Suite(
        name="ge_rpt_lead_funnel",
        model="rpt_lead_funnel",
        description="Reported funnel: rates within 0-1.",
        expectations=(
            _between("contacted_rate", 0, 1),
            _between("qualified_rate", 0, 1),
            _between("converted_rate", 0, 1),
        ),
    ),
    Suite(
        name="ge_fct_daily_rollup",
        model="fct_daily_rollup",
        description="Daily rollup: counts and minutes are never negative.",
        expectations=(_between("value", 0),),
    ),
)

RAW_SUITES: tuple[Suite, ...] = (
    Suite(
        name="ge_raw_lead_import_rows",
        raw_table="lead_import_rows",
        description="Accepted lead rows of imports: the importer's validation held.",
        expectations=(
            expect("ExpectColumnValuesToNotBeNull", column="lead_id"),
            expect("ExpectColumnValuesToMatchRegex", column="email", regex=EMAIL_REGEX),
            _between("rating", 0, 5),
            _between("website_score", 0, 100),
            _between("reviews_count", 0),
            expect(
                "ExpectColumnValuesToBeInSet",
                column="status",
                value_set=list(IMPORTABLE_LEAD_STATUSES),
            ),
            _between("row_no", 1),
        ),
    ),
    Suite(
        name="ge_raw_call_log_import_rows",
        raw_table="call_log_import_rows",
        description="Accepted call-log rows of imports: durations 0-24 h, known directions.",
        expectations=(
            expect("ExpectColumnValuesToNotBeNull", column="call_id"),
            _between("duration", 0, MAX_CALL_SECONDS),
            expect(
                "ExpectColumnValuesToBeInSet", column="direction", value_set=list(CALL_DIRECTIONS)
            ),
            _between("row_no", 1),
        ),
    ),
    Suite(
        name="ge_raw_import_rejects",
        raw_table="import_rejects",
        description="Rejected import rows: each says why.",
        expectations=(
            expect("ExpectColumnValuesToNotBeNull", column="reason"),
            _between("row_no", 1),
        ),
    ),
)
"""Suites on the ``raw`` tables ingestion loads with COPY (rows that passed its validation)."""
