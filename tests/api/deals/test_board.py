"""The board: per-column totals against an independent SQL computation, per-column cursors,
ordering by moves, filters."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from tests.api.deals.conftest import Sql, default_pipeline, move, new_deal
from tests.conftest import Team, assert_problem

CENT = Decimal("0.01")


async def test_board_totals_match_sql(team: Team, sql: Sql) -> None:
    p = await default_pipeline(team)
    values = ["1000", "250.50", "99.99", None, "0.01", "12345.67"]
    made = [await new_deal(team, value=v) for v in values]
    await move(team, made[0]["id"], "contact_made")
    await move(team, made[1]["id"], "contact_made", probability=33)
    await team.patch(f"/api/v1/deals/{made[2]['id']}", json={"probability": 77})
    await move(team, made[5]["id"], "won", win_reason="fit")
    await team.delete(f"/api/v1/deals/{made[4]['id']}")
    board = (await team.get(f"/api/v1/pipelines/{p['id']}/board")).json()
    assert [c["stage"] for c in board["columns"]] == [s["key"] for s in p["stages"]]
    expected = {
        r["stage"]: r
        for r in await sql.all(
            """SELECT stage, count(*) AS n, coalesce(sum(value), 0) AS total,
                      coalesce(sum(value * probability / 100.0), 0) AS weighted
               FROM app.deals WHERE team_id = %s AND pipeline_id = %s AND deleted_at IS NULL
               GROUP BY stage""",
            team.team_id,
            p["id"],
        )
    }
    for col in board["columns"]:
        e = expected.get(col["stage"])
        n = e["n"] if e else 0
        assert col["count"] == n == len(col["deals"])
        total = Decimal(e["total"]) if e else Decimal(0)
        weighted = Decimal(e["weighted"]) if e else Decimal(0)
        assert Decimal(col["total_value"]) == total.quantize(CENT, rounding=ROUND_HALF_UP)
        assert Decimal(col["weighted_value"]) == weighted.quantize(CENT, rounding=ROUND_HALF_UP)
    by = {c["stage"]: c for c in board["columns"]}
    assert by["contact_made"]["weighted_value"] == "282.67"  # 1000*.2 + 250.50*.33
    assert by["won"]["total_value"] == "12345.67" and by["won"]["count"] == 1
    # Weighted pipeline value: open deals only.
    w = (await team.get(f"/api/v1/deals/weighted-value?pipeline_id={p['id']}")).json()["data"]
    assert w == [
        {
            "pipeline_id": p["id"],
            "currency": "USD",
            "open_deals": 4,
            "total_value": "1350.49",
            "weighted_value": "359.66",
        }
    ]


async def test_column_cursor_and_move_positions(team: Team) -> None:
    p = await default_pipeline(team)
    ids = [(await new_deal(team, value=10))["id"] for _ in range(5)]
    url = f"/api/v1/pipelines/{p['id']}/board"
    first = (await team.get(f"{url}?limit=2")).json()
    col = first["columns"][0]
    assert [d["id"] for d in col["deals"]] == ids[:2] and col["count"] == 5
    assert col["total_value"] == "50.00" and col["next_cursor"]
    seen = [d["id"] for d in col["deals"]]
    cursor = col["next_cursor"]
    while cursor:
        page = (await team.get(f"{url}?limit=2&cursor={cursor}")).json()
        assert [c["stage"] for c in page["columns"]] == ["qualified"]
        assert page["columns"][0]["count"] == 5
        seen += [d["id"] for d in page["columns"][0]["deals"]]
        cursor = page["columns"][0]["next_cursor"]
    assert seen == ids
    # Reorder within the column and move across columns at a position.
    await move(team, ids[4], "qualified", position=0)
    await move(team, ids[3], "qualified", position=2)
    col = (await team.get(f"{url}?stage=qualified")).json()["columns"][0]
    assert [d["id"] for d in col["deals"]] == [ids[4], ids[0], ids[3], ids[1], ids[2]]
    await move(team, ids[0], "contact_made")
    await move(team, ids[1], "contact_made", position=0)
    await move(team, ids[2], "contact_made", position=1)
    col = (await team.get(f"{url}?stage=contact_made")).json()["columns"][0]
    assert [d["id"] for d in col["deals"]] == [ids[1], ids[2], ids[0]]
    # Filters apply to the cards and the totals.
    f = (await team.get(f"{url}?stage=contact_made&filter[id]={ids[1]}")).json()["columns"][0]
    assert f["count"] == 1 and [d["id"] for d in f["deals"]] == [ids[1]]
    for bad in ("?cursor=garbage", "?stage=nope", "?limit=0", "?sort=name", "?filter[nope]=1"):
        assert_problem(await team.get(f"{url}{bad}"), 400)


async def test_many_bisections_keep_order(team: Team) -> None:
    a = await new_deal(team)
    b = await new_deal(team)
    moved = []
    for _ in range(60):  # bisecting the same gap runs out of float room and renumbers
        d = await new_deal(team)
        await move(team, d["id"], "qualified", position=1)
        moved.append(d["id"])
    p = await default_pipeline(team)
    col = (await team.get(f"/api/v1/pipelines/{p['id']}/board?stage=qualified&limit=200")).json()[
        "columns"
    ][0]
    assert [d["id"] for d in col["deals"]] == [a["id"], *reversed(moved), b["id"]]
