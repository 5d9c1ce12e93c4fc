"""Real-world-shaped files: European semicolon CSVs (BOM, Windows-1252), HubSpot and Salesforce
exports (CSV and XLSX), N/A nulls, statuses in every spelling, bad rows with their reasons."""

from __future__ import annotations

from tests.conftest import Team
from tests.ingestion.conftest import (
    Sql,
    csv_bytes,
    import_file,
    leads_by_email,
    rejects_of,
    xlsx_bytes,
)

EURO_HEADER = ["Prénom", "Nom", "E-Mail", "Société", "Téléphone", "Statut", "Note", "Ville", "Pays"]


def _euro_rows(tag: str) -> list[list[str]]:
    return [
        EURO_HEADER,
        ["Zoë", "Müller", f"zoe.{tag}@müller-gmbh.de", "Müller GmbH; Köln", "+49 221 123456",
         "Offen", "4,5", "Köln", "Deutschland"],
        ["François", "Dupré", f"francois.{tag}@cafe-creme.fr", "Café Crème", "N/A",
         "QUALIFIED", "3", "Lyon", "France"],
        ["José", "Núñez", f"jose.{tag}@example.es", "Señor €uro S.L.", "", "working", "NA",
         "Sevilla", "España"],
    ]  # fmt: skip


async def test_semicolon_csv_with_bom_and_accents(team: Team, sql: Sql) -> None:
    content = csv_bytes(_euro_rows("bom"), delimiter=";", bom=True)
    done = await import_file(team, content, "export-bom.csv")
    assert done["delimiter"] == ";" and done["encoding"] == "utf-8-sig"
    assert done["columns"][0] == "Prénom"  # the BOM is not part of the first header
    assert (done["imported"], done["rejected"], done["total_rows"]) == (3, 0, 3)
    assert done["mapping"]["Prénom"] == "first_name" and done["mapping"]["Société"] == (
        "company_name"
    )
    leads = await leads_by_email(sql, team.team_id)
    zoe = leads["zoe.bom@müller-gmbh.de"]
    assert (zoe["first_name"], zoe["last_name"]) == ("Zoë", "Müller")
    assert zoe["company_name"] == "Müller GmbH; Köln"  # a quoted delimiter stays in its field
    assert float(zoe["rating"]) == 4.5  # decimal comma
    assert zoe["location"] == "Köln, Deutschland"
    assert zoe["status"] == "new"  # "Offen": German for open
    francois = leads["francois.bom@cafe-creme.fr"]
    assert francois["phone"] is None and francois["status"] == "qualified"
    jose = leads["jose.bom@example.es"]
    assert jose["rating"] is None and jose["status"] == "contacted"
    assert jose["company_name"] == "Señor €uro S.L."


async def test_windows_1252_semicolon_csv_is_transcoded(team: Team, sql: Sql) -> None:
    rows = _euro_rows("cp")
    rows[1][5] = "Open"
    content = csv_bytes(rows, delimiter=";", encoding="cp1252", newline="\r\n")
    assert b"\xfc" in content  # ü as Windows-1252 (not valid UTF-8)
    done = await import_file(team, content, "export-excel.csv")
    assert done["encoding"] == "cp1252" and done["delimiter"] == ";"
    assert done["imported"] == 3 and done["rejected"] == 0
    leads = await leads_by_email(sql, team.team_id)
    assert leads["zoe.cp@müller-gmbh.de"]["last_name"] == "Müller"
    assert leads["jose.cp@example.es"]["company_name"] == "Señor €uro S.L."


async def test_hubspot_export(team: Team, sql: Sql) -> None:
    header = [
        "Record ID",
        "First Name",
        "Last Name",
        "Email",
        "Company Name",
        "Original Source",
        "Lead Status",
        "Phone Number",
        "Job Title",
        "Website URL",
        "Industry",
        "City",
        "State/Region",
        "Country/Region",
        "Create Date",
    ]
    rows = [
        header,
        ["101", "Hana", "Sato", "hana@hub-one.io", "Hub One", "ORGANIC_SEARCH", "NEW",
         "+1 415 555 0101", "VP Sales", "https://hub-one.io", "COMPUTER_SOFTWARE", "Boston",
         "MA", "United States", "2024-01-02 10:00"],
        ["102", "Ivo", "Ilic", "ivo@hub-two.io", "Hub Two", "PAID_SOCIAL", "IN_PROGRESS",
         "", "CTO", "hub-two.io", "", "", "", "Croatia", ""],
        ["103", "Jan", "Jansen", "jan@hub-three.io", "Hub Three", "REFERRALS",
         "ATTEMPTED_TO_CONTACT", "", "", "", "", "", "", "", ""],
        ["104", "Kim", "Kay", "kim@hub-four.io", "Hub Four", "DIRECT_TRAFFIC", "UNQUALIFIED",
         "", "", "", "", "", "", "", ""],
        ["105", "Lea", "Lund", "lea@hub-five.io", "Hub Five", "OFFLINE", "OPEN_DEAL",
         "", "", "", "", "", "", "", ""],
    ]  # fmt: skip
    done = await import_file(team, csv_bytes(rows), "hubspot-contacts.csv")
    m = done["mapping"]
    assert m["Email"] == "email" and m["Company Name"] == "company_name"
    assert m["Original Source"] == "source" and m["Lead Status"] == "status"
    assert m["Phone Number"] == "phone" and m["Job Title"] == "title"
    assert m["Website URL"] == "website" and m["State/Region"] == "location"
    assert m["Record ID"] is None and m["Create Date"] is None
    assert done["imported"] == 5 and done["rejected"] == 0
    leads = await leads_by_email(sql, team.team_id)
    assert [leads[f"{n}@hub-{i}.io"]["status"] for n, i in (
        ("hana", "one"), ("ivo", "two"), ("jan", "three"), ("kim", "four"), ("lea", "five"))
    ] == ["new", "contacted", "contacted", "unqualified", "qualified"]  # fmt: skip
    assert leads["hana@hub-one.io"]["location"] == "Boston, MA, United States"
    assert leads["ivo@hub-two.io"]["location"] == "Croatia"
    assert leads["hana@hub-one.io"]["source"] == "ORGANIC_SEARCH"


async def test_salesforce_xlsx_export(team: Team, sql: Sql) -> None:
    rows = [
        ["Lead ID", "First Name", "Last Name", "Title", "Company", "Email", "Phone",
         "Lead Source", "Lead Status", "Rating", "Website", "Industry", "Street", "City",
         "State", "Country", "Annual Revenue"],
        ["00Q1", "Mia", "Moss", "CEO", "Moss Corp", "mia@moss.example", 14155550123,
         "Web", "Open - Not Contacted", "Hot", "www.moss.example", "Banking", "1 Main St",
         "Austin", "TX", "USA", 1500000],
        ["00Q2", "Ned", "Nash", "CFO", "Nash LLC", "NED@NASH.EXAMPLE", "(512) 555-0199",
         "Partner Referral", "Working - Contacted", "Warm", None, "Retail", None, "Dallas",
         "TX", "USA", None],
        ["00Q3", "Oli", "Ortiz", None, "Ortiz SA", "oli@ortiz.example", None, "Trade Show",
         "Closed - Not Converted", "Cold", None, None, None, None, None, "Mexico", None],
    ]  # fmt: skip
    done = await import_file(team, xlsx_bytes(rows), "salesforce-leads.xlsx")
    assert done["file_format"] == "xlsx" and done["encoding"] == "xlsx"
    m = done["mapping"]
    assert m["Rating"] is None  # Hot/Warm/Cold is not a 0-5 rating: left unmapped
    assert m["City"] == m["State"] == m["Country"] == m["Street"] == "location"
    assert m["Lead ID"] is None and m["Annual Revenue"] is None
    assert done["imported"] == 3 and done["rejected"] == 0
    leads = await leads_by_email(sql, team.team_id)
    mia = leads["mia@moss.example"]
    assert mia["phone"] == "14155550123"  # a number cell, written without ".0"
    assert mia["location"] == "1 Main St, Austin, TX, USA"
    assert mia["status"] == "new" and mia["rating"] is None
    assert leads["ned@nash.example"]["email"] == "NED@NASH.EXAMPLE"
    assert leads["ned@nash.example"]["status"] == "contacted"
    assert leads["oli@ortiz.example"]["status"] == "unqualified"


async def test_bad_rows_are_rejected_with_reasons(team: Team, sql: Sql) -> None:
    rows = [
        ["First Name", "Last Name", "Email", "Company", "Rating", "Website Score", "Reviews",
         "Lead Status"],
        ["Good", "Row", "good@rows.example", "Rows Inc", "4.5", "80", "12", "new"],
        ["Bad", "Email", "not-an-email", "Rows Inc", "", "", "", ""],
        ["Bad", "Rating", "rating@rows.example", "", "9", "", "", ""],
        ["Bad", "Score", "score@rows.example", "", "", "-1", "", ""],
        ["", "", "", "", "3", "50", "", "qualified"],
        ["Bad", "Status", "status@rows.example", "", "", "", "", "Maybe Later"],
        ["Many", "Faults", "faults@@rows", "", "five", "101", "-3", ""],
        ["Good", "Two", "two@rows.example", "", "n/a", "NULL", "-", "Unqualified"],
    ]  # fmt: skip
    done = await import_file(team, csv_bytes(rows), "bad-rows.csv")
    assert (done["total_rows"], done["imported"], done["rejected"]) == (8, 2, 6)
    rejects = await rejects_of(team, done["id"])
    assert [r["row"] for r in rejects] == ["3", "4", "5", "6", "7", "8"]
    assert list(rejects[0]) == ["row", *rows[0], "reason"]
    by_row = {r["row"]: r for r in rejects}
    assert by_row["3"]["Email"] == "not-an-email"  # original values are kept
    assert "email" in by_row["3"]["reason"] and "not-an-email" in by_row["3"]["reason"]
    assert "rating" in by_row["4"]["reason"] and "between 0 and 5" in by_row["4"]["reason"]
    assert "website_score" in by_row["5"]["reason"]
    assert "a lead needs a name, an email, a phone or a company" in by_row["6"]["reason"]
    assert "status" in by_row["7"]["reason"] and "Maybe Later" in by_row["7"]["reason"]
    reason = by_row["8"]["reason"]
    for field in ("email", "rating", "website_score", "reviews_count"):
        assert field in reason, reason
    leads = await leads_by_email(sql, team.team_id)
    assert set(leads) == {"good@rows.example", "two@rows.example"}
    two = leads["two@rows.example"]
    assert two["rating"] is None and two["website_score"] is None and two["reviews_count"] is None
    assert two["status"] == "unqualified"
