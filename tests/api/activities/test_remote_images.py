"""Issue 22: a remote image in a description or comment would load from every viewer's browser
(a tracking pixel, a GET to an intranet address): images are dropped when stored, and the
dashboards sanitise again what they render (rows stored before the rule)."""

from __future__ import annotations

from leadly.html import sanitize
from tests.api.activities.conftest import log, new_lead
from tests.conftest import Team

PIXEL = '<img src="https://tracker.example/p.gif?u=1" width="1" height="1">'


async def test_descriptions_and_comments_lose_remote_images(team: Team) -> None:
    lead = await new_lead(team)
    act = await log(team, lead, "lead", subject="Call", description=f"<p>Notes{PIXEL}</p>")
    assert act["description"] == "<p>Notes</p>"
    r = await team.post(
        f"/api/v1/activities/{act['id']}/comments",
        json={"text": 'Look <img src="http://10.0.0.5/admin/delete?all=1"> <b>here</b>'},
    )
    assert r.status_code == 201, r.text
    assert r.json()["text"] == "Look  <b>here</b>"


def test_the_dashboards_sanitiser_drops_images_and_keeps_safe_markup() -> None:
    stored_before = f"<p>Hi <mark>there</mark>{PIXEL}<map><area href='x'></map></p>"
    assert sanitize(stored_before) == "<p>Hi <mark>there</mark></p>"
    assert sanitize("<script>x</script><b>bold</b>") == "<b>bold</b>"
