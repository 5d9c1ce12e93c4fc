"""Harness of the Streamlit app tests: a real API server (uvicorn, in a child process) on the
session's test database, two teams seeded through it, and the reporting models built from their
data, so the pages run exactly as in production: API calls over HTTP, rpt_ reads as the
dashboard role."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.plugin import MAILBOX, PASSWORD, child, free_port, wait_http

REPORTS = ("rpt_lead_funnel", "rpt_daily_rollup")


@pytest.fixture(scope="session")
def api_url(database_url: str) -> Iterator[str]:
    """A real API server (``leadly api``) on the session's test database; the app's client
    finds it through ``LEADLY_API_URL``."""
    port = free_port()
    env = {
        **os.environ,
        "LEADLY_API_HOST": "127.0.0.1",
        "LEADLY_API_PORT": str(port),
        "LEADLY_API_WORKERS": "1",
    }
    base = f"http://127.0.0.1:{port}"
    with child([sys.executable, "-m", "leadly.launcher.cli", "api"], env, "api") as (proc, log):
        wait_http(base + "/api/v1/health", proc, log)
        os.environ["LEADLY_API_URL"] = base
        try:
            yield base
        finally:
            os.environ.pop("LEADLY_API_URL", None)


@pytest.fixture(scope="module")
def worker(api_url: str) -> Iterator[None]:
    """The dispatcher worker (``leadly worker``): it runs the imports uploaded to the API. Only
    while the module that asks for it runs, so other tests' deliveries are left alone."""
    with child(
        [sys.executable, "-m", "leadly.launcher.cli", "worker"], dict(os.environ), "worker"
    ) as (
        proc,
        log,
    ):
        time.sleep(1)
        assert proc.poll() is None, log.read_text()
        yield


@dataclass
class SeededTeam:
    """A team created through the API, with what the tests expect to see for it."""

    name: str
    team_id: str
    email: str
    token: str
    member_id: str
    leads_by_source: dict[str, int] = field(default_factory=dict)
    rep_email: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def leads(self) -> int:
        return sum(self.leads_by_source.values())


def _ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


def seed_team(
    base: str, name: str, leads: list[tuple[str, str, bool]], *, with_rep: bool = False
) -> SeededTeam:
    """Sign a team up and create ``leads`` as (source, status, owned by the rep) through the
    API; with ``with_rep``, invite a second member (the rep) first. Converted leads go through
    ``POST /leads/{id}/convert``, like a real conversion."""
    tag = secrets.token_hex(3)
    email = f"owner-{tag}@example.com"
    with httpx.Client(base_url=base + "/api/v1", timeout=30) as http:
        out = _ok(
            http.post(
                "/auth/signup",
                json={
                    "team_name": name,
                    "name": f"{name} Owner",
                    "email": email,
                    "password": PASSWORD,
                },
            ),
            201,
        )
        # The owner follows the verification link mailed to them (then signs in with a password).
        _ok(
            http.post("/auth/verify-email", json={"token": MAILBOX.take_token(email, "ldv_")}),
            200,
        )
        team = SeededTeam(name, out["team"]["id"], email, out["token"], out["member"]["id"])
        h = team.headers
        rep_id = None
        if with_rep:
            team.rep_email = f"rep-{tag}@example.com"
            _ok(
                http.post(
                    "/invitations", json={"email": team.rep_email, "role": "user"}, headers=h
                ),
                201,
            )
            token = MAILBOX.take_token(team.rep_email, "ldi_")
            acc = _ok(
                http.post(
                    f"/invitations/{token}/accept",
                    json={"name": f"{name} Rep", "password": PASSWORD},
                ),
                201,
            )
            rep_id = acc["member"]["id"]
        for i, (source, status, by_rep) in enumerate(leads):
            convert = status == "converted"
            lead = _ok(
                http.post(
                    "/leads",
                    json={
                        "first_name": f"Lead{i}",
                        "last_name": name.replace(" ", ""),
                        "email": f"lead{i}-{tag}@example.com",
                        "company_name": f"{name} Customer {i}",
                        "source": source,
                        "status": "qualified" if convert else status,
                        "rating": 3.5 + (i % 3) / 2,
                        "owner_id": rep_id if by_rep else team.member_id,
                    },
                    headers=h,
                ),
                201,
            )
            if convert:
                _ok(http.post(f"/leads/{lead['id']}/convert", headers=h), 201)
            team.leads_by_source[source] = team.leads_by_source.get(source, 0) + 1
            if i < 3:
                _ok(
                    http.post(
                        "/call-logs",
                        json={
                            "lead_id": lead["id"],
                            "member_id": team.member_id,
                            "started_at": dt.datetime.now(dt.UTC).isoformat(),
                            "duration": 120,
                            "outcome": "connected",
                        },
                        headers=h,
                    ),
                    201,
                )
    return team


ACME_LEADS = [
    ("website", "new", False),
    ("website", "contacted", False),
    ("website", "contacted", False),
    ("website", "qualified", False),
    ("website", "converted", False),
    ("referral", "new", True),
    ("referral", "new", True),
    ("referral", "contacted", True),
    ("referral", "qualified", True),
    ("linkedin", "new", False),
    ("linkedin", "new", False),
    ("linkedin", "unqualified", False),
]
GLOBEX_LEADS = [("cold_call", "contacted", False)] * 7


@pytest.fixture(scope="session")
def teams(api_url: str, database_url: str) -> dict[str, SeededTeam]:
    """Two teams with different numbers (Acme: 12 leads from website/referral/linkedin, two
    owners; Globex: 7 cold-call leads), then the reporting models built from them."""
    acme = seed_team(api_url, "Acme Dashboards", ACME_LEADS, with_rep=True)
    globex = seed_team(api_url, "Globex Dashboards", GLOBEX_LEADS)
    build_reports()
    return {"acme": acme, "globex": globex}


def build_reports() -> None:
    """Build the rpt_ models the pages read (and what they depend on) with the project's dbt
    runner, into a target folder of this test run."""
    from warehouse.dbt import dbt_env, run_dbt

    work = tempfile.mkdtemp(prefix="leadly-apps-dbt-")
    run_dbt(
        ["build", "--select", *(f"+{m}" for m in REPORTS)],
        env=dbt_env(target_path=f"{work}/target", log_path=f"{work}/logs"),
    )


def rpt_rows(database_url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read a reporting model with the test server's admin URL (no row-level security): the
    reference the pages' numbers are compared with."""
    from warehouse.db import connect_as

    with connect_as(database_url) as conn:
        return conn.execute(query, params).fetchall()
