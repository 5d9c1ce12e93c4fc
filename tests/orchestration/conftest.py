"""Fixtures for the Dagster tests: the definitions (loaded once the test database exists, so
``dbt parse`` can render the profile), a demo team's data, and one nightly + one incremental
build of the dbt assets run in-process against the test database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url


@dataclass
class Builds:
    nightly: Any  # dagster ExecuteInProcessResult
    incremental: Any
    team_id: str
    new_event_id: int
    """An event appended between the two builds (only the incremental build can load it)."""


def admin_connect(database_url: str) -> psycopg.Connection:
    """A superuser connection (to plant bad rows the API would refuse)."""
    url = make_url(database_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


@pytest.fixture(scope="session")
def superuser(database_url: str) -> Iterator[psycopg.Connection]:
    with admin_connect(database_url) as conn:
        yield conn


@pytest.fixture(scope="session")
def definitions(database_url: str) -> Any:
    """The module ``orchestration.definitions`` (its ``defs``), loaded for the test database."""
    from orchestration import definitions as module

    return module


@pytest.fixture(scope="session")
def instance() -> Iterator[Any]:
    import dagster as dg

    inst = dg.DagsterInstance.ephemeral()
    try:
        yield inst
    finally:
        inst.dispose()


@pytest.fixture(scope="session")
async def demo_team(app: Any) -> str:
    """A small demo team written through the domain services (members, accounts, contacts,
    leads, calls, and their events)."""
    from api.seed import DemoSizes
    from api.seed.demo import DemoExists, demo_team_id, load_demo

    try:
        result = await load_demo(DemoSizes(leads=120, accounts=15, contacts=40, calls=80))
    except DemoExists:  # tests/cli/test_seed.py seeded this database's demo team already
        team_id = await demo_team_id()
        assert team_id is not None
        return team_id
    return result.team_id


@pytest.fixture(scope="session")
def builds(
    definitions: Any, demo_team: str, instance: Any, superuser: psycopg.Connection
) -> Builds:
    """The nightly full build (with snapshots), then one more event, then an incremental build,
    as the schedules would launch them (the jobs' own config and checks)."""
    defs = definitions.defs
    nightly = defs.resolve_job_def("dbt_nightly_full_build").execute_in_process(
        instance=instance, raise_on_error=False
    )
    lead_id = superuser.execute(
        "SELECT id FROM app.leads WHERE team_id = %s LIMIT 1", (demo_team,)
    ).fetchone()[0]
    event_id = superuser.execute(
        "INSERT INTO app.events (team_id, actor_type, object_type, object_id, action, changes)"
        " VALUES (%s, 'system', 'lead', %s, 'updated',"
        ' \'{"title": [null, "Head of Incremental"]}\'::jsonb) RETURNING id',
        (demo_team, lead_id),
    ).fetchone()[0]
    incremental = defs.resolve_job_def("dbt_incremental_build").execute_in_process(
        instance=instance, raise_on_error=False
    )
    return Builds(nightly, incremental, demo_team, event_id)
