"""Recurrence: completing an occurrence creates the next one (subtasks copied) exactly where
dateutil's rrule puts it in the task's time zone, across DST; EXDATE, COUNT/UNTIL; splitting."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import __file__ as rrule_file
from dateutil.rrule import rruleset, rrulestr

from api.tasks.recurrence import RuleError, normalize
from tests.api.tasks.conftest import Sql, add_member, assert_problem, new_task, set_zone, task
from tests.conftest import Team


def expected(rule: str, start_local: datetime, tz: str, n: int, exdates=()) -> list[str]:
    """The first ``n`` occurrences by dateutil directly (aware DTSTART in ``tz``), as UTC."""
    rset = rruleset()
    rset.rrule(rrulestr(rule, dtstart=start_local.replace(tzinfo=ZoneInfo(tz))))
    for ex in exdates:
        rset.exdate(ex.replace(tzinfo=ZoneInfo(tz)))
    out = []
    for dt in rset:
        out.append(dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if len(out) == n:
            break
    return out


async def complete_chain(team: Team, first: dict, n: int) -> list[dict]:
    chain = [first]
    for _ in range(n - 1):
        r = await team.patch(f"/api/v1/tasks/{chain[-1]['id']}", json={"status": "completed"})
        assert r.status_code == 200, r.text
        nxt = r.json()["next_occurrence_id"]
        if nxt is None:
            break
        chain.append(await task(team, nxt))
    return chain


CASES = [
    # Daily at 09:00 New York across the spring-forward night (2027-03-14).
    ("FREQ=DAILY", datetime(2027, 3, 12, 9), "America/New_York", 5, ()),
    # Weekly on Monday and Wednesday at 08:30 Berlin across the autumn change (2027-10-31).
    ("FREQ=WEEKLY;BYDAY=MO,WE", datetime(2027, 10, 25, 8, 30), "Europe/Berlin", 5, ()),
    # Monthly on the second Tuesday, three times.
    ("FREQ=MONTHLY;BYDAY=2TU;COUNT=3", datetime(2027, 1, 12, 14), "Asia/Tokyo", 5, ()),
    # Monthly on the 31st (months without one are skipped), with an exception.
    (
        "FREQ=MONTHLY;BYMONTHDAY=31",
        datetime(2027, 1, 31, 10),
        "Australia/Sydney",
        4,
        (datetime(2027, 3, 31, 10),),
    ),
    # Daily until a date (read in the task's zone: the end of that day).
    ("FREQ=DAILY;UNTIL=20271107", datetime(2027, 11, 5, 23, 30), "America/Los_Angeles", 5, ()),
]


def test_until_date_is_the_end_of_that_day_in_the_zone() -> None:
    rule = normalize("RRULE:freq=daily;until=20271107", ZoneInfo("America/Los_Angeles"))
    assert rule == "FREQ=DAILY;UNTIL=20271108T075959Z"


@pytest.mark.parametrize(("rule", "start", "tz", "n", "exdates"), CASES)
async def test_next_occurrences_match_dateutil(
    team: Team, rule: str, start: datetime, tz: str, n: int, exdates: tuple
) -> None:
    rep = await add_member(team, "user")
    await set_zone(team, rep.member_id, tz)
    first = await new_task(
        team,
        due_at=start.isoformat(),  # no offset: the assignee's zone
        assignee_ids=[rep.member_id],
        recurrence_rule=rule,
        recurrence_exdates=[e.isoformat() for e in exdates],
    )
    chain = await complete_chain(team, first, n)
    # dateutil needs UNTIL in UTC with a zoned start: what the API stored for the client's date.
    stored = (await task(team, first["id"]))["recurrence_rule"]
    want = expected(stored, start, tz, n, exdates)
    assert [t["due_at"] for t in chain] == want
    assert {t["series_id"] for t in chain} == {first["id"]}
    statuses = [(await task(team, t["id"]))["status"] for t in chain]
    if len(want) == n:
        assert statuses == ["completed"] * (n - 1) + ["todo"]
    else:  # the series ended: completing the last one created nothing
        assert statuses == ["completed"] * len(want)
        assert (await task(team, chain[-1]["id"]))["next_occurrence_id"] is None
    upcoming = (await team.get(f"/api/v1/tasks/{first['id']}/occurrences?limit=3")).json()
    assert [d for d in upcoming] == want[:3]


async def test_completion_copies_subtasks_before_answering(team: Team, sql: Sql) -> None:
    first = await new_task(
        team, title="Weekly report", due_at="2027-02-01T09:00:00Z", recurrence_rule="FREQ=WEEKLY"
    )
    sub = await new_task(
        team, title="Gather numbers", parent_task_id=first["id"], due_at="2027-01-31T17:00:00Z"
    )
    await new_task(team, title="Check", parent_task_id=sub["id"])
    r = await team.patch(f"/api/v1/tasks/{first['id']}", json={"status": "completed"})
    nxt = r.json()["next_occurrence_id"]
    assert nxt
    subs = (await team.get("/api/v1/tasks", params={"filter[parent_task_id]": nxt})).json()["data"]
    assert [(s["title"], s["due_at"], s["status"]) for s in subs] == [
        ("Gather numbers", "2027-02-07T17:00:00Z", "todo")
    ]
    deeper = (
        await team.get("/api/v1/tasks", params={"filter[parent_task_id]": subs[0]["id"]})
    ).json()["data"]
    assert [s["title"] for s in deeper] == ["Check"]
    created = [e for e in await sql.events(nxt) if e["action"] == "created"]
    assert created and created[0]["changes"]["series_id"] == [None, first["id"]]


async def test_this_and_following_splits_the_series(team: Team) -> None:
    first = await new_task(team, due_at="2027-04-05T09:00:00Z", recurrence_rule="FREQ=DAILY")
    second = (await complete_chain(team, first, 2))[-1]
    assert second["due_at"] == "2027-04-06T09:00:00Z"
    r = await team.post(
        f"/api/v1/tasks/{second['id']}/split-series",
        json={"due_at": "2027-04-06T15:00:00Z", "recurrence_rule": "FREQ=WEEKLY"},
    )
    assert r.status_code == 200, r.text
    split = r.json()
    assert split["series_id"] == second["id"] and split["series_start_at"] == split["due_at"]
    old = await task(team, first["id"])
    assert old["recurrence_rule"] == "FREQ=DAILY;UNTIL=20270406T085959Z"
    third = (await complete_chain(team, split, 2))[-1]
    assert third["due_at"] == "2027-04-13T15:00:00Z" and third["series_id"] == second["id"]
    # Not recurring: 409; finished: 409.
    plain = await new_task(team)
    assert_problem(await team.post(f"/api/v1/tasks/{plain['id']}/split-series", json={}), 409)
    assert_problem(await team.post(f"/api/v1/tasks/{first['id']}/split-series", json={}), 409)


async def test_moving_one_occurrence_keeps_the_schedule(team: Team) -> None:
    first = await new_task(team, due_at="2027-05-03T09:00:00Z", recurrence_rule="FREQ=DAILY")
    r = await team.patch(f"/api/v1/tasks/{first['id']}", json={"due_at": "2027-05-03T18:00:00Z"})
    assert r.status_code == 200
    nxt = (await complete_chain(team, r.json(), 2))[-1]
    assert nxt["due_at"] == "2027-05-04T09:00:00Z"


@pytest.mark.parametrize(
    "body",
    [
        {"recurrence_rule": "FREQ=DAILY"},  # no due_at
        {"recurrence_rule": "FREQ=SECONDLY", "due_at": "2027-01-01T00:00:00Z"},
        {"recurrence_rule": "FREQ=DAILY;COUNT=2;UNTIL=20270101", "due_at": "2027-01-01T00:00:00Z"},
        {"recurrence_rule": "FREQ=DAILY;BYDAY=XX", "due_at": "2027-01-01T00:00:00Z"},
        {"recurrence_rule": "DTSTART=20270101;FREQ=DAILY", "due_at": "2027-01-01T00:00:00Z"},
        {"recurrence_rule": "FREQ=DAILY;UNTIL=tomorrow", "due_at": "2027-01-01T00:00:00Z"},
        {"recurrence_rule": "nonsense", "due_at": "2027-01-01T00:00:00Z"},
        {"recurrence_rule": "FREQ=DAILY;INTERVAL=7;BYDAY=MO", "due_at": "2027-01-05T00:00:00Z"},
        {"recurrence_rule": "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=3", "due_at": "2027-01-04T00:00:00Z"},
    ],
)
async def test_bad_rules_are_422(team: Team, sql: Sql, body: dict) -> None:
    before = await sql.count("tasks", team.team_id)
    p = assert_problem(await team.post("/api/v1/tasks", json={"title": "r", **body}), 422)
    assert p["errors"][0]["field"] == "recurrence_rule"
    assert await sql.count("tasks", team.team_id) == before


async def test_a_rule_that_never_occurs_is_refused(team: Team) -> None:
    for rule in ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=DAILY;UNTIL=20200101"):
        body = {"title": "never", "due_at": "2027-01-01T09:00:00Z", "recurrence_rule": rule}
        p = assert_problem(await team.post("/api/v1/tasks", json=body), 422)
        assert "no occurrence" in p["errors"][0]["message"]


# dateutil's rrule builds each period's candidate days with one of these (one call a period).
PERIOD_SETS = frozenset({"ydayset", "mdayset", "wdayset", "ddayset"})


class TooLong(Exception):
    pass


def periods_walked(call: Callable[[], object], limit: int) -> int:
    """How many periods dateutil walks during ``call`` (stopped past ``limit``)."""
    walked = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal walked
        code = frame.f_code
        if event == "call" and code.co_name in PERIOD_SETS and code.co_filename == rrule_file:
            walked += 1
            if walked > limit:
                raise TooLong

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        call()
    except (RuleError, TooLong):
        pass
    finally:
        sys.setprofile(previous)
    return walked


@pytest.mark.parametrize(
    ("rule", "most"),
    [
        # Naively a daily walk to the year 9999 (about 2.9 million days): probed yearly.
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", 10_000),
        ("FREQ=WEEKLY;BYMONTH=2;BYMONTHDAY=30", 10_000),
        ("FREQ=DAILY;UNTIL=20200101", 1),
    ],
)
def test_a_rule_that_never_occurs_is_refused_without_a_long_search(rule: str, most: int) -> None:
    start = datetime(2027, 1, 1, 9, tzinfo=UTC)

    def check() -> None:
        with pytest.raises(RuleError, match="no occurrence"):
            normalize(rule, ZoneInfo("UTC"), start)

    assert periods_walked(check, limit=10 * most) <= most
