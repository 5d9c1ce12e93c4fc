"""Saved reports: CRUD, visibility and roles, tenant isolation, running, drill-down, refresh and
exports parsed back (CSV, XLSX, Parquet, PDF)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.api.reports.conftest import World
from tests.conftest import assert_problem

FUNNEL = {
    "name": "Funnel by source",
    "metrics": ["leads_created", "leads_converted", "lead_conversion_rate"],
    "dimensions": ["lead_source"],
    "sort": ["-leads_created"],
    "chart": "bar",
    "visibility": "team",
}


async def create(team: Any, **over: Any) -> dict[str, Any]:
    r = await team.post("/api/v1/reports", json={**FUNNEL, **over})
    assert r.status_code == 201, r.text
    return r.json()


async def test_crud_visibility_and_roles(world: World) -> None:
    a, b, guest, user = world.a, world.b, world.guest, world.user
    team_report = await create(a)
    personal = await create(a, name="Mine", visibility="personal")
    assert team_report["id"].startswith("rpt_") and team_report["metrics"] == FUNNEL["metrics"]
    # personal: only its creator sees it; team: every member
    listed = {r["id"] for r in (await user.get("/api/v1/reports")).json()["data"]}
    assert team_report["id"] in listed and personal["id"] not in listed
    assert_problem(await user.get(f"/api/v1/reports/{personal['id']}"), 404)
    assert (await guest.post(f"/api/v1/reports/{team_report['id']}/run")).status_code == 200
    # another team: 404 on every path
    for method, path in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/run"),
        ("GET", "/export"),
        ("POST", "/refresh"),
    ]:
        kw = {"json": {"name": "x"}} if method == "PATCH" else {}
        assert_problem(
            await b.request(method, f"/api/v1/reports/{team_report['id']}{path}", **kw), 404
        )
    # roles: a guest cannot save; a user cannot change someone else's team report
    assert_problem(await guest.post("/api/v1/reports", json=FUNNEL), 403)
    assert_problem(
        await user.patch(f"/api/v1/reports/{team_report['id']}", json={"name": "Mine now"}), 403
    )
    r = await a.patch(
        f"/api/v1/reports/{team_report['id']}", json={"dimensions": ["lead_status"], "sort": []}
    )
    assert r.status_code == 200 and r.json()["dimensions"] == ["lead_status"], r.text
    problem = assert_problem(
        await a.patch(f"/api/v1/reports/{team_report['id']}", json={"metrics": ["nope"]}), 400
    )
    assert problem["errors"][0]["field"] == "metrics[0]"
    assert_problem(await a.post("/api/v1/reports", json={**FUNNEL, "dimensions": ["bogus"]}), 400)
    assert (await a.delete(f"/api/v1/reports/{personal['id']}")).status_code == 204
    assert_problem(await a.get(f"/api/v1/reports/{personal['id']}"), 404)
    events = world.sql(
        "SELECT action FROM app.events WHERE object_id = %s ORDER BY id", team_report["id"]
    )
    assert [e["action"] for e in events] == ["created", "updated"]


async def test_saved_run_and_drill_down(world: World) -> None:
    report = await create(world.a)
    r = await world.a.post(f"/api/v1/reports/{report['id']}/run")
    assert r.status_code == 200, r.text
    out = r.json()
    web = next(x for x in out["data"] if x["lead_source"] == "web")
    assert web["leads_created"] == 4  # three this week, one a year ago
    r = await world.a.post(
        f"/api/v1/reports/{report['id']}/drill",
        json={"metric": "leads_converted", "row": {"lead_source": "web"}},
    )
    assert r.status_code == 200, r.text
    drilled = r.json()
    converted = world.sql(
        "SELECT id FROM app.leads WHERE team_id = %s AND status = 'converted'", world.a.team_id
    )
    assert drilled["record_type"] == "lead"
    assert [x["lead_id"] for x in drilled["data"]] == [c["id"] for c in converted]
    r = await world.a.post(
        f"/api/v1/reports/{report['id']}/drill",
        json={"metric": "leads_created", "row": {"lead_source": "web"}},
        params={"limit": 2},
    )
    page = r.json()
    assert len(page["data"]) == 2 and page["has_more"]
    assert_problem(
        await world.a.post(
            f"/api/v1/reports/{report['id']}/drill",
            json={"metric": "leads_created", "row": {"deal_stage": "x"}},
        ),
        400,
    )


async def test_exports_have_every_row(world: World) -> None:
    report = await create(
        world.a,
        name="Leads by source and status",
        dimensions=["lead_source", "lead_status"],
        sort=[],
    )
    out = (await world.a.post(f"/api/v1/reports/{report['id']}/run")).json()
    names = [c["name"] for c in out["columns"]]

    r = await world.a.get(f"/api/v1/reports/{report['id']}/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == names and len(rows) - 1 == len(out["data"])
    assert ["'=HYPERLINK(1)", "new", "1", "0", "0"] in rows  # a formula-looking text stays text

    r = await world.a.get(f"/api/v1/reports/{report['id']}/export", params={"format": "xlsx"})
    assert (
        r.headers["content-type"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0]
    sheet = [list(x) for x in ws.iter_rows(values_only=True)]
    assert sheet[0][: len(names)] == names and len(sheet) - 1 == len(out["data"])

    r = await world.a.get(f"/api/v1/reports/{report['id']}/export", params={"format": "parquet"})
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(r.content))
    assert table.column_names == names and table.num_rows == len(out["data"])
    assert sorted(table.column("leads_created").to_pylist()) == sorted(
        float(x["leads_created"]) for x in out["data"]
    )

    r = await world.a.get(f"/api/v1/reports/{report['id']}/export", params={"format": "pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    from pypdf import PdfReader

    pdf = PdfReader(io.BytesIO(r.content))
    text = "\n".join(p.extract_text() for p in pdf.pages)
    assert "Leads by source and status" in text and "Reports A" in text
    assert f"Page 1 of {len(pdf.pages)}" in text and "referral" in text

    assert_problem(
        await world.a.get(f"/api/v1/reports/{report['id']}/export", params={"format": "docx"}), 400
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_refresh_builds_the_reports_models(world: World) -> None:
    from api.reports import service

    report = await create(world.a, metrics=["calls_logged"], dimensions=[], sort=[])
    before = (await world.a.post(f"/api/v1/reports/{report['id']}/run")).json()["data_as_of"]
    assert_problem(await world.guest.post(f"/api/v1/reports/{report['id']}/refresh"), 403)
    r = await world.a.post(f"/api/v1/reports/{report['id']}/refresh")
    assert r.status_code == 202, r.text
    assert r.json()["models"] == ["rpt_sem_calls"]
    assert await service.refreshing[("rpt_sem_calls",)] == 0
    after = (await world.a.post(f"/api/v1/reports/{report['id']}/run")).json()["data_as_of"]
    assert before is not None and after > before
