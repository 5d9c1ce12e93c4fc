"""Duplicates (same email, any case) against live leads and inside the file, under each policy;
the events every imported or updated lead gets; linking leads to accounts by domain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.records.conftest import new_account, new_lead, uniq
from tests.conftest import Team
from tests.ingestion.conftest import (
    Sql,
    csv_bytes,
    import_file,
    leads_by_email,
    run_queued,
    upload,
)

HEADER = ["First Name", "Last Name", "Email", "Title", "Company", "Phone", "Rating", "Lead Status"]


async def _existing(team: Team, tag: str) -> dict[str, dict[str, Any]]:
    a = await new_lead(
        team, first_name="Ann", email=f"a-{tag}@dup.example", rating=3, status="contacted"
    )
    b = await new_lead(
        team, first_name="Bea", email=f"b-{tag}@dup.example", phone="+1 555 0001", title=""
    )
    return {"a": a, "b": b}


def _file(tag: str) -> bytes:
    return csv_bytes(
        [
            HEADER,
            ["Annie", "", f"A-{tag.upper()}@DUP.example", "CEO", "", "", "4.5", "Qualified"],
            ["New", "One", f"new-{tag}@dup.example", "", "", "", "", ""],
            ["", "", f"NEW-{tag}@dup.example", "CTO", "NewCo", "", "2", "contacted"],
            ["", "Bee", f"b-{tag}@dup.example", "Boss", "", "+1 555 0002", "", ""],
            ["No", "Mail", "", "", "NoMail Ltd", "", "", ""],
        ]
    )


EXPECTED = {  # (imported, updated, skipped_duplicates)
    "skip": (2, 0, 3),
    "update": (2, 3, 0),
    "merge": (2, 3, 0),
}


@pytest.mark.parametrize("policy", ["skip", "update", "merge"])
async def test_duplicate_policies(team: Team, sql: Sql, policy: str) -> None:
    tag = uniq("d")
    before = await _existing(team, tag)
    done = await import_file(team, _file(tag), policy=None if policy == "skip" else policy)
    assert done["duplicate_policy"] == policy
    assert (done["imported"], done["updated"], done["skipped_duplicates"]) == EXPECTED[policy]
    assert done["total_rows"] == 5 and done["rejected"] == 0
    leads = await leads_by_email(sql, team.team_id)
    # Never a second live lead for an email, whatever the case.
    counts = await sql.all(
        "SELECT email_normalized, count(*) AS n FROM app.leads WHERE team_id = %s "
        "AND deleted_at IS NULL AND email_normalized IS NOT NULL GROUP BY 1 HAVING count(*) > 1",
        team.team_id,
    )
    assert counts == []
    a, b = leads[f"a-{tag}@dup.example"], leads[f"b-{tag}@dup.example"]
    new = leads[f"new-{tag}@dup.example"]
    nomail = await sql.one(
        "SELECT * FROM app.leads WHERE team_id = %s AND company_name = 'NoMail Ltd'", team.team_id
    )
    assert nomail is not None and nomail["first_name"] == "No"
    assert a["id"] == before["a"]["id"] and b["id"] == before["b"]["id"]
    if policy == "skip":
        assert (a["first_name"], a["title"], float(a["rating"])) == ("Ann", None, 3.0)
        assert a["version"] == 1 and b["version"] == 1
        assert (new["first_name"], new["title"], new["company_name"]) == ("New", None, None)
    elif policy == "update":  # the file's values win; empty cells change nothing
        assert (a["first_name"], a["title"], float(a["rating"])) == ("Annie", "CEO", 4.5)
        assert a["status"] == "qualified" and a["email"] == f"a-{tag}@dup.example"
        assert (b["first_name"], b["last_name"], b["phone"], b["title"]) == (
            "Bea", "Bee", "+1 555 0002", "Boss"
        )  # fmt: skip
        # The in-file duplicate was folded into the new lead (later values win).
        assert (new["first_name"], new["title"], new["company_name"]) == ("New", "CTO", "NewCo")
        assert float(new["rating"]) == 2 and new["status"] == "contacted"
    else:  # merge: only empty fields are filled
        assert (a["first_name"], a["title"], float(a["rating"])) == ("Ann", "CEO", 3.0)
        assert a["status"] == "contacted"
        assert (b["last_name"], b["phone"], b["title"]) == ("Bee", "+1 555 0001", "Boss")
        assert (new["first_name"], new["title"], new["company_name"]) == ("New", "CTO", "NewCo")

    # Events: one created per new lead, one updated per lead that changed, in the format of
    # warehouse/events.py (changes = {field: [before, after]}), tagged with the import.
    evts = await sql.all(
        "SELECT * FROM app.events WHERE team_id = %s AND data->>'import_id' = %s ORDER BY id",
        team.team_id,
        done["id"],
    )
    created = [e for e in evts if e["action"] == "created"]
    updated = [e for e in evts if e["action"] == "updated"]
    assert {e["object_id"] for e in created} == {new["id"], nomail["id"]}
    assert len(created) == 2 and all(e["object_type"] == "lead" for e in evts)
    assert all(e["actor_type"] == "member" and e["actor_id"] == team.member_id for e in evts)
    for e in created:
        row = new if e["object_id"] == new["id"] else nomail
        for field in ("id", "first_name", "last_name", "email", "title", "company_name", "status",
                      "created_by", "custom"):  # fmt: skip
            if row[field] is not None:
                assert e["changes"][field] == [None, row[field]], field
            else:
                assert field not in e["changes"], field
        assert e["changes"]["created_at"][0] is None and e["changes"]["created_at"][1]
        assert "updated_at" not in e["changes"] and "version" not in e["changes"]
        assert "team_id" not in e["changes"] and "email_normalized" not in e["changes"]
        assert e["data"] == {"import_id": done["id"]}
    if policy == "skip":
        assert updated == []
    else:
        assert {e["object_id"] for e in updated} == {a["id"], b["id"]}
        ev_a = next(e for e in updated if e["object_id"] == a["id"])
        if policy == "update":
            assert ev_a["changes"] == {
                "first_name": ["Ann", "Annie"],
                "title": [None, "CEO"],
                "rating": [3.0, 4.5],
                "status": ["contacted", "qualified"],
            }
        else:
            assert ev_a["changes"] == {"title": [None, "CEO"]}
        assert ev_a["data"]["row"] == 2
    # The history API replays these events like any other.
    r = await team.get(f"/api/v1/leads/{new['id']}/history")
    assert r.status_code == 200 and r.json()["data"][0]["action"] == "created"
    r = await team.get(f"/api/v1/leads/{a['id']}")
    assert r.json()["version"] == a["version"]


async def test_reimporting_the_same_file_skips_every_row(team: Team, sql: Sql) -> None:
    tag = uniq("r")
    content = csv_bytes(
        [["Email", "Company"], *[[f"r{i}-{tag}@re.example", "Re"] for i in range(5)]]
    )
    first = await import_file(team, content)
    again = await import_file(team, content)
    assert first["imported"] == 5 and again["imported"] == 0
    assert again["skipped_duplicates"] == 5
    n = await sql.one(
        "SELECT count(*) AS n FROM app.leads WHERE team_id = %s AND email LIKE %s",
        team.team_id,
        f"%-{tag}@re.example",
    )
    assert n is not None and n["n"] == 5


async def test_company_domain_links_the_lead_to_the_account(team: Team, sql: Sql) -> None:
    tag = uniq("l")
    account = await new_account(team, domain=f"{tag}.example.com")
    other = await new_account(team, website=f"https://www.other-{tag}.io/home")
    content = csv_bytes(
        [
            ["Email", "Website", "Company"],
            [f"web@x-{tag}.io", f"https://www.{tag}.example.com/pricing", "By Website"],
            [f"person@{tag}.EXAMPLE.com", "", "By Email"],
            [f"someone-{tag}@gmail.com", "", "Free Mail"],
            ["", f"other-{tag}.io", "Other"],
            [f"nobody@unknown-{tag}.io", "", "Unknown"],
        ]
    )
    await import_file(team, content)
    rows = await sql.all(
        "SELECT company_name, custom FROM app.leads WHERE team_id = %s", team.team_id
    )
    links = {r["company_name"]: r["custom"].get("account_id") for r in rows}
    assert links["By Website"] == account["id"]
    assert links["By Email"] == account["id"]
    assert links["Other"] == other["id"]
    assert links["Free Mail"] is None and links["Unknown"] is None
    # Filterable like any custom field.
    r = await team.get("/api/v1/leads", params={"filter[custom.account_id]": account["id"]})
    assert {x["company_name"] for x in r.json()["data"]} == {"By Website", "By Email"}


async def test_created_events_replay_to_the_imported_leads(
    team: Team, sql: Sql, import_env: Callable[[str, str], None]
) -> None:
    """The created events (their file fields built as JSON by DuckDB while staging) replay to
    exactly the leads the API returns, whatever the values hold; batches written on several
    connections are each recorded once in the ledger."""
    import_env("LEADLY_IMPORT_BATCH_SIZE", "2")
    tag = uniq("j")
    rows = [
        [
            'Zoë "Q" O\'Neil',
            "Back\\slash",
            f"zoe-{tag}@json.example",
            "CEO, \u2028Ops",
            "",
            "",
            "4.96",
            "Qualified",
        ],
        [
            "Tab\there",
            "Ctrl\x01Char",
            f"ctrl-{tag}@json.example",
            "",
            "ÆØÅ Ltd",
            "+1 555 0100",
            "0",
            "",
        ],
        ["Emoji 🚀", "", f"emoji-{tag}@json.example", "", "", "", "5", "working"],
        ["", "", "", "", f"Only Co {tag}", "", "", ""],
        ["Num", "Bers", f"num-{tag}@json.example", "", "", "", "3,5", "new"],
    ]
    done = await import_file(team, csv_bytes([HEADER, *rows]))
    assert (done["imported"], done["rejected"], done["batches_total"]) == (5, 0, 3)
    assert done["batches_done"] == 3
    ledger = await sql.all(
        "SELECT batch_no FROM raw.import_batches WHERE team_id = %s AND import_id = %s "
        "ORDER BY batch_no",
        team.team_id,
        done["id"],
    )
    assert [r["batch_no"] for r in ledger] == [0, 1, 2]
    ids = await sql.all(
        "SELECT object_id FROM app.events WHERE team_id = %s AND data->>'import_id' = %s "
        "AND action = 'created'",
        team.team_id,
        done["id"],
    )
    assert len(ids) == 5
    later = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    seen = set()
    for r in ids:
        url = f"/api/v1/leads/{r['object_id']}"
        live = (await team.get(url)).json()
        replayed = await team.get(url, params={"as_of": later})
        assert replayed.status_code == 200, replayed.text
        assert replayed.json() == live
        seen.add((live["first_name"], live["last_name"], live["rating"]))
    assert ('Zoë "Q" O\'Neil', "Back\\slash", 5.0) in seen  # 4.96 rounded to one decimal
    assert ("Tab\there", "Ctrl\x01Char", 0.0) in seen
    assert ("Num", "Bers", 3.5) in seen  # decimal comma


class _Stop(BaseException):
    """Stops a runner the way a crash would: nothing after it runs, nothing is marked failed."""


async def test_rows_landed_without_event_json_still_get_their_events(
    team: Team, sql: Sql, import_env: Callable[[str, str], None]
) -> None:
    """Rows landed by an earlier version (no ``changes`` JSON, e.g. an import running during
    an upgrade) get the same created events, built by the database."""
    from ingestion.runner import run_import

    import_env("LEADLY_IMPORT_BATCH_SIZE", "2")
    tag = uniq("l")
    rows = [
        ["Old", "Row", f"old-{tag}@legacy.example", "CEO", "Legacy Co", "+1 555 0200", "4.5", ""],
        ["Second", "", f"second-{tag}@legacy.example", "", "", "", "", "qualified"],
        ["", "", "", "", f"No Mail {tag}", "", "", ""],
    ]
    r = await upload(team, csv_bytes([HEADER, *rows]), "legacy.csv")
    assert r.status_code == 202, r.text
    imp_id = r.json()["id"]

    def stop_once_staged(row: dict[str, Any]) -> None:
        if row["staged_at"] is not None:
            raise _Stop

    with pytest.raises(_Stop):
        await run_import(team.team_id, imp_id, progress=stop_once_staged)
    cleared = await sql.one(
        "WITH u AS (UPDATE raw.lead_import_rows SET changes = NULL WHERE team_id = %s "
        "AND import_id = %s RETURNING 1) SELECT count(*) AS n FROM u",
        team.team_id,
        imp_id,
    )
    assert cleared == {"n": 3}
    done = await run_queued(team, imp_id)
    assert (done["status"], done["imported"], done["batches_done"]) == ("completed", 3, 2)
    evts = await sql.all(
        "SELECT object_id, changes FROM app.events WHERE team_id = %s "
        "AND data->>'import_id' = %s AND action = 'created'",
        team.team_id,
        imp_id,
    )
    assert len(evts) == 3
    later = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    for e in evts:
        url = f"/api/v1/leads/{e['object_id']}"
        live = (await team.get(url)).json()
        assert (await team.get(url, params={"as_of": later})).json() == live
        assert e["changes"]["id"] == [None, live["id"]]
        assert e["changes"]["status"] == [None, live["status"]]
