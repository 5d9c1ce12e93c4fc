"""Stage history durations, deal aging (days in stage, rotting) and the velocity numbers.

Time passing is simulated by moving ``stage_changed_at`` back with superuser SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.api.deals.conftest import Sql, move, new_deal
from tests.api.records.conftest import add_member
from tests.conftest import Team, assert_problem

DAY = 86400


async def _age(sql: Sql, deal_id: str, days: float) -> None:
    await sql.exec(
        "UPDATE app.deals SET stage_changed_at = stage_changed_at - make_interval(secs => %s) "
        "WHERE id = %s",
        days * DAY,
        deal_id,
    )


def _moment(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def _day(raw: str) -> date:
    """The UTC date of a timestamp the API gave."""
    return _moment(raw).astimezone(UTC).date()


async def test_history_durations_and_aging(team: Team, sql: Sql) -> None:
    d = await new_deal(team)
    await _age(sql, d["id"], 3)
    got = (await team.get(f"/api/v1/deals/{d['id']}")).json()
    assert got["days_in_stage"] == 3 and got["is_rotting"] is False
    since = [got["stage_changed_at"]]
    await move(team, d["id"], "contact_made")
    await _age(sql, d["id"], 1.5)
    since.append((await team.get(f"/api/v1/deals/{d['id']}")).json()["stage_changed_at"])
    await move(team, d["id"], "demo_scheduled")
    hist = (await team.get(f"/api/v1/deals/{d['id']}/stage-history")).json()["data"]
    assert [(h["from_stage"], h["to_stage"]) for h in hist] == [
        (None, "qualified"),
        ("qualified", "contact_made"),
        ("contact_made", "demo_scheduled"),
    ]
    assert hist[0]["duration_in_stage"] is None
    # Each duration is from entering the stage (as aged) to the move, to the second.
    for h, entered, aged in zip(hist[1:], since, (3, 1.5), strict=True):
        spent = _moment(h["changed_at"]) - _moment(entered)
        assert h["duration_in_stage"] == int(spent.total_seconds()) >= aged * DAY
    assert all(h["changed_by"] == team.member_id for h in hist)
    await _age(sql, d["id"], 15)  # demo_scheduled rots after 14 days
    got = (await team.get(f"/api/v1/deals/{d['id']}")).json()
    assert got["days_in_stage"] == 15 and got["is_rotting"] is True
    board = (
        await team.get(f"/api/v1/pipelines/{got['pipeline_id']}/board?stage=demo_scheduled")
    ).json()
    assert board["columns"][0]["deals"][0]["is_rotting"] is True
    # A closed deal does not rot.
    won = (await move(team, d["id"], "won", win_reason="fit")).json()
    await _age(sql, d["id"], 400)
    assert (await team.get(f"/api/v1/deals/{won['id']}")).json()["is_rotting"] is False


async def test_velocity_average_and_median(team: Team, sql: Sql) -> None:
    rep = await add_member(team, "user")
    stages = [
        {"key": "a", "name": "A", "probability": 10},
        {"key": "b", "name": "B", "probability": 50},
        {"key": "c", "name": "C", "probability": 90},
    ]
    pid = (await team.post("/api/v1/pipelines", json={"name": "V", "stages": stages})).json()["id"]
    plan = [(team.member_id, 2, 1), (team.member_id, 4, 3), (rep.member_id, 6, None)]
    moved_on = set()  # the days of the moves (one, unless the run spans midnight)
    for owner, days_a, days_b in plan:
        d = await new_deal(team, pipeline_id=pid, owner_id=owner)
        await _age(sql, d["id"], days_a)
        moved_on.add(_day((await move(team, d["id"], "b")).json()["stage_changed_at"]))
        if days_b is not None:
            await _age(sql, d["id"], days_b)
            moved_on.add(_day((await move(team, d["id"], "c")).json()["stage_changed_at"]))
    first, today = min(moved_on), max(moved_on)
    r = await team.get(f"/api/v1/deals/velocity?pipeline_id={pid}&from={first}&to={today}")
    assert r.status_code == 200, r.text
    v = r.json()
    by_pipeline = {row["stage"]: row for row in v["by_pipeline"]}
    assert by_pipeline["a"]["transitions"] == 3
    assert by_pipeline["a"]["average_days"] == 4.0 and by_pipeline["a"]["median_days"] == 4.0
    assert by_pipeline["b"]["transitions"] == 2
    assert by_pipeline["b"]["average_days"] == 2.0 and by_pipeline["b"]["median_days"] == 2.0
    by_owner = {(row["owner_id"], row["stage"]): row for row in v["by_owner"]}
    assert by_owner[(team.member_id, "a")]["average_days"] == 3.0
    assert by_owner[(rep.member_id, "a")]["median_days"] == 6.0
    assert (team.member_id, "c") not in by_owner
    only_rep = (
        await team.get(f"/api/v1/deals/velocity?pipeline_id={pid}&owner_id={rep.member_id}")
    ).json()
    assert [(r["stage"], r["transitions"]) for r in only_rep["by_pipeline"]] == [("a", 1)]
    past = first - timedelta(days=30)
    r = await team.get(f"/api/v1/deals/velocity?pipeline_id={pid}&from={past}&to={past}")
    assert r.json()["by_pipeline"] == []
    assert_problem(await team.get(f"/api/v1/deals/velocity?from={today}&to={past}"), 400)
    assert_problem(await team.get("/api/v1/deals/velocity?owner_id=DROP TABLE"), 400)
    # The default from (90 days before to) of a to in year 1 was a 500 (OverflowError).
    r = await team.get("/api/v1/deals/velocity?to=0001-01-01")
    assert r.status_code == 200, r.text
    assert (r.json()["date_from"], r.json()["date_to"]) == ("0001-01-01", "0001-01-01")
    r = await team.get("/api/v1/deals/velocity?to=0001-06-01")
    assert r.json()["date_from"] == "0001-03-03"
