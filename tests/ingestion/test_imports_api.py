"""The imports API: preview, status and list, bad input (4xx problems, never a 500), tenant
isolation, scopes, idempotency, and call-log imports through the same pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from tests.api.records.conftest import add_member, new_contact, new_lead, uniq
from tests.conftest import Team, assert_problem
from tests.ingestion.conftest import (
    Sql,
    csv_bytes,
    import_file,
    rejects_of,
    run_queued,
    upload,
    xlsx_bytes,
)


def _small(tag: str) -> bytes:
    return csv_bytes(
        [
            ["Full Name", "E-mail Address", "Organisation", "Notes"],
            ["Ada Lovelace", f"ada-{tag}@calc.example", "Analytical", "likes engines"],
            ["Smith, John", f"john-{tag}@calc.example", "Smithy", ""],
        ]
    )


async def test_preview_suggests_a_mapping_and_stores_nothing(team: Team, sql: Sql) -> None:
    before = await sql.count("imports", team.team_id)
    r = await upload(team, _small(uniq()), "people.csv", path="/api/v1/imports/preview")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["Full Name", "E-mail Address", "Organisation", "Notes"]
    assert body["suggested_mapping"] == {
        "Full Name": "full_name",
        "E-mail Address": "email",
        "Organisation": "company_name",
        "Notes": None,
    }
    assert body["unmapped"] == ["Notes"]
    assert body["delimiter"] == "," and body["encoding"] == "utf-8"
    assert body["total_rows_estimate"] == 2 and len(body["sample_rows"]) == 2
    assert body["sample_rows"][1]["Full Name"] == "Smith, John"
    assert "email" in body["fields"] and body["object"] == "leads"
    assert await sql.count("imports", team.team_id) == before


async def test_status_list_and_mapping_override(team: Team, sql: Sql) -> None:
    tag = uniq()
    done = await import_file(
        team,
        _small(tag),
        "people.csv",
        mapping={"Notes": "custom.notes", "Organisation": None},
    )
    assert done["mapping"]["Notes"] == "custom.notes" and done["mapping"]["Organisation"] is None
    assert done["file_name"] == "people.csv" and done["object"] == "leads"
    assert done["created_at"] and done["finished_at"] and done["error"] is None
    lead = await sql.one(
        "SELECT * FROM app.leads WHERE team_id = %s AND email = %s",
        team.team_id,
        f"ada-{tag}@calc.example",
    )
    assert lead is not None
    assert (lead["first_name"], lead["last_name"]) == ("Ada", "Lovelace")
    assert lead["company_name"] is None and lead["custom"] == {"notes": "likes engines"}
    john = await sql.one(
        "SELECT * FROM app.leads WHERE team_id = %s AND email = %s",
        team.team_id,
        f"john-{tag}@calc.example",
    )
    assert john is not None and (john["first_name"], john["last_name"]) == ("John", "Smith")
    assert john["custom"] == {}

    r = await team.get("/api/v1/imports", params={"limit": 1})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["data"][0]["id"] == done["id"] and set(page) == {"data", "next_cursor", "has_more"}
    r = await team.get("/api/v1/imports", params={"filter[status]": "completed"})
    assert done["id"] in [x["id"] for x in r.json()["data"]]
    assert "stored_path" not in done and "file_sha256" not in done
    # The import's own events: created (queued), then running, then completed.
    evts = await sql.events(done["id"])
    assert [e["action"] for e in evts] == ["created", "updated", "updated"]
    assert evts[-1]["changes"]["status"] == ["running", "completed"]


async def test_bad_input_is_a_problem_never_a_500(
    team: Team, import_env: Callable[[str, str], None]
) -> None:
    ok = _small(uniq())
    cases = [
        (await upload(team, ok, obj="unicorns"), 422, "object"),
        (await upload(team, ok, obj=None), 422, "object"),
        (await upload(team, b"", "empty.csv"), 422, "file"),
        (await upload(team, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "logo.csv"), 422, "file"),
        (await upload(team, b"First Name,Email\r\n", "header-only.csv"), 422, "file"),
        (await upload(team, b"PK\x03\x04garbage", "broken.xlsx"), 422, "file"),
        (await upload(team, b"Colour,Shape\nred,round\n", "nothing.csv"), 422, "file"),
        (await upload(team, ok, mapping={"Nope": "email"}), 422, "mapping.Nope"),
        (await upload(team, ok, mapping={"Notes": "shoe_size"}), 422, "mapping.Notes"),
        (await upload(team, ok, policy="overwrite"), 422, "duplicate_policy"),
    ]
    for r, status, field in cases:
        body = assert_problem(r, status)
        assert field in [e["field"] for e in body.get("errors", [])], body
    r = await team.post("/api/v1/imports", data={"mapping": "{not json", "object": "leads"},
                        files={"file": ("a.csv", ok)})  # fmt: skip
    assert_problem(r, 422)
    r = await team.post("/api/v1/imports", json={"object": "leads"})
    assert_problem(r, 415)
    r = await team.post("/api/v1/imports", data={"object": "leads"})
    assert_problem(r, 415)  # urlencoded form: no file
    r = await team.post(
        "/api/v1/imports",
        content=b'--xyz\r\nContent-Disposition: form-data; name="object"\r\n\r\nleads',
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert r.status_code in (400, 422), r.text
    import_env("LEADLY_IMPORT_MAX_BYTES", "1000")
    big = csv_bytes([["Email"], *[[f"u{i}@big.example"] for i in range(200)]])
    body = assert_problem(await upload(team, big, "big.csv"), 413)
    assert body["max_bytes"] == 1000
    boundary = "leadlytestboundary"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="object"\r\n\r\nleads\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + big
        + f"\r\n--{boundary}--\r\n".encode()
    )

    async def chunked() -> AsyncIterator[bytes]:
        for i in range(0, len(multipart), 512):
            yield multipart[i : i + 512]

    r = await team.post(  # no Content-Length up front: the limit is enforced while reading
        "/api/v1/imports",
        content=chunked(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_problem(r, 413)
    r = await team.get("/api/v1/imports/imp_00000000000000000000000000")
    assert_problem(r, 404)
    r = await team.get("/api/v1/imports/not-an-id/rejects")
    assert_problem(r, 404)


async def test_imports_of_another_team_are_invisible(
    team: Team, other_team: Team, sql: Sql
) -> None:
    tag = uniq()
    done = await import_file(team, _small(tag))
    for url in (f"/api/v1/imports/{done['id']}", f"/api/v1/imports/{done['id']}/rejects"):
        assert_problem(await other_team.get(url), 404)
    r = await other_team.get("/api/v1/imports")
    assert done["id"] not in [x["id"] for x in r.json()["data"]]
    # The other team's import only writes into the other team, even for the same emails.
    theirs = await import_file(other_team, _small(tag))
    assert theirs["imported"] == 2
    assert await sql.count("leads", other_team.team_id) == 2
    rows = await sql.all(
        "SELECT DISTINCT team_id FROM raw.lead_import_rows WHERE import_id = %s", theirs["id"]
    )
    assert rows == [{"team_id": other_team.team_id}]
    # The landing tables are not readable by the API role except through the team views.
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    from warehouse.db import api_engine, tenant_tx

    async with tenant_tx(api_engine(), team.team_id) as conn:
        seen = await conn.execute(text("SELECT DISTINCT team_id FROM raw.team_lead_import_rows"))
        assert {r[0] for r in seen} == {team.team_id}
    with pytest.raises(ProgrammingError, match="permission denied"):
        async with tenant_tx(api_engine(), team.team_id) as conn:
            await conn.execute(text("SELECT count(*) FROM raw.lead_import_rows"))


async def test_scopes_and_roles(team: Team) -> None:
    guest = await add_member(team, "guest")
    assert_problem(await upload(guest, _small(uniq())), 403)
    r = await team.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["imports:read"]})
    assert r.status_code == 201, r.text
    reader = team.as_token(r.json()["key"])
    assert_problem(await upload(reader, _small(uniq())), 403)
    r = await team.post("/api/v1/api-keys", json={"name": "rw", "scopes": ["imports:write"]})
    writer = team.as_token(r.json()["key"])
    body = assert_problem(await upload(writer, _small(uniq())), 403)  # lacks leads:write
    assert body["required_scope"] == "leads:write"


async def test_idempotency_key_replays_the_upload(team: Team, sql: Sql) -> None:
    content = _small(uniq())
    key = {"Idempotency-Key": uniq("k")}
    first = await upload(team, content, headers=key)
    again = await upload(team, content, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = await upload(team, content + b"x,y,z,w\r\n", headers=key)
    assert_problem(other, 422)
    await run_queued(team, first.json()["id"])


async def test_call_logs_import(team: Team, sql: Sql) -> None:
    tag = uniq()
    lead = await new_lead(team, email=f"caller-{tag}@calls.example")
    contact = await new_contact(team, email=f"contact-{tag}@calls.example")
    rows = [
        ["Lead Email", "Contact", "Rep Email", "Direction", "Start Time", "Duration", "Outcome",
         "Notes"],
        [lead["email"].upper(), "", team.email, "Incoming", "2026-03-04 10:15", "2:30",
         "Connected", "Asked for pricing"],
        [lead["id"], "", "", "out", "03/05/2026 4:00 PM", "45", "Voicemail", ""],
        ["", contact["email"], "", "", "", "", "No answer", ""],
        [f"ghost-{tag}@calls.example", "", "", "", "", "", "", ""],
        [lead["email"], "", "nobody@nowhere.example", "sideways", "yesterday-ish", "-5", "", ""],
    ]  # fmt: skip
    done = await import_file(team, xlsx_bytes(rows), "calls.xlsx", obj="call_logs")
    assert done["object"] == "call_logs"
    assert (done["imported"], done["rejected"], done["total_rows"]) == (3, 2, 5)
    calls = await sql.all(
        "SELECT * FROM app.call_logs WHERE team_id = %s ORDER BY started_at", team.team_id
    )
    assert len(calls) == 3
    by_outcome = {c["outcome"]: c for c in calls}
    c1 = by_outcome["Connected"]
    assert c1["lead_id"] == lead["id"] and c1["direction"] == "inbound"
    assert c1["duration"] == 150 and c1["member_id"] == team.member_id
    assert c1["started_at"].isoformat().startswith("2026-03-04T10:15:00")
    c2 = by_outcome["Voicemail"]
    assert c2["lead_id"] == lead["id"] and c2["direction"] == "outbound"
    assert c2["started_at"].isoformat().startswith("2026-03-05T16:00:00")
    c3 = by_outcome["No answer"]
    assert c3["contact_id"] == contact["id"] and c3["lead_id"] is None
    rejects = await rejects_of(team, done["id"])
    assert [r["row"] for r in rejects] == ["5", "6"]
    assert "no lead with email or id" in rejects[0]["reason"]
    reason = rejects[1]["reason"]
    for part in ("member", "direction", "started_at", "duration"):
        assert part in reason, reason
    evts = await sql.all(
        "SELECT * FROM app.events WHERE team_id = %s AND object_type = 'call_log' "
        "AND data->>'import_id' = %s",
        team.team_id,
        done["id"],
    )
    assert sorted(e["object_id"] for e in evts) == sorted(c["id"] for c in calls)
    assert all(e["action"] == "created" and e["changes"]["duration"][0] is None for e in evts)
