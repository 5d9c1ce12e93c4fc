"""Deal imports: Salesforce/HubSpot-style exports mapped automatically, every row through the deal
service's gate (required fields, win/loss reasons, stages by key or name), rejects with reasons,
events per created deal, tenant isolation, and ``leadly import deals``."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from tests.api.records.conftest import uniq
from tests.cli.conftest import ok, run_leadly
from tests.conftest import Team, assert_problem
from tests.ingestion.conftest import Sql, csv_bytes, import_file, rejects_of, upload


def _messy(tag: str, owner: str) -> bytes:
    """A Salesforce opportunity export with the usual mess: currency symbols, thousands
    separators, percent signs, US dates, stage names in any case, blank lines, N/A cells."""
    return csv_bytes(
        [
            ["Opportunity Name", "Amount", "Stage", "Close Date", "Probability (%)",
             "Opportunity Owner", "Loss Reason", "Next Step", "Region"],
            [f"{tag} Acme renewal", "$12,500.00", "Negotiation", "12/31/2026", "", owner,
             "", "Send contract", "EMEA"],
            [f"{tag} Beta pilot", "3 000", "contact made", "N/A", "35 %", "", "", "", ""],
            [f"{tag} Gamma", "", "Proposal Made", "2026-12-01", "", "", "", "", ""],
            [],
            [f"{tag} Delta", "900", "LOST", "2026-11-02", "", "", "", "", ""],
            [f"{tag} Epsilon", "1.234,50", "lost", "2026-11-03", "", "", "Price", "", ""],
            [f"{tag} Zeta", "100", "Signed contract", "", "", "", "", "", ""],
            [f"{tag} Eta", "abc", "qualified", "soon", "140", "", "", "", ""],
            [f"{tag} Theta", "5000", "NEGOTIATION", "", "", "", "", "", ""],
        ]
    )  # fmt: skip


async def test_messy_deal_export_goes_through_the_gate(team: Team, sql: Sql) -> None:
    tag = uniq("d")
    before = await sql.count("deals", team.team_id)
    done = await import_file(
        team,
        _messy(tag, team.email),
        "opportunities.csv",
        obj="deals",
        mapping={"Region": "custom.region"},
    )
    assert done["object"] == "deals"
    assert done["mapping"]["Opportunity Name"] == "name"
    assert done["mapping"]["Amount"] == "value"
    assert done["mapping"]["Stage"] == "stage"
    assert done["mapping"]["Close Date"] == "expected_close_date"
    assert done["mapping"]["Probability (%)"] == "probability"
    assert done["mapping"]["Opportunity Owner"] == "owner"
    assert done["mapping"]["Region"] == "custom.region"
    assert (done["total_rows"], done["imported"], done["rejected"]) == (8, 3, 5), done

    reasons = {
        r["Opportunity Name"].removeprefix(f"{tag} "): r for r in await rejects_of(team, done["id"])
    }
    assert set(reasons) == {"Gamma", "Delta", "Zeta", "Eta", "Theta"}
    assert all(r["row"].isdigit() for r in reasons.values())
    assert reasons["Eta"]["Amount"] == "abc"  # the original cells come back
    # The gate (at load, through the deal service) names the missing fields.
    assert "Proposal made" in reasons["Gamma"]["reason"] and "value" in reasons["Gamma"]["reason"]
    assert "loss_reason" in reasons["Delta"]["reason"]
    assert "expected_close_date" in reasons["Theta"]["reason"]
    assert "value:" not in reasons["Theta"]["reason"]
    # Checks while staging name each bad field.
    assert "stage: 'Signed contract' is not a stage" in reasons["Zeta"]["reason"]
    eta = reasons["Eta"]["reason"]
    assert "value: 'abc'" in eta and "expected_close_date: 'soon'" in eta
    assert "probability: '140'" in eta

    rows = await sql.all(
        "SELECT * FROM app.deals WHERE team_id = %s AND name LIKE %s", team.team_id, f"{tag} %"
    )
    deals = {r["name"].removeprefix(f"{tag} "): r for r in rows}
    assert set(deals) == {"Acme renewal", "Beta pilot", "Epsilon"}
    assert await sql.count("deals", team.team_id) == before + 3
    acme, beta, eps = deals["Acme renewal"], deals["Beta pilot"], deals["Epsilon"]
    assert acme["stage"] == "negotiation" and acme["probability"] == 80  # the stage's default
    assert acme["value"] == Decimal("12500.00") and str(acme["expected_close_date"]) == "2026-12-31"
    assert acme["owner_id"] == team.member_id and acme["next_step"] == "Send contract"
    assert acme["custom"] == {"region": "EMEA"}
    assert beta["stage"] == "contact_made" and beta["probability"] == 35
    assert beta["value"] == Decimal("3000") and beta["expected_close_date"] is None
    assert eps["stage"] == "lost" and eps["status"] == "lost" and eps["loss_reason"] == "Price"
    assert eps["value"] == Decimal("1234.50") and eps["actual_close_date"] is not None
    # Each created deal has the service's created event and its first stage-history row.
    for d in deals.values():
        events = await sql.events(d["id"])
        assert events[0]["action"] == "created" and events[0]["object_type"] == "deal"
        assert events[0]["changes"]["stage"] == [None, d["stage"]]
        # Marked as the import's, so producers (watchers' notifications) leave them out.
        assert events[0]["data"]["import_id"] == done["id"]
    hist = await sql.all(
        "SELECT deal_id FROM app.deal_stage_history WHERE team_id = %s AND deal_id = ANY(%s)",
        team.team_id,
        [d["id"] for d in deals.values()],
    )
    assert len(hist) == 3
    # Through the API too: money as a string.
    r = await team.get(f"/api/v1/deals/{acme['id']}")
    assert r.status_code == 200 and r.json()["value"] == "12500.00"


async def test_hubspot_columns_pipeline_by_name_and_override(team: Team, sql: Sql) -> None:
    tag = uniq("h")
    stages = [
        {"key": "open", "name": "Open", "probability": 20},
        {"key": "closedwon", "name": "Closed Won", "probability": 100, "is_won": True,
         "forecast_category": "closed"},
    ]  # fmt: skip
    r = await team.post("/api/v1/pipelines", json={"name": f"Renewals {tag}", "stages": stages})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    content = csv_bytes(
        [
            [
                "Deal Name",
                "Amount",
                "Deal Stage",
                "Pipeline",
                "Close Date",
                "Why we won",
                "Currency",
            ],
            [f"{tag} one", "10", "closed won", f"renewals {tag}", "2026-10-01", "Great fit", "eur"],
            [f"{tag} two", "20", "CLOSEDWON", f"Renewals {tag}", "", ""],
            [f"{tag} four", "40", "open", f"Renewals {tag}", "", "", "Euro"],
            [f"{tag} three", "30", "Open", "No such pipeline", "", ""],
        ]
    )
    done = await import_file(
        team, content, "hubspot-deals.csv", obj="deals", mapping={"Why we won": "win_reason"}
    )
    assert done["mapping"]["Deal Stage"] == "stage" and done["mapping"]["Pipeline"] == "pipeline"
    assert (done["imported"], done["rejected"]) == (1, 3), done
    reasons = {r["Deal Name"]: r["reason"] for r in await rejects_of(team, done["id"])}
    assert "win_reason" in reasons[f"{tag} two"]
    assert "pipeline: no pipeline named 'No such pipeline'" in reasons[f"{tag} three"]
    assert reasons[f"{tag} four"].startswith("currency: ")  # the API's own DealCreate rules
    row = await sql.one(
        "SELECT * FROM app.deals WHERE team_id = %s AND name = %s", team.team_id, f"{tag} one"
    )
    assert row is not None and row["pipeline_id"] == pid and row["stage"] == "closedwon"
    assert row["win_reason"] == "Great fit" and row["status"] == "won"
    assert row["currency"] == "EUR" and row["probability"] == 100


async def test_preview_suggests_the_deal_mapping(team: Team) -> None:
    content = csv_bytes(
        [["Deal Name", "Amount", "Deal Stage", "Pipeline", "Notes"], ["x", "1", "", "", ""]]
    )
    r = await upload(team, content, "d.csv", obj="deals", path="/api/v1/imports/preview")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["suggested_mapping"] == {
        "Deal Name": "name", "Amount": "value", "Deal Stage": "stage", "Pipeline": "pipeline",
        "Notes": None,
    }  # fmt: skip
    assert "loss_reason" in body["fields"] and body["unmapped"] == ["Notes"]


async def test_bad_object_and_other_teams_imports(team: Team, other_team: Team) -> None:
    content = csv_bytes([["Deal Name", "Amount"], ["x", "1"]])
    body = assert_problem(await upload(team, content, "d.csv", obj="opportunitiez"), 422)
    assert body["errors"][0]["field"] == "object"
    body = assert_problem(
        await upload(team, content, "d.csv", obj="deals", mapping={"Amount": "amount_usd"}), 422
    )
    assert body["errors"][0]["field"] == "mapping.Amount"
    done = await import_file(team, content, "d.csv", obj="deals")
    assert done["imported"] == 1
    for url in (f"/api/v1/imports/{done['id']}", f"/api/v1/imports/{done['id']}/rejects"):
        assert_problem(await other_team.get(url), 404)
    r = await other_team.get("/api/v1/deals?limit=200")
    assert r.status_code == 200 and "x" not in [d["name"] for d in r.json()["data"]]


async def test_cli_imports_deals(team: Team, sql: Sql, tmp_path: Path) -> None:
    tag = uniq("cli")
    path = tmp_path / "deals.csv"
    path.write_bytes(
        csv_bytes(
            [
                ["Opportunity Name", "Amount", "Stage", "Close Date"],
                [f"{tag} a", "100", "negotiation", "2027-01-31"],
                [f"{tag} b", "", "Negotiation", ""],
                [f"{tag} c", "7", "Proposal made", ""],
            ]
        )
    )
    result = await asyncio.to_thread(
        run_leadly, "import", "deals", str(path), "--team", team.team_id, "--batch-size", "1"
    )
    out = ok(result)
    assert "2 imported" in out and "1 rejected" in out, out
    imp = await sql.one(
        "SELECT * FROM app.imports WHERE team_id = %s AND file_name = %s AND object = 'deals' "
        "ORDER BY created_at DESC LIMIT 1",
        team.team_id,
        path.name,
    )
    assert imp is not None and imp["runner"] == "cli" and imp["status"] == "completed"
    # One row per batch: the gate's reject in batch 1 did not undo batch 0 or 2.
    assert (imp["batches_total"], imp["batches_done"], imp["imported"]) == (3, 3, 2), imp
    reasons = [r["reason"] for r in await rejects_of(team, imp["id"])]
    assert len(reasons) == 1 and "value" in reasons[0] and "expected_close_date" in reasons[0]
    row = await sql.one(
        "SELECT * FROM app.deals WHERE team_id = %s AND name = %s", team.team_id, f"{tag} a"
    )
    assert row is not None and row["stage"] == "negotiation" and row["created_by"] is None
    events = await sql.events(row["id"])
    assert [e["action"] for e in events][:1] == ["created"]
