"""Hostile input on every operation of the OpenAPI document: never a 500, always a problem
document, never a write by a refused request.

The sweep is driven by the app's own ``/api/v1/schema/openapi.json``. For each operation (one
test each, so a failure names the route) it sends, as the owner of a fresh team:

* for a JSON body: a valid-looking base body built from the schema (``$ref``s resolved,
  required fields filled, references naming real records of the team), then one hostile value
  per field at a time (wrong JSON types, null, extreme numbers, over-long strings, NUL and lone
  surrogate escapes, edge dates and times, deep nesting, 10,001-item arrays, another team's
  ids), unknown fields, and bodies that are empty, an array, invalid JSON;
* for path parameters: unknown well-formed ids, another team's ids, garbage;
* for GET: hostile query parameters (filters with bad values and edge dates, unknown sort
  fields, limits, cursors, and the hand-read parameters of the non-list routes).

Every answer must be below 500; a 4xx must be ``application/problem+json`` whose ``status`` is
the HTTP status; and a 4xx must leave both teams' rows exactly as they were: every ``app``
table with a ``team_id`` is counted and hashed (row by row) after each request.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import psycopg
import pytest

from api.reports import service as reports_service
from tests.api.hostile_input.cases import (
    JSON_HEADERS,
    Case,
    Footprint,
    batch_cases,
    body_cases,
    changed,
    hand_read,
    header_cases,
    multipart_cases,
    path_cases,
    query_cases,
)
from tests.api.hostile_input.operations import (
    API,
    DOC,
    DOC_URL,
    FORM_CALLBACKS,
    MULTIPART,
    OPERATIONS,
    UNDOCUMENTED_BODIES,
    _operations,
)
from tests.api.hostile_input.values import Ctx, Schemas, wanted_kinds
from tests.api.hostile_input.world import RECORD_PATHS, World, path_kind
from tests.conftest import Team, assert_problem, make_team

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client from an address of its own: the sweep's failed logins throttle no other test."""
    address = f"198.51.100.{secrets.randbelow(250) + 1}"
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://leadly.test", timeout=60
    ) as c:
        yield c


@pytest.fixture(scope="module")
async def served(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get(DOC_URL)
    assert r.status_code == 200
    doc = r.json()
    assert _operations(doc) == _operations(DOC), "the served document is the collected one"
    return doc


@pytest.fixture(scope="module")
async def footprint(database_url: str) -> AsyncIterator[Footprint]:
    url = os.environ["LEADLY_DATABASE_URL"]
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        cur = await conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND (c.relname = 'teams' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE "
            "a.attrelid = c.oid AND a.attname = 'team_id' AND NOT a.attisdropped)) "
            "ORDER BY 1"
        )
        tables = [r[0] for r in await cur.fetchall()]
        assert {"leads", "events", "tasks", "teams", "notifications"} <= set(tables)
        yield Footprint(conn, tables)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def theirs(client: httpx.AsyncClient) -> World:
    """Another team (module-wide: its records are made once) whose ids the sweep sends."""
    return World(await make_team(client))


# --------------------------------------------------------------------------- the sweep


# Answers of 500 and above the sweep accepts: not a client's input but the server's set-up.
SERVER_STATES = {("GET", f"{API}/push-subscriptions/vapid-public-key"): 503}  # Web Push unset


def verdict(r: httpx.Response, allowed: int | None = None) -> str | None:
    """Why an answer breaks the contract, or None."""
    if r.status_code >= 500 and r.status_code != allowed:
        return f"{r.status_code}: {r.text[:300]}"
    ctype = r.headers.get("content-type", "")
    if 400 <= r.status_code < 600:
        if not ctype.startswith("application/problem+json"):
            return f"{r.status_code} as {ctype!r}: {r.text[:200]}"
        try:
            body = r.json()
        except ValueError:
            return f"{r.status_code}: the problem document is not JSON"
        missing = {"type", "title", "status", "detail"} - set(body)
        if missing or body.get("status") != r.status_code:
            return f"{r.status_code}: bad problem document {str(body)[:200]}"
    elif ctype.startswith("application/json") and r.status_code == 200:
        body = r.json()
        if isinstance(body, dict) and isinstance(body.get("results"), list):  # a batch
            bad = [x for x in body["results"] if isinstance(x, dict) and x.get("status", 0) >= 500]
            if bad:
                return f"a batch item answered {bad[0]}"[:300]
    return None


def json_schema(op: dict[str, Any]) -> Any:
    return op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")


def list_fields(schemas: Schemas, op: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """The fields of a list's items (``filter[...]``, ``sort``), or None: not a list."""
    content = op.get("responses", {}).get("200", {}).get("content", {})
    shape = schemas.resolve(next(iter(content.values()), {}).get("schema", {}))
    props = shape.get("properties") or {}
    if not {"data", "next_cursor", "has_more"} <= set(props):
        return None
    item = schemas.resolve(schemas.resolve(props["data"]).get("items", {}))
    return {n: schemas.resolve(x) for n, x in (item.get("properties") or {}).items()}


async def cases_for(
    method: str, path: str, op: dict[str, Any], served: dict[str, Any], me: World, theirs: World
) -> list[Case]:
    """Every request the sweep sends to one operation, in order (the base body last: a valid
    one may change the records the others name)."""
    schemas = Schemas(served)
    ctx = Ctx(method, path, me, theirs)
    body_schema = json_schema(op)
    if (method, path) in UNDOCUMENTED_BODIES:
        assert body_schema is None, "documented now: drop it from UNDOCUMENTED_BODIES"
        module, name = UNDOCUMENTED_BODIES[(method, path)].split(":")
        struct = getattr(__import__(module, fromlist=[name]), name)
        body_schema = schemas.add(msgspec.json.schema(struct))
    create = (
        json_schema(served["paths"][path.removesuffix("/batch")]["post"])
        if path.endswith("/batch")
        else None
    )
    names = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]

    # The records the base values, path parameters and variants name: mine and theirs.
    kinds = {path_kind(path, n) for n in names}
    kinds |= wanted_kinds(ctx, schemas, body_schema) | wanted_kinds(ctx, schemas, create)
    if create is not None:
        kinds.add(RECORD_PATHS[path.split("/")[3]])
    for k in sorted(kinds):
        ctx.ids[k] = await me.id(k)
        ctx.their_ids[k] = await theirs.id(k)
    url = path
    for n in names:
        url = url.replace("{" + n + "}", quote(ctx.ids[path_kind(path, n)], safe=""))

    cases: list[Case] = []
    if (method, path) in MULTIPART:
        cases += multipart_cases(url)
    elif (method, path) in FORM_CALLBACKS:
        form = {"content-type": "application/x-www-form-urlencoded"}
        cases.append(Case("garbage form", method, url, b"\x00=\xff&MessageStatus=delivered", form))
    elif create is not None:
        cases += batch_cases(ctx, schemas, url, create)
        cases += [c for c in body_cases(ctx, schemas, url, body_schema) if ":" not in c.label]
    elif body_schema is not None:
        cases += body_cases(ctx, schemas, url, body_schema)
    elif method != "GET":
        cases += [
            Case("an unexpected body", method, url, b'{"zz": [1e400]}', JSON_HEADERS),
            Case("an unexpected invalid body", method, url, b"{bad", JSON_HEADERS),
        ]
    base = cases.pop() if cases and cases[-1].label == "the base body" else None
    if names:
        cases += path_cases(ctx, path, names, base.content if base else None)
    if method != "GET" and (method, path) not in MULTIPART | FORM_CALLBACKS:
        cases += header_cases(method, url, base.content if base else None)
    fields = list_fields(schemas, op) if method == "GET" and not names else None
    if method == "GET" or hand_read(path):
        cases += query_cases(method, path, url, fields)
    if base is not None:
        cases.append(base)
    return cases


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_hostile_input(
    method: str,
    path: str,
    team: Team,
    client: httpx.AsyncClient,
    served: dict[str, Any],
    footprint: Footprint,
    theirs: World,
) -> None:
    me = World(Team(client, team.token, team.team_id, team.member_id, team.email, team.password))
    cases = await cases_for(method, path, served["paths"][path][method.lower()], served, me, theirs)
    allowed = SERVER_STATES.get((method, path))
    failures: list[str] = []
    mine = await footprint.of(team.team_id)
    others = await footprint.of(theirs.team.team_id)
    for case in cases:
        r = await client.request(
            case.method,
            case.url,
            content=case.content,
            params=case.params,
            headers={**me.team.headers, **case.headers},
        )
        problem = verdict(r, allowed)
        if problem:
            failures.append(f"{case.label}: {problem}")
        if method == "GET":  # reads write nothing, refused or not: checked once, at the end
            continue
        after = await footprint.of(team.team_id)
        if r.status_code >= 400 and changed(mine, after):
            failures.append(
                f"{case.label}: refused ({r.status_code}) but wrote {changed(mine, after)}"
            )
        mine = after
    # "Refresh now" starts a dbt build in a child process: wait for it (a barrier), or it may
    # outlive the run (the session's check of processes left behind fails the last test).
    await asyncio.gather(*(t for t in reports_service.refreshing.values() if not t.done()))
    if method == "GET":
        after = await footprint.of(team.team_id)
        if changed(mine, after):
            failures.append(f"{len(cases)} reads wrote {changed(mine, after)}")
    wrote = changed(others, await footprint.of(theirs.team.team_id))
    assert not wrote, f"another team's rows changed: {wrote}"
    assert not failures, (
        f"{len(failures)} of {len(cases)} requests broke the contract:\n" + "\n".join(failures[:40])
    )


# --------------------------------------------------------------------------- what the sweep found
# Each 500 the sweep found has a focused assertion: in the area's tests of bad input (records,
# auth, deals, tasks), or here for the timelines (whose tests another change is reshaping).


@pytest.mark.parametrize("url", [f"{API}/leads/{{lead}}/timeline", f"{API}/search/activities"])
async def test_to_on_the_last_date_is_a_400_naming_it(team: Team, url: str) -> None:
    """A date ``to`` includes that day: the day after 9999-12-31 overflowed into a 500."""
    r = await team.post(f"{API}/leads", json={"first_name": "Ada"})
    url = url.format(lead=r.json()["id"])
    q = {"q": "x"} if "search" in url else {}
    for to in ("9999-12-30", "9999-12-31T23:59:59Z"):
        r = await team.get(url, params={**q, "to": to})
        assert r.status_code == 200, (to, r.text)
    r = await team.get(url, params={**q, "to": "9999-12-31"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem")
    assert r.json()["errors"] == [{"field": "to", "message": "Out of range."}], r.text


async def test_a_custom_filter_on_an_object_without_custom_fields(team: Team) -> None:
    """Call logs have no custom fields of their own: ``filter[custom.x]`` and ``sort=custom.x``
    looked their table up among the objects that have (a 500): the filter compares ``custom`` as
    stored, the sort names no sortable field (a 400)."""
    lead = (await team.post(f"{API}/leads", json={"first_name": "Ada"})).json()["id"]
    assert (await team.post(f"{API}/call-logs", json={"lead_id": lead})).status_code == 201
    r = await team.get(f"{API}/call-logs", params={"filter[custom.hours]": "1"})
    assert r.status_code == 200 and r.json()["data"] == [], r.text
    r = await team.get(f"{API}/call-logs", params={"sort": "custom.hours"})
    assert assert_problem(r, 400)["errors"][0]["field"] == "sort"
