"""Field history (GET /{id}/history) and point-in-time reads (GET /{id}?as_of=)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.records.conftest import Spec
from tests.conftest import Team, assert_problem
from tests.plugin import moment


async def test_history_and_as_of(team: Team, spec: Spec) -> None:
    t0 = await moment()
    body = await spec.payload(team)
    rec = (await team.post(f"/api/v1/{spec.plural}", json=body)).json()
    url = f"/api/v1/{spec.plural}/{rec['id']}"
    t1 = await moment()
    v2 = (await team.patch(url, json={"custom": {"step": 2}})).json()
    t2 = await moment()
    v3 = (await team.patch(url, json={"custom": {"step": 3}, **spec.change})).json()
    t3 = await moment()
    assert (await team.delete(url)).status_code == 204
    t4 = await moment()

    # History: who, when, which field, old and new value; oldest first.
    r = await team.get(f"{url}/history")
    assert r.status_code == 200, r.text
    hist = r.json()
    assert set(hist) == {"data", "next_cursor", "has_more"}
    rows = hist["data"]
    assert {h["changed_by"] for h in rows} == {team.member_id}
    assert [h["action"] for h in rows if h["field"] == "custom"] == [
        "created",
        "updated",
        "updated",
    ]
    steps = [(h["old"], h["new"]) for h in rows if h["field"] == "custom"]
    assert steps == [(None, {}), ({}, {"step": 2}), ({"step": 2}, {"step": 3})]
    ((field, new),) = spec.change.items()
    assert [(h["old"], h["new"]) for h in rows if h["field"] == field][-1] == (rec[field], new)
    assert rows[-1]["action"] == "deleted" and rows[-1]["field"] == "deleted_at"
    times = [h["changed_at"] for h in rows]
    assert times == sorted(times) and all(t for t in times)
    # Paging through history (by event) gives the same rows.
    paged, cursor = [], None
    for _ in range(10):
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = (await team.get(f"{url}/history", params=params)).json()
        paged += page["data"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert paged == rows

    # as_of: the record as it was at each moment; 404 before creation and after deletion.
    assert_problem(await team.get(url, params={"as_of": t0}), 404)
    for t, want in ((t1, rec), (t2, v2), (t3, v3)):
        r = await team.get(url, params={"as_of": t})
        assert r.status_code == 200, r.text
        got = r.json()
        assert got == want, (t, got, want)
    assert_problem(await team.get(url, params={"as_of": t4}), 404)
    r = await team.get(url, params={"as_of": t2, "fields": "custom"})
    assert r.json() == {"id": rec["id"], "custom": {"step": 2}}
    # Restored: readable again now, still absent while it was deleted.
    assert (await team.post(f"{url}/restore")).status_code == 200
    now = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    assert (await team.get(url, params={"as_of": now})).json()["version"] == 5
    assert_problem(await team.get(url, params={"as_of": t4}), 404)


async def test_as_of_formats_and_errors(team: Team, other_team: Team) -> None:
    lead = (await team.post("/api/v1/leads", json={"first_name": "T"})).json()
    url = f"/api/v1/leads/{lead['id']}"
    later = datetime.now(UTC) + timedelta(hours=1)
    for raw in (
        later.isoformat(),
        later.strftime("%Y-%m-%dT%H:%M:%SZ"),
        later.strftime("%Y-%m-%dT%H:%M:%S"),
        (later + timedelta(hours=2)).astimezone().isoformat(),
    ):
        r = await team.get(url, params={"as_of": raw})
        assert r.status_code == 200, (raw, r.text)
    # An unescaped "+" arrives as a space: still understood.
    r = await team.get(f"{url}?as_of={later.strftime('%Y-%m-%dT%H:%M:%S')}+00:00")
    assert r.status_code == 200, r.text
    for bad in ("yesterday", "", "2026-13-01", "12", "now", "2026-01-01T25:00:00"):
        p = assert_problem(await team.get(url, params={"as_of": bad}), 400)
        assert p["errors"][0]["field"] == "as_of"
    # Another team's record: no history, no past.
    assert_problem(await other_team.get(f"{url}/history"), 404)
    assert_problem(await other_team.get(url, params={"as_of": later.isoformat()}), 404)
    assert_problem(await team.get("/api/v1/leads/lead_nope/history"), 404)
    for params in ({"limit": "0"}, {"limit": "x"}, {"cursor": "abc"}):
        assert_problem(await team.get(f"{url}/history", params=params), 400)
