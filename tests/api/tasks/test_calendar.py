"""Calendar feeds: a secret URL serving text/calendar that icalendar parses back, recurring
tasks as RRULE events in their zone; revoked → 404."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar

from tests.api.tasks.conftest import Sql, add_member, assert_problem, new_task, set_zone
from tests.conftest import Team


async def test_feed_round_trip_and_revocation(team: Team, other_team: Team, sql: Sql) -> None:
    rep = await add_member(team, "user")
    await set_zone(team, rep.member_id, "Europe/Paris")
    one = await new_task(
        team,
        title="Demo call",
        due_at="2027-02-02T10:00:00Z",
        assignee_ids=[rep.member_id],
        tags=["demo"],
        description="Bring slides",
    )
    weekly = await new_task(
        team,
        title="Pipeline review",
        due_at="2027-03-22T09:00:00",
        assignee_ids=[rep.member_id],
        recurrence_rule="FREQ=WEEKLY;BYDAY=MO;COUNT=6",
        recurrence_exdates=["2027-04-05T09:00:00"],
    )
    await new_task(team, title="Not mine", due_at="2027-02-02T10:00:00Z")
    await new_task(team, title="No date", assignee_ids=[rep.member_id])
    r = await rep.post("/api/v1/calendar-feeds", json={"name": "Phone"})
    assert r.status_code == 201, r.text
    feed = r.json()
    path = urlsplit(feed["url"]).path
    assert feed["url"].startswith("http://leadly.test/") and "ldc_" in path
    r = await team.http.get(path)  # no Authorization header
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    events = {str(e["summary"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {"Demo call", "Pipeline review"}
    demo = events["Demo call"]
    assert demo.decoded("dtstart") == datetime(2027, 2, 2, 10, tzinfo=UTC)
    assert str(demo["uid"]) == f"{one['id']}@leadly"
    review = events["Pipeline review"]
    start = review.decoded("dtstart")
    assert start.tzinfo is not None and str(start.tzinfo) == "Europe/Paris"
    assert start.replace(tzinfo=None) == datetime(2027, 3, 22, 9)
    assert review["rrule"].to_ical() == b"FREQ=WEEKLY;COUNT=6;BYDAY=MO"
    ex = review["exdate"]
    exdates = [d.dt for d in (ex if isinstance(ex, list) else [ex])[0].dts]
    assert [d.astimezone(ZoneInfo("Europe/Paris")).replace(tzinfo=None) for d in exdates] == [
        datetime(2027, 4, 5, 9)
    ]
    assert str(review["uid"]) == f"{weekly['series_id']}@leadly"
    assert cal.walk("VTIMEZONE"), "a zoned DTSTART comes with its VTIMEZONE"
    # Expanding the feed's rule gives Leadly's own occurrences (09:00 Paris across the change).
    occ = (await rep.get(f"/api/v1/tasks/{weekly['id']}/occurrences?limit=6")).json()
    assert occ[0] == "2027-03-22T08:00:00Z" and occ[1] == "2027-03-29T07:00:00Z"
    assert len(occ) == 5  # six Mondays minus the exception
    # Listing does not show the secret; another member cannot revoke it; the owner can.
    listed = (await rep.get("/api/v1/calendar-feeds")).json()
    assert [f["id"] for f in listed] == [feed["id"]] and "url" not in listed[0]
    other_member = await add_member(team, "user")
    assert_problem(await other_member.delete(f"/api/v1/calendar-feeds/{feed['id']}"), 404)
    assert_problem(await other_team.delete(f"/api/v1/calendar-feeds/{feed['id']}"), 404)
    assert (await rep.delete(f"/api/v1/calendar-feeds/{feed['id']}")).status_code == 204
    assert_problem(await team.http.get(path), 404)
    assert_problem(await team.http.get("/api/v1/calendar-feeds/ics/ldc_nope.ics"), 404)
    assert_problem(await team.http.get("/api/v1/calendar-feeds/ics/garbage"), 404)
    evts = await sql.events(feed["id"])
    assert [e["action"] for e in evts] == ["created", "deleted"]
    assert "token_hash" not in evts[0]["changes"]


async def test_feed_token_is_stored_hashed(team: Team, sql: Sql) -> None:
    feed = (await team.post("/api/v1/calendar-feeds")).json()
    token = urlsplit(feed["url"]).path.rsplit("/", 1)[1].removesuffix(".ics")
    row = await sql.one(
        "SELECT token_hash, created_at FROM app.calendar_feeds WHERE id = %s", feed["id"]
    )
    assert row is not None and token.encode() not in bytes(row["token_hash"])
    assert datetime.fromisoformat(feed["created_at"]) == row["created_at"]
