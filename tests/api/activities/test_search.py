"""Full-text search: relevance, snippets, comments, filters, pages, injection-safe parsing,
tenant scope."""

from __future__ import annotations

import hashlib

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
    """app.activity_search ranks the p_cap most recent matches, every match when there are
    fewer (bounded work for any query; tests/api/activities/test_indexes.py checks each path)."""
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
    # More matches than p_cap: the p_cap most recent.
    assert capped == [made[-1]["id"]]
    assert few == {made[-1]["id"], made[-2]["id"]}
    assert every == {a["id"] for a in made}  # fewer than p_cap: every match is ranked
    # Without a team in the transaction the look-up finds nothing.
    async with api_engine().begin() as conn:
        assert (await conn.execute(query, {"q": word, "cap": 1000})).all() == []


# Text forms of tsvectors and tsqueries with the odd cases of their syntax: quotes ('' inside a
# lexeme), backslashes, spaces, weights, positions, prefixes, phrases, negation, non-ASCII.
ODD_VECTORS = [
    r"'it''s':1A 'back\\slash':2B 'a b':3 'x ':4 ' y':5C '''':6 'plain' 'pric':7",
    r"'end ' 'start'",
    r"'only'",
    r"'x':1,2,3A 'y':4B,5C 'z':16383",
    r"'東京':1 'café':2A '😀':3 'pricing':4",
    r"'a':1 'b':2 'c':4 'it''s':5",
    "",
]
ODD_TSQUERIES = [
    r"'pric':*",
    r"'it''s' & !'plain'",
    r"'a b' <-> 'x '",
    r"'x':A | 'y':BC",
    r"'back\\slash':* & 'end '",
    r"!'only'",
    r"'東京' & 'café':A",
    r"'a' <-> 'b' & !('c' <2> 'it''s')",
    r"'a' <2> 'c'",
    r"'''' | ' y':*C",
]


async def test_tagged_vectors_and_queries_match_and_rank_like_untagged_ones(team: Team) -> None:
    """app.team_tsvector / app.team_tsquery put the team's tag before every lexeme and change
    nothing else: the tag taken off gives the vector back, and every query matches and ranks a
    tagged vector as the untagged query the untagged vector; another team's tag matches nothing."""
    from tests.api.activities.conftest import sql

    t, other = team.team_id, "team_someone_else"
    tag = hashlib.md5(t.encode()).hexdigest()[:8] + "|"
    for v in ODD_VECTORS:
        [row] = await sql(
            "SELECT app.team_tsvector(:t, CAST(:v AS tsvector))::text AS tagged, "
            "CAST(:v AS tsvector)::text AS plain, length(CAST(:v AS tsvector)) AS n",
            team=t,
            t=t,
            v=v,
        )
        assert row["tagged"].replace("'" + tag, "'") == row["plain"], v
        assert row["tagged"].count("'" + tag) == row["n"], v
        for q in ODD_TSQUERIES:
            [m] = await sql(
                "SELECT CAST(:v AS tsvector) @@ CAST(:q AS tsquery) AS plain, "
                "app.team_tsvector(:t, CAST(:v AS tsvector)) @@ "
                "  app.team_tsquery(:t, CAST(:q AS tsquery)) AS tagged, "
                "app.team_tsvector(:t, CAST(:v AS tsvector)) @@ "
                "  app.team_tsquery(:o, CAST(:q AS tsquery)) AS other, "
                "ts_rank(CAST(:v AS tsvector), CAST(:q AS tsquery)) AS plain_rank, "
                "ts_rank(app.team_tsvector(:t, CAST(:v AS tsvector)), "
                "  app.team_tsquery(:t, CAST(:q AS tsquery))) AS tagged_rank",
                team=t,
                t=t,
                o=other,
                v=v,
                q=q,
            )
            assert m["tagged"] == m["plain"], (v, q)
            assert m["tagged_rank"] == m["plain_rank"], (v, q)
            if not q.startswith("!"):
                assert m["other"] is False, (v, q)
    # A lexeme too long to carry the tag (2,046 bytes at most on PostgreSQL 18, 2,047 on 15)
    # stays out of the vector; such a query word matches nothing (queries through the API are at
    # most 500 characters).
    [row] = await sql(
        "SELECT app.team_tsvector(:t, CAST(:v AS tsvector))::text AS tagged, "
        "app.team_tsvector(:t, CAST(:v AS tsvector)) @@ app.team_tsquery(:t, CAST(:q AS tsquery))"
        " AS found",
        team=t,
        t=t,
        v="z" * 2038 + " short " + "y" * 2037,
        q="z" * 2038 + ":* | zz:*",
    )
    assert row["tagged"] == f"'{tag}short' '{tag}{'y' * 2037}'" and row["found"] is False


async def test_prefix_weight_and_phrase_queries_find_tagged_entries(team: Team) -> None:
    """Prefix (:*) and weight (:A) queries cannot be written in web-search syntax; the look-up
    takes any tsquery."""
    from sqlalchemy import text

    from warehouse.db import api_engine, tenant_tx

    word = uniq("walrus")
    lead = await new_lead(team)
    subject = await log(team, lead, "lead", subject=f"{word} tusk")
    body = await log(team, lead, "lead", subject="x", description=f"<p>tusk and {word}</p>")
    query = text(
        "SELECT activity_id FROM app.activity_search(to_tsquery('english', :q), 50, "
        "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1000)"
    )
    async with tenant_tx(api_engine(), team.team_id) as conn:

        async def ids(q: str) -> set[str]:
            return set((await conn.execute(query, {"q": q})).scalars())

        both = {subject["id"], body["id"]}
        assert await ids(f"{word[:-3]}:*") == both
        assert await ids(f"{word}:A") == {subject["id"]}
        assert await ids(f"{word}:B & tusk") == {body["id"]}
        assert await ids(f"{word} <-> tusk") == {subject["id"]}
        assert await ids(f"tusk <2> {word}") == {body["id"]}
    assert [h["activity"]["id"] for h in (await search(team, f'"{word} tusk"'))["data"]] == [
        subject["id"]
    ]


async def test_another_teams_tag_in_a_query_finds_nothing(team: Team, other_team: Team) -> None:
    word = uniq("narwhal")
    lead = await new_lead(team)
    await log(team, lead, "lead", subject=f"secret {word}")
    tag = hashlib.md5(team.team_id.encode()).hexdigest()[:8]
    for q in (word, f"{tag}|{word}", f"{tag}{word}", f"'{tag}|{word}'", f"{tag} {word}"):
        assert (await search(other_team, q))["data"] == [], q
    assert len((await search(team, word))["data"]) == 1


async def test_an_activity_matching_itself_and_in_a_comment_is_one_hit(team: Team) -> None:
    """Each activity once, through its best match: its own subject (weight A) outranks the
    comment (weight D); an activity found only through comments names its best comment."""
    word = uniq("dugong")
    lead = await new_lead(team)
    act = await log(team, lead, "lead", subject=f"About the {word}")
    plain = await log(team, lead, "lead", subject="Nothing here")
    for a in (act, plain, plain):
        r = await team.post(f"/api/v1/activities/{a['id']}/comments", json={"text": f"{word}!"})
        assert r.status_code == 201, r.text
    hits = (await search(team, word))["data"]
    assert [(h["activity"]["id"], h["comment_id"] is None) for h in hits] == [
        (act["id"], True),
        (plain["id"], False),
    ]
    assert hits[0]["rank"] > hits[1]["rank"] > 0
