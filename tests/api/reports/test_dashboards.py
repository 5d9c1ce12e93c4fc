"""Dashboards (layout, visibility, templates, the whole dashboard as one PDF) and share links
(signed, expiring, read-only, revocable; no sign-in)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from leadly import clock
from tests.api.reports.conftest import World
from tests.api.reports.test_saved import create
from tests.conftest import assert_problem


async def dashboard(team: Any, layout: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    r = await team.post(
        "/api/v1/dashboards",
        json={"name": "Pipeline", "visibility": "team", "layout": layout, **over},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_layout_visibility_and_pdf(world: World) -> None:
    a, b = world.a, world.b
    r1 = await create(a, name="Funnel widget")
    r2 = await create(
        a, name="Calls widget", metrics=["calls_logged"], dimensions=["owner_name"], sort=[]
    )
    foreign = await create(b, name="Not yours")
    d = await dashboard(
        a,
        [
            {"report_id": r1["id"], "x": 0, "y": 0, "w": 6, "h": 4, "chart": "funnel"},
            {"report_id": r2["id"], "x": 6, "y": 0, "w": 6, "h": 4},
        ],
    )
    assert d["id"].startswith("dash_") and len(d["layout"]) == 2
    for layout, field in [
        ([{"report_id": "rpt_00000000000000000000000000"}], "layout[0].report_id"),
        ([{"report_id": r1["id"]}, {"report_id": foreign["id"]}], "layout[1].report_id"),
        ([{"report_id": r1["id"], "x": 8, "w": 6}], "layout[0].w"),
    ]:
        problem = assert_problem(
            await a.post("/api/v1/dashboards", json={"name": "x", "layout": layout}), 422
        )
        assert problem["errors"][0]["field"] == field
    # rearranged: the calls widget on top
    r = await a.patch(
        f"/api/v1/dashboards/{d['id']}",
        json={
            "layout": [
                {"report_id": r2["id"], "x": 0, "y": 0, "w": 12, "h": 3},
                {"report_id": r1["id"], "x": 0, "y": 3, "w": 12, "h": 4},
            ]
        },
    )
    assert r.status_code == 200 and r.json()["layout"][0]["report_id"] == r2["id"], r.text
    assert_problem(await b.get(f"/api/v1/dashboards/{d['id']}"), 404)
    assert_problem(
        await b.get(f"/api/v1/dashboards/{d['id']}/export", params={"format": "pdf"}), 404
    )
    mine = await dashboard(a, [], visibility="personal", name="Private")
    assert_problem(await world.user.get(f"/api/v1/dashboards/{mine['id']}"), 404)
    assert_problem(await world.guest.post("/api/v1/dashboards", json={"name": "x"}), 403)

    r = await a.get(f"/api/v1/dashboards/{d['id']}/export", params={"format": "pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    from pypdf import PdfReader

    pdf = PdfReader(io.BytesIO(r.content))
    text = "\n".join(p.extract_text() for p in pdf.pages)
    assert "Funnel widget" in text and "Calls widget" in text and "Reports A" in text
    assert len(pdf.pages) >= 2 and f"Page 2 of {len(pdf.pages)}" in text
    assert text.index("Calls widget") < text.index("Funnel widget")  # the layout's order


async def test_dashboard_templates(world: World) -> None:
    r = await world.a.get("/api/v1/dashboard-templates")
    assert {t["key"] for t in r.json()["data"]} == {"sales_leader", "rep", "revenue_ops"}
    r = await world.a.post(
        "/api/v1/dashboard-templates/sales_leader/dashboards", json={"visibility": "team"}
    )
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["template"] == "sales_leader" and len(d["layout"]) == 4
    for w in d["layout"]:
        assert (await world.user.post(f"/api/v1/reports/{w['report_id']}/run")).status_code == 200


async def test_share_links(world: World) -> None:
    a = world.a
    report = await create(a, name="Shared funnel")
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert_problem(
        await world.b.post(
            "/api/v1/share-links", json={"report_id": report["id"], "expires_at": soon}
        ),
        404,
    )
    assert_problem(
        await world.guest.post(
            "/api/v1/share-links", json={"report_id": report["id"], "expires_at": soon}
        ),
        403,
    )
    assert_problem(
        await a.post(
            "/api/v1/share-links",
            json={"report_id": report["id"], "expires_at": "2020-01-01T00:00:00Z"},
        ),
        422,
    )
    r = await a.post("/api/v1/share-links", json={"report_id": report["id"], "expires_at": soon})
    assert r.status_code == 201, r.text
    link = r.json()
    assert set(link) >= {"id", "url", "token", "expires_at"} and link["url"].endswith(
        f"{link['token']}/page"
    )

    anonymous = a.http  # no Authorization header
    r = await anonymous.get(f"/api/v1/shared/{link['token']}")
    assert r.status_code == 200, r.text
    owner_run = (await a.post(f"/api/v1/reports/{report['id']}/run")).json()
    assert r.json()["data"] == owner_run["data"] and r.json()["totals"] == owner_run["totals"]
    page = await anonymous.get(link["url"].removeprefix("http://leadly.test"))
    assert (
        page.status_code == 200
        and "Shared funnel" in page.text
        and "text/html" in page.headers["content-type"]
    )
    assert (
        await anonymous.post(f"/api/v1/reports/{report['id']}/run")
    ).status_code == 401  # read-only, one report

    # expiry: an hour and a minute later the link is gone
    with clock.frozen(datetime.now(UTC) + timedelta(minutes=61)):
        assert_problem(await anonymous.get(f"/api/v1/shared/{link['token']}"), 404)
    assert (await anonymous.get(f"/api/v1/shared/{link['token']}")).status_code == 200
    # revoked: 404 from then on; another team cannot revoke it
    assert_problem(await world.b.delete(f"/api/v1/share-links/{link['id']}"), 404)
    assert (await a.delete(f"/api/v1/share-links/{link['id']}")).status_code == 204
    assert_problem(await anonymous.get(f"/api/v1/shared/{link['token']}"), 404)
    assert_problem(await anonymous.get(f"/api/v1/shared/{link['token']}/page"), 404)
    assert_problem(await anonymous.get("/api/v1/shared/lsh_forged"), 404)


async def test_shared_dashboard(world: World) -> None:
    report = await create(world.a, name="On the shared dashboard")
    d = await dashboard(world.a, [{"report_id": report["id"], "w": 12}])
    soon = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    r = await world.a.post(
        "/api/v1/share-links", json={"dashboard_id": d["id"], "expires_at": soon}
    )
    assert r.status_code == 201, r.text
    body = (await world.a.http.get(f"/api/v1/shared/{r.json()['token']}")).json()
    assert (
        body["name"] == "Pipeline"
        and body["widgets"][0]["report"]["name"] == "On the shared dashboard"
    )
    assert body["widgets"][0]["result"]["data"]
    # the sharer stops seeing the report (made personal by its creator... deleted): gone
    assert (await world.a.delete(f"/api/v1/reports/{report['id']}")).status_code == 204
    body = (await world.a.http.get(f"/api/v1/shared/{r.json()['token']}")).json()
    assert body["widgets"] == []
