"""The Great Expectations checks fail loudly on bad rows and pass again once they are gone.

Bad rows are planted as superuser straight into the built marts and the raw import tables (the
API and the importer refuse them), then only the quality checks run: each failing check names its
failing expectations with their unexpected counts, and the run fails (the checks are blocking)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import psycopg
import pytest

from tests.orchestration.conftest import Builds

# One worker runs every Dagster test (`--dist loadgroup`): definitions and builds load once.
pytestmark = pytest.mark.xdist_group("orchestration")

BAD = "bad_quality"


def run_checks(defs: dg.Definitions, instance: Any, names: set[str]) -> Any:
    keys = {k for k in defs.resolve_asset_graph().asset_check_keys if k.name in names}
    assert {k.name for k in keys} == names
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(), asset_check_selection=keys
    )
    return job.execute_in_process(instance=instance, raise_on_error=False)


def relation(model: str) -> str:
    from orchestration.defs.quality.checks import model_relation

    return model_relation(model).sql


def plant(conn: psycopg.Connection, table: str, key: str, **values: Any) -> None:
    """Copy one row of ``table`` with column ``key`` set to ``BAD`` and ``values`` overridden."""
    conn.execute("DROP TABLE IF EXISTS pg_temp.bad_row")
    conn.execute(f"CREATE TEMP TABLE bad_row AS SELECT * FROM {table} LIMIT 1")
    assert conn.execute("SELECT count(*) FROM bad_row").fetchone()[0] == 1, table
    sets = ", ".join(f"{column} = %s" for column in (key, *values))
    conn.execute(f"UPDATE bad_row SET {sets}", (BAD, *values.values()))
    conn.execute(f"INSERT INTO {table} SELECT * FROM bad_row")


MART_BAD_ROWS = {
    # model: (marker column, overridden values)
    "fct_leads": (
        "lead_id",
        {"email": "not-an-email", "rating": 7, "website_score": 150, "owner_id": "mem_nobody"},
    ),
    "fct_calls": ("call_log_id", {"duration_seconds": -5}),
    "fct_lead_funnel": ("source", {"contacted_rate": 1.5}),
}


def remove_bad_mart_rows(conn: psycopg.Connection) -> None:
    for model, (key, _) in MART_BAD_ROWS.items():
        conn.execute(f"DELETE FROM {relation(model)} WHERE {key} = %s", (BAD,))


@pytest.fixture
def bad_mart_rows(builds: Builds, superuser: psycopg.Connection) -> Iterator[None]:
    for model, (key, values) in MART_BAD_ROWS.items():
        plant(superuser, relation(model), key, **values)
    try:
        yield
    finally:
        remove_bad_mart_rows(superuser)


def failed(evaluation: Any) -> list[str]:
    return evaluation.metadata["failed_expectations"].value


def unexpected(evaluation: Any) -> dict[str, int]:
    return evaluation.metadata["unexpected_counts"].value


def test_mart_checks_fail_on_bad_rows_then_pass(
    definitions: Any, instance: Any, bad_mart_rows: None, superuser: psycopg.Connection
) -> None:
    defs = definitions.defs
    names = {"ge_fct_leads", "ge_fct_calls", "ge_fct_lead_funnel"}
    result = run_checks(defs, instance, names)
    assert not result.success  # blocking checks fail the run
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == names
    assert all(not e.passed for e in evaluations.values())
    assert all(e.severity == dg.AssetCheckSeverity.ERROR for e in evaluations.values())

    leads = evaluations["ge_fct_leads"]
    assert set(failed(leads)) == {
        "expect_column_values_to_match_regex(email)",
        "expect_column_values_to_be_between(rating)",
        "expect_column_values_to_be_between(website_score)",
        "unexpected_rows_expectation: every owner_id is a member in dim_team_members",
    }
    assert unexpected(leads) == {name: 1 for name in failed(leads)}
    assert "'not-an-email'" in leads.description
    assert "expect_column_values_to_be_between(rating): 1 unexpected" in leads.description

    calls = evaluations["ge_fct_calls"]
    assert failed(calls) == ["expect_column_values_to_be_between(duration_seconds)"], (
        calls.description
    )
    assert unexpected(calls) == {"expect_column_values_to_be_between(duration_seconds)": 1}

    funnel = evaluations["ge_fct_lead_funnel"]
    assert failed(funnel) == ["expect_column_values_to_be_between(contacted_rate)"]

    remove_bad_mart_rows(superuser)
    again = run_checks(defs, instance, names)
    assert again.success
    assert all(e.passed for e in again.get_asset_check_evaluations())


def test_raw_import_checks_fail_on_bad_rows_then_pass(
    definitions: Any, instance: Any, builds: Builds, superuser: psycopg.Connection
) -> None:
    defs = definitions.defs
    names = {"ge_raw_lead_import_rows", "ge_raw_call_log_import_rows", "ge_raw_import_rejects"}
    team = builds.team_id
    superuser.execute(
        "INSERT INTO raw.lead_import_rows (team_id, import_id, batch_no, row_no, lead_id, email,"
        " rating, status) VALUES (%s, 'imp_quality', 1, 1, 'lead_ok', 'ok@example.com', 4.5,"
        " 'new'), (%s, 'imp_quality', 1, 2, 'lead_bad', 'nope', 4.5, 'Hot')",
        (team, team),
    )
    superuser.execute(
        "INSERT INTO raw.call_log_import_rows (team_id, import_id, batch_no, row_no, call_id,"
        " duration, direction) VALUES (%s, 'imp_quality', 1, 1, 'call_ok', 60, 'inbound'),"
        " (%s, 'imp_quality', 1, 2, 'call_bad', -1, 'sideways')",
        (team, team),
    )
    superuser.execute(
        "INSERT INTO raw.import_rejects (team_id, import_id, row_no, reason)"
        " VALUES (%s, 'imp_quality', 3, 'email: x is not a valid email address')",
        (team,),
    )
    try:
        result = run_checks(defs, instance, names)
        assert not result.success
        evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
        leads = evaluations["ge_raw_lead_import_rows"]
        assert not leads.passed
        assert set(failed(leads)) == {
            "expect_column_values_to_match_regex(email)",
            "expect_column_values_to_be_in_set(status)",
        }
        assert unexpected(leads) == {name: 1 for name in failed(leads)}
        calls = evaluations["ge_raw_call_log_import_rows"]
        assert set(failed(calls)) == {
            "expect_column_values_to_be_between(duration)",
            "expect_column_values_to_be_in_set(direction)",
        }
        assert evaluations["ge_raw_import_rejects"].passed
    finally:
        for table in ("lead_import_rows", "call_log_import_rows"):
            superuser.execute(
                f"DELETE FROM raw.{table} WHERE import_id = 'imp_quality' AND row_no = 2"
            )
    again = run_checks(defs, instance, names)
    assert again.success
    evaluations = {e.check_name: e for e in again.get_asset_check_evaluations()}
    assert all(e.passed for e in evaluations.values())
    assert evaluations["ge_raw_lead_import_rows"].metadata["row_count"].value >= 1


def test_an_expectation_that_errors_fails_the_suite_with_its_message(builds: Builds) -> None:
    import dagster as dg

    from orchestration.defs.quality.checks import check_result, model_relation
    from orchestration.defs.quality.ge import Suite, expect, validate
    from orchestration.resources import PostgresResource

    suite = Suite(
        name="ge_probe",
        model="fct_leads",
        description="probe",
        expectations=(
            expect("ExpectColumnValuesToNotBeNull", column="no_such_column"),
            expect("ExpectColumnValuesToNotBeNull", column="lead_id"),
        ),
    )
    [outcome] = validate(
        PostgresResource().sqlalchemy_url(), [(suite, model_relation("fct_leads"), {})]
    )
    assert not outcome.success
    assert [o.label for o in outcome.outcomes] == [
        "expect_column_values_to_not_be_null(no_such_column)",
        "expect_column_values_to_not_be_null(lead_id)",
    ]
    assert "no_such_column" in (outcome.outcomes[0].error or "")
    assert outcome.outcomes[1].success
    result = check_result(outcome, dg.AssetKey(["x"]))
    assert not result.passed
    assert "no_such_column" in (result.description or "")


async def test_raw_checks_pass_on_what_the_importer_loads(
    definitions: Any, instance: Any, team: Any, superuser: psycopg.Connection
) -> None:
    """A real import (accepted rows into raw, a bad row into the rejects) passes the raw suites:
    the suites state what the importer guarantees, so they alarm only on a broken load."""
    from tests.ingestion.conftest import csv_bytes, import_file

    content = csv_bytes(
        [
            ["First Name", "Last Name", "Email", "Rating", "Lead Status", "Website Score"],
            ["Ada", "Lovelace", "ada@example.com", "4.5", "Contacted", "80"],
            ["Grace", "Hopper", "GRACE@Example.com", "", "new", ""],
            ["Bad", "Row", "not-an-email", "3", "new", "10"],
        ],
        bom=True,
    )
    done = await import_file(team, content)
    assert (done["imported"], done["rejected"]) == (2, 1), done
    loaded = superuser.execute(
        "SELECT count(*) FROM raw.lead_import_rows WHERE team_id = %s", (team.team_id,)
    ).fetchone()[0]
    assert loaded == 2

    names = {"ge_raw_lead_import_rows", "ge_raw_call_log_import_rows", "ge_raw_import_rejects"}
    result = run_checks(definitions.defs, instance, names)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert result.success, {n: e.description for n, e in evaluations.items()}
    assert all(e.passed for e in evaluations.values())
