"""Issue 22, the credential findings: calendar feeds that outlived their member and their key,
admins acting on owners, secrets kept by idempotency and written to the access log, CSV cells
that spreadsheets run as formulas."""

from __future__ import annotations

import csv
import io
import logging
import os
from typing import Any
from urllib.parse import urlsplit

import psycopg

from api.web.access_log import RedactSecrets, redact
from tests.api.auth.conftest import add_member, api_key
from tests.conftest import Team, assert_problem


def _kept_idempotency_rows(team: Team) -> int:
    from warehouse.db import libpq_url

    with psycopg.connect(libpq_url(os.environ["LEADLY_DATABASE_URL"]), autocommit=True) as c:
        row = c.execute(
            "SELECT count(*) FROM app.idempotency_keys WHERE team_id = %s", (team.team_id,)
        ).fetchone()
    return row[0] if row else 0


async def _feed(member: Team) -> tuple[dict[str, Any], str]:
    r = await member.post("/api/v1/calendar-feeds", json={"name": "Phone"})
    assert r.status_code == 201, r.text
    return r.json(), urlsplit(r.json()["url"]).path


async def test_api_keys_cannot_create_calendar_feeds(team: Team) -> None:
    key = await api_key(team, "tasks:read")
    r = await team.as_token(key["key"]).post("/api/v1/calendar-feeds", json={"name": "k"})
    assert_problem(r, 403)


async def test_a_feed_dies_with_its_members_deactivation(team: Team) -> None:
    rep = await add_member(team)
    feed, path = await _feed(rep)
    assert (await team.http.get(path)).status_code == 200
    r = await team.patch(f"/api/v1/members/{rep.member_id}", json={"is_active": False})
    assert r.status_code == 200, r.text
    assert_problem(await team.http.get(path), 404)
    from warehouse.db import libpq_url

    with psycopg.connect(libpq_url(os.environ["LEADLY_DATABASE_URL"]), autocommit=True) as c:
        revoked = c.execute(
            "SELECT revoked_at FROM app.calendar_feeds WHERE team_id = %s AND id = %s",
            (team.team_id, feed["id"]),
        ).fetchone()
        assert revoked is not None and revoked[0] is not None
        # Even a feed the deactivation did not revoke (written before this rule) answers 404.
        c.execute(
            "UPDATE app.calendar_feeds SET revoked_at = NULL WHERE team_id = %s AND id = %s",
            (team.team_id, feed["id"]),
        )
    assert_problem(await team.http.get(path), 404)


async def test_admins_cannot_act_on_owners(team: Team) -> None:
    admin = await add_member(team, "admin")
    user = await add_member(team, "user")
    owner_key = await api_key(team, "leads:read")
    owner_feed, owner_path = await _feed(team)
    for r in (
        await admin.patch(f"/api/v1/members/{team.member_id}", json={"name": "Renamed"}),
        await admin.delete(f"/api/v1/api-keys/{owner_key['id']}"),
        await admin.delete(f"/api/v1/calendar-feeds/{owner_feed['id']}"),
    ):
        assert_problem(r, 403)
    me = (await team.get("/api/v1/me")).json()["member"]
    assert me["name"] != "Renamed"
    assert (await team.as_token(owner_key["key"]).get("/api/v1/leads")).status_code == 200
    assert (await team.http.get(owner_path)).status_code == 200
    # Admins still manage the members below owner.
    user_key = await api_key(user, "leads:read")
    user_feed, _ = await _feed(user)
    r = await admin.patch(f"/api/v1/members/{user.member_id}", json={"name": "Renamed user"})
    assert r.status_code == 200, r.text
    assert (await admin.delete(f"/api/v1/api-keys/{user_key['id']}")).status_code == 204
    assert (await admin.delete(f"/api/v1/calendar-feeds/{user_feed['id']}")).status_code == 204


async def test_feed_urls_are_never_kept_for_idempotent_replay(team: Team) -> None:
    headers = {"Idempotency-Key": "feed-retry-1"}
    first = await team.post("/api/v1/calendar-feeds", json={"name": "a"}, headers=headers)
    second = await team.post("/api/v1/calendar-feeds", json={"name": "a"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["url"] != second.json()["url"]
    assert _kept_idempotency_rows(team) == 0


def test_feed_tokens_and_tickets_are_redacted_in_the_access_log() -> None:
    assert redact("/api/v1/calendar-feeds/ics/ldc_secret.ics") == (
        "/api/v1/calendar-feeds/ics/[redacted]"
    )
    assert redact("/api/v1/ws?ticket=rtk_team.secret&x=1") == "/api/v1/ws?ticket=[redacted]&x=1"
    # uvicorn's access record: (client, method, path, http version, status)
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/calendar-feeds/ics/ldc_abc.ics", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    assert "ldc_abc" not in record.getMessage() and "[redacted]" in record.getMessage()


async def test_exported_cells_never_start_a_formula(team: Team) -> None:
    attacks = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
    stored = []
    for i, value in enumerate(attacks):
        r = await team.post("/api/v1/leads", json={"first_name": value, "last_name": f"L{i}"})
        assert r.status_code == 201, r.text
        stored.append(r.json()["first_name"])
    r = await team.get("/api/v1/leads/export?format=csv&fields=first_name,last_name&sort=last_name")
    assert r.status_code == 200, r.text
    header, *rows = list(csv.reader(io.StringIO(r.text, newline="")))
    column = header.index("first_name")
    assert [row[column] for row in rows] == ["'" + v for v in stored]
    assert all(v[:1] in "=+-@\t\r" for v in stored)
