"""The timeline pages through AppTest against the real API server: a record's timeline with
filters and grouping, a comment with an @mention picked by autocomplete, and search (scoped to
the signed-in member's team)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.apps.conftest import SeededTeam
from tests.plugin import APPS, open_page

# One xdist worker runs the app tests (`--dist loadgroup`): one API server, seed and dbt build.
pytestmark = pytest.mark.xdist_group("apps")


def ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def text_of(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.info, *at.subheader)]
    return "\n".join(str(p) for p in parts)


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def seeded(api_url: str, teams: dict[str, SeededTeam]) -> dict[str, Any]:
    """Three activities on one of Acme's leads, logged through the API."""
    acme = teams["acme"]
    word = f"wombat{secrets.token_hex(3)}"
    with httpx.Client(base_url=api_url + "/api/v1", headers=acme.headers, timeout=30) as c:
        lead = _ok(c.get("/leads", params={"limit": "1", "sort": "created_at"}))["data"][0]
        rel = {"related_to_type": "lead", "related_to_id": lead["id"]}
        call = _ok(
            c.post(
                "/activities",
                json={
                    "type": "call",
                    "subject": f"Budget call {word}",
                    "metadata": {"duration": 600, "outcome": "connected"},
                    **rel,
                },
            ),
            201,
        )
        note = _ok(
            c.post("/activities", json={"type": "note", "subject": "Follow-up note", **rel}), 201
        )
        meeting = _ok(
            c.post(
                "/activities",
                json={
                    "type": "meeting",
                    "subject": "Kick-off meeting",
                    "metadata": {"starts_at": dt.datetime.now(dt.UTC).isoformat()},
                    **rel,
                },
            ),
            201,
        )
        rep = next(
            m
            for m in _ok(c.get("/members", params={"search": "Rep"}))["data"]
            if m["email"] == acme.rep_email
        )
    return {"lead": lead, "call": call, "note": note, "meeting": meeting, "word": word, "rep": rep}


def open_timeline(team: SeededTeam, lead_id: str) -> AppTest:
    at = open_page(team, "30_Record_timeline.py")
    at.query_params["type"] = "lead"
    at.query_params["id"] = lead_id  # a link from another page
    at.run()
    ok(at)
    assert at.selectbox(key="rt_record_leads_pick").value == lead_id
    return at


def test_timeline_filters_and_groups(teams: dict[str, SeededTeam], seeded: dict) -> None:
    at = open_timeline(teams["acme"], seeded["lead"]["id"])
    shown = text_of(at)
    for subject in (seeded["call"]["subject"], "Follow-up note", "Kick-off meeting"):
        assert subject in shown
    assert shown.index("Kick-off meeting") < shown.index(seeded["call"]["subject"])  # newest first
    at.multiselect(key="rt_types").set_value(["call"])
    at.run()
    ok(at)
    shown = text_of(at)
    assert seeded["call"]["subject"] in shown and "Follow-up note" not in shown
    assert "10 min 0 s · outcome: connected" in shown
    at.multiselect(key="rt_types").set_value([])
    at.selectbox(key="rt_group").set_value("By type")
    at.run()
    ok(at)
    assert {"call (1)", "note (1)", "meeting (1)"} <= {s.value for s in at.subheader}


def test_comment_with_a_mention_picked_by_autocomplete(
    api_url: str, teams: dict[str, SeededTeam], seeded: dict
) -> None:
    acme, call, rep = teams["acme"], seeded["call"], seeded["rep"]
    at = open_timeline(acme, seeded["lead"]["id"])
    key = f"rt_{call['id']}"
    at.toggle(key=f"{key}_open").set_value(True)
    at.run()
    ok(at)
    assert "No comments yet." in text_of(at)
    at.text_input(key=f"{key}_find").input("Rep")
    at.run()
    assert rep["name"] in at.selectbox(key=f"{key}_pick").options
    at.selectbox(key=f"{key}_pick").set_value(rep["id"])
    at.button(key=f"{key}_insert").click()
    at.run()
    draft = at.text_area(key=f"{key}_draft").value
    assert f"({rep['id']})" in draft
    at.text_area(key=f"{key}_draft").input(draft + "can you join the next call?")
    at.button(key=f"{key}_post").click()
    at.run()
    ok(at)
    assert "Comment posted." in [s.value for s in at.success]
    assert "can you join the next call?" in text_of(at)
    with httpx.Client(base_url=api_url + "/api/v1", headers=acme.headers, timeout=30) as c:
        [comment] = _ok(c.get(f"/activities/{call['id']}/comments"))["data"]
    assert comment["mentions"] == [rep["id"]]
    # A bad reply (empty text) shows the API's problem and writes nothing.
    at.button(key=f"{key}_post").click()
    at.run()
    assert at.error and "comment" in at.error[0].value.lower()


def test_search_page(teams: dict[str, SeededTeam], seeded: dict) -> None:
    word = seeded["word"]
    at = open_page(teams["acme"], "31_Search.py")
    at.text_input(key="search_q").input(word)
    submit = next(b for b in at.button if b.label == "Search")
    submit.click()
    at.run()
    ok(at)
    assert f"<mark>{word}</mark>" in text_of(at)
    assert seeded["call"]["subject"] in text_of(at)
    # Another team finds nothing of Acme's.
    other = open_page(teams["globex"], "31_Search.py")
    other.text_input(key="search_q").input(word)
    next(b for b in other.button if b.label == "Search").click()
    other.run()
    ok(other)
    assert "No activity matches." in text_of(other)


def test_log_a_call_from_the_timeline(teams: dict[str, SeededTeam], seeded: dict) -> None:
    at = open_timeline(teams["acme"], seeded["lead"]["id"])
    subject = f"Logged from the page {secrets.token_hex(3)}"
    at.selectbox(key="rt_log_type").set_value("call")
    at.text_input(key="rt_log_subject").input(subject)
    at.number_input(key="rt_log_minutes").set_value(3)
    at.text_input(key="rt_log_outcome").input("voicemail")
    next(b for b in at.button if b.label == "Log it").click()
    at.run()
    ok(at)
    assert "Logged." in [s.value for s in at.success]
    shown = text_of(at)
    assert subject in shown and "3 min 0 s · outcome: voicemail" in shown


def test_pages_ask_to_sign_in_first(api_url: str) -> None:
    for page in ("30_Record_timeline.py", "31_Search.py"):
        at = AppTest.from_file(str(APPS / "Home.py"), default_timeout=60)
        at.run()
        at.switch_page(f"pages/{page}")
        at.run()
        assert not at.exception, (page, at.exception)
        assert "Sign in on the Home page" in at.info[0].value, page
