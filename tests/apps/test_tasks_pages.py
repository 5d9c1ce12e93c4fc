"""The task pages through AppTest against the real API server: the list with a bulk action, the
board (a blocked move names its blocker), the calendar with its feed link, the Gantt chart and
the recurring-task builder."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from icalendar import Calendar
from streamlit.testing.v1 import AppTest

from tests.apps.conftest import seed_team
from tests.plugin import APPS, open_page

# One xdist worker runs the app tests (`--dist loadgroup`): one API server, seed and dbt build.
pytestmark = pytest.mark.xdist_group("apps")


@pytest.fixture(scope="module")
def world(api_url: str) -> dict[str, Any]:
    team = seed_team(api_url, "Taskers", [])
    with httpx.Client(base_url=api_url + "/api/v1", headers=team.headers, timeout=30) as http:

        def task(**body: Any) -> dict[str, Any]:
            r = http.post("/tasks", json={"assignee_ids": [team.member_id], **body})
            assert r.status_code == 201, r.text
            return r.json()

        lead = http.post("/leads", json={"first_name": "Gantt"}).json()
        design = task(
            title="Design",
            due_at="2027-02-01T10:00:00Z",
            related_to_type="lead",
            related_to_id=lead["id"],
            estimated_hours=4,
        )
        build = task(
            title="Build",
            due_at="2027-02-05T10:00:00Z",
            related_to_type="lead",
            related_to_id=lead["id"],
        )
        r = http.post(
            f"/tasks/{build['id']}/dependencies", json={"depends_on_task_id": design["id"]}
        )
        assert r.status_code == 201, r.text
        chore = task(title="Chore", due_at="2027-01-20T09:00:00Z", priority="low")
    return {"team": team, "design": design, "build": build, "chore": chore, "api": api_url}


def ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def get(world: dict[str, Any], path: str, **params: Any) -> Any:
    r = httpx.get(
        world["api"] + "/api/v1" + path, headers=world["team"].headers, params=params, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_my_tasks_list_and_bulk_complete(world: dict[str, Any]) -> None:
    at = open_page(world["team"], "20_My_tasks.py")
    frame = at.dataframe[0].value
    assert set(frame["title"]) == {"Design", "Build", "Chore"}
    at.multiselect(key="tk_selected").select(world["chore"]["id"]).select(world["build"]["id"])
    at.selectbox(key="tk_bulk_action").select("complete")
    at.run()
    at.button(key="tk_bulk_apply").click()
    at.run()
    # Build waits for Design: nothing changed, and the page says why.
    assert at.error and "Nothing was changed" in at.error[0].value
    assert get(world, f"/tasks/{world['chore']['id']}")["status"] == "todo"
    at.multiselect(key="tk_selected").unselect(world["build"]["id"])
    at.run()
    at.button(key="tk_bulk_apply").click()
    at.run()
    assert not at.exception
    assert get(world, f"/tasks/{world['chore']['id']}")["status"] == "completed"


def test_board_moves_and_names_the_blocker(world: dict[str, Any]) -> None:
    at = open_page(world["team"], "21_Task_board.py")
    build, design = world["build"]["id"], world["design"]["id"]
    at.selectbox(key=f"tb_move_{build}").select("in_progress")
    at.run()
    assert at.error and "Cannot move it" in at.error[0].value
    assert any("Design" in w.value for w in at.warning)
    at = open_page(world["team"], "21_Task_board.py")
    at.selectbox(key=f"tb_move_{design}").select("in_progress")
    at.run()
    ok(at)
    assert get(world, f"/tasks/{design}")["status"] == "in_progress"


def test_calendar_page_and_feed_link(world: dict[str, Any]) -> None:
    at = open_page(world["team"], "22_Task_calendar.py")
    at.button(key="tc_feed_new").click()
    at.run()
    ok(at)
    url = at.code[0].value
    r = httpx.get(url.replace("http://leadly.test", world["api"]), timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    summaries = {str(e["summary"]) for e in Calendar.from_ical(r.content).walk("VEVENT")}
    assert {"Design", "Build"} <= summaries


def test_gantt_draws_the_project(world: dict[str, Any]) -> None:
    at = open_page(world["team"], "23_Gantt.py")
    box = at.selectbox(key="gantt_project")
    lead = next(o for o in box.options if o.startswith("Lead: "))  # the record by name
    box.select_index(box.options.index(lead))
    at.run()
    ok(at)
    text = " ".join(c.value for c in at.caption)
    assert "2 task(s), 1 dependenc(ies)" in text


def test_recurring_builder_creates_a_second_tuesday_task(world: dict[str, Any]) -> None:
    at = open_page(world["team"], "24_Recurring_tasks.py")
    at.text_input(key="rt_title").input("Monthly QBR prep")
    at.radio(key="rt_freq").set_value("MONTHLY")
    at.run()
    at.radio(key="rt_monthly").set_value("weekday")
    at.run()
    at.radio(key="rt_ends").set_value("after")
    at.run()
    assert "RRULE:FREQ=MONTHLY;BYDAY=2TU;COUNT=10" in at.code[0].value
    assert any("second Tue" in m.value for m in at.markdown)
    at.button(key="rt_create").click()
    at.run()
    ok(at)
    found = get(world, "/tasks", **{"filter[title]": "Monthly QBR prep"})["data"]
    assert [t["recurrence_rule"] for t in found] == ["FREQ=MONTHLY;BYDAY=2TU;COUNT=10"]


@pytest.mark.parametrize(
    "page",
    [
        "20_My_tasks.py",
        "21_Task_board.py",
        "22_Task_calendar.py",
        "23_Gantt.py",
        "24_Recurring_tasks.py",
    ],
)
def test_pages_ask_to_sign_in(page: str) -> None:
    at = AppTest.from_file(str(APPS / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page(f"pages/{page}")  # not signed in
    at.run()
    assert not at.exception, at.exception
    assert any("Sign in" in i.value for i in at.info)
