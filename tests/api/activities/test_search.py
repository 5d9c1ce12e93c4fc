"""Full-text search: relevance, snippets, comments, filters, pages, injection-safe parsing,
tenant scope."""

from __future__ import annotations

from tests.api.activities.conftest import derive, log, new_lead, uniq
from tests.conftest import Team, assert_problem


async def search(team: Team, q: str, **params: object) -> dict:
    r = await team.get("/api/v1/search/activities", params={"q": q, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data", "next_cursor", "has_more"}
    return body


async def test_ranking_snippets_and_syntax(team: Team) -> None:
    word = uniq("zebra")
    lead = await new_lead(team)
    in_subject = await log(team, lead, "lead", subject=f"Quarterly {word} renewal")
    in_body = await log(
        team,
        lead,
        "lead",
        subject="Catch-up",
        description=f"<p>We talked about the {word} and pricing of the renewals</p>",
    )
    await log(team, lead, "lead", subject="Unrelated", description="nothing to see")
    hits = (await search(team, word))["data"]
    # Searchable as soon as the writing request returned; the subject match ranks first.
    assert [h["activity"]["id"] for h in hits] == [in_subject["id"], in_body["id"]]
    assert hits[0]["rank"] > hits[1]["rank"] > 0
    assert f"<mark>{word}</mark>" in hits[0]["snippet"]
    assert "<p>" not in hits[1]["snippet"] and "<mark>" in hits[1]["snippet"]
    assert hits[0]["activity"]["subject"] == f"Quarterly {word} renewal"
    # Web-search syntax: stemming, phrases, OR, negation.
    assert len((await search(team, f"{word} renewal"))["data"]) == 2  # renewals ~ renewal
    phrase = (await search(team, f'"quarterly {word}"'))["data"]
    assert [h["activity"]["id"] for h in phrase] == [in_subject["id"]]
    neg = (await search(team, f"{word} -pricing"))["data"]
    assert [h["activity"]["id"] for h in neg] == [in_subject["id"]]
    either = (await search(team, f"{word} OR unrelated"))["data"]
    assert len(either) == 3


async def test_comments_are_searched_and_tombstones_are_not(team: Team) -> None:
    word = uniq("okapi")
    lead = await new_lead(team)
    act = await log(team, lead, "lead", subject="Plain subject")
    c = await team.post(
        f"/api/v1/activities/{act['id']}/comments",
        json={"text": f"ask about the {word} <b>soon</b>"},
    )
    [hit] = (await search(team, word))["data"]
    assert hit["activity"]["id"] == act["id"] and hit["comment_id"] == c.json()["id"]
    assert f"<mark>{word}</mark>" in hit["snippet"] and "<b>" not in hit["snippet"]
    await team.delete(f"/api/v1/activities/{act['id']}/comments/{c.json()['id']}")
    assert (await search(team, word))["data"] == []
    # A deleted activity is not found either.
    other = await log(team, lead, "lead", subject=f"{word} again")
    assert len((await search(team, word))["data"]) == 1
    await team.delete(f"/api/v1/activities/{other['id']}")
    assert (await search(team, word))["data"] == []


async def test_html_in_subjects_is_escaped_in_snippets(team: Team) -> None:
    word = uniq("tapir")
    lead = await new_lead(team)
    await log(team, lead, "lead", subject=f"<img src=x onerror=alert(1)> {word}")
    [hit] = (await search(team, word))["data"]
    assert "<img" not in hit["snippet"] and "&gt;" in hit["snippet"]


async def test_filters_and_pages(team: Team, mate: Team) -> None:
    word = uniq("lynx")
    lead, other_lead = await new_lead(team), await new_lead(team)
    made = []
    for i in range(5):
        who = team if i % 2 == 0 else mate
        kind = "call" if i < 3 else "note"
        made.append(
            await log(
                who,
                lead if i != 4 else other_lead,
                "lead",
                type=kind,
                subject=f"{word} item {i}",
                occurred_at=f"2026-02-0{i + 1}T10:00:00Z",
            )
        )
    assert len((await search(team, word, type="call"))["data"]) == 3
    assert len((await search(team, word, member_id=mate.member_id))["data"]) == 2
    assert len((await search(team, word, related_to_id=other_lead["id"]))["data"]) == 1
    assert len((await search(team, word, related_to_type="lead"))["data"]) == 5
    assert (
        len((await search(team, word, **{"from": "2026-02-02", "to": "2026-02-03"}))["data"]) == 2
    )
    seen, cursor = [], None
    while True:
        page = await search(team, word, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [h["activity"]["id"] for h in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(a["id"] for a in made) and len(seen) == 5
    for params in ({"limit": "0"}, {"cursor": "zz"}, {"type": "nope"}, {"group_by": "day"}):
        assert_problem(
            await team.get("/api/v1/search/activities", params={"q": word, **params}), 400
        )


ODD_QUERIES = [
    "'; DROP TABLE app.activities; --",
    "' OR 1=1 --",
    '"unclosed phrase',
    "a & b | !c",
    "((( ))) ) (",
    "foo:* <-> bar",
    "\\",
    "%_%",
    "-",
    "OR",
    '"" ""',
    "café 東京 😀",
    "$$ $1 ::text",
    "x" * 500,
]


async def test_any_query_text_is_safe(team: Team) -> None:
    lead = await new_lead(team)
    await log(team, lead, "lead", subject="please drop table app.activities")
    for q in ODD_QUERIES:
        body = await search(team, q)
        assert isinstance(body["data"], list), q
    # The SQL in a query is only words: it matches text, it never runs.
    hits = (await search(team, "'; DROP TABLE app.activities; --"))["data"]
    assert [h["activity"]["subject"] for h in hits] == ["please drop table app.activities"]


async def test_bad_queries_are_problems(team: Team) -> None:
    url = "/api/v1/search/activities"
    assert_problem(await team.get(url), 400)
    assert_problem(await team.get(url, params={"q": "   "}), 400)
    assert_problem(await team.get(url, params={"q": "x" * 501}), 400)
    assert_problem(await team.get(url, params={"q": "a\x00b"}), 400)
    assert_problem(await team.get(url, params={"q": "a", "nope": "1"}), 400)
    assert_problem(await team.get(url, params=[("q", "a"), ("q", "b")]), 400)
    assert_problem(await team.http.get(url, params={"q": "a"}), 401)


async def test_search_is_tenant_scoped(team: Team, other_team: Team) -> None:
    word = uniq("quokka")
    lead = await new_lead(team)
    await log(team, lead, "lead", subject=f"secret {word}")
    assert len((await search(team, word))["data"]) == 1
    assert (await search(other_team, word))["data"] == []
    assert (await search(other_team, word, related_to_id=lead["id"]))["data"] == []


async def test_derived_entries_are_searchable(team: Team) -> None:
    lead = await new_lead(team, status="new")
    await team.patch(f"/api/v1/leads/{lead['id']}", json={"status": "unqualified"})
    await derive(team.team_id)
    hits = (await search(team, "unqualified", related_to_id=lead["id"]))["data"]
    assert [h["activity"]["type"] for h in hits] == ["status_change"]


async def test_matches_are_ranked_among_the_most_recent(team: Team) -> None:
    """app.activity_search ranks every match, unless there are p_cap of them among the
    20 x p_cap most recent entries or more than 5 x p_cap in all: then the p_cap most recent
    (bounded work for common words)."""
    from sqlalchemy import text

    from warehouse.db import api_engine, tenant_tx

    word = uniq("ibex")
    lead = await new_lead(team)
    made = [
        await log(
            team, lead, "lead", subject=f"{word} {i}", occurred_at=f"2026-04-0{i + 1}T08:00:00Z"
        )
        for i in range(6)
    ]
    query = text(
        "SELECT activity_id FROM app.activity_search(websearch_to_tsquery('english', :q), 50, "
        "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, :cap)"
    )
    async with tenant_tx(api_engine(), team.team_id) as conn:
        capped = list((await conn.execute(query, {"q": word, "cap": 1})).scalars())
        few = set((await conn.execute(query, {"q": word, "cap": 2})).scalars())
        every = set((await conn.execute(query, {"q": word, "cap": 1000})).scalars())
    # p_cap matches among the 20 x p_cap most recent entries: the p_cap most recent matches.
    assert capped == [made[-1]["id"]]
    assert few == {made[-1]["id"], made[-2]["id"]}
    assert every == {a["id"] for a in made}  # fewer than p_cap: every match is ranked
    # Without a team in the transaction the look-up finds nothing.
    async with api_engine().begin() as conn:
        assert (await conn.execute(query, {"q": word, "cap": 1000})).all() == []
