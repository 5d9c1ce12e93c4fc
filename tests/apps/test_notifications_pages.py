"""The notification bell, the notification center page and the preferences page against the
real API and dispatcher worker: notifications come from lead assignments made through the API."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tests.apps.conftest import seed_team
from tests.plugin import PASSWORD, open_page, until

# One xdist worker runs the app tests (`--dist loadgroup`): one API server, seed and dbt build.
pytestmark = pytest.mark.xdist_group("apps")


def _consumers_started(database_url: str) -> bool:
    from warehouse.db import libpq_url

    with psycopg.connect(libpq_url(database_url), autocommit=True) as c:
        n = c.execute(
            "SELECT count(*) FROM app.consumer_cursors WHERE consumer = 'notifications'"
        ).fetchone()[0]
    return n == 1


@pytest.fixture(scope="module")
def rep(api_url: str, worker: None, database_url: str) -> dict[str, Any]:
    """A team whose rep has two lead assignments waiting."""
    until(lambda: _consumers_started(database_url), what="notification consumers")
    team = seed_team(api_url, "Bellwether", [], with_rep=True)
    with httpx.Client(base_url=api_url + "/api/v1", timeout=30) as http:
        token = http.post(
            "/auth/login", json={"email": team.rep_email, "password": PASSWORD}
        ).json()["token"]
        rep_id = http.get("/me", headers={"Authorization": f"Bearer {token}"}).json()["member"][
            "id"
        ]
        for name in ("Bell", "Ringer"):
            r = http.post(
                "/leads",
                json={"first_name": name, "last_name": "Lead", "owner_id": rep_id},
                headers=team.headers,
            )
            assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {token}"}
        until(
            lambda: http.get("/notifications/unread-count", headers=headers).json()["count"] == 2,
            what="two notifications",
        )
    return {"email": team.rep_email, "headers": headers, "api": api_url + "/api/v1"}


def api(rep: dict[str, Any], method: str, path: str, **kw: Any) -> Any:
    r = httpx.request(method, rep["api"] + path, headers=rep["headers"], timeout=30, **kw)
    assert r.status_code < 300, r.text
    return r.json()


def test_bell_and_notification_center(rep: dict[str, Any]) -> None:
    at = open_page(rep["email"], "40_Notifications.py")
    assert at.sidebar.button(key="sidebar_notifications").label == "🔔 Notifications (2 unread)"
    assert "2 unread" in [c.value for c in at.caption]
    titles = [m.value for m in at.markdown if "assigned you a lead" in m.value]
    assert len(titles) == 2 and all(t.startswith("🧲 **") for t in titles)

    items = api(rep, "GET", "/notifications")["data"]
    first, second = items[0]["id"], items[1]["id"]
    at.button(key=f"read_{first}").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert api(rep, "GET", "/notifications/unread-count") == {"count": 1}
    assert at.sidebar.button(key="sidebar_notifications").label == "🔔 Notifications (1 unread)"

    at.button(key=f"archive_{second}").click()
    at.run()
    assert api(rep, "GET", f"/notifications/{second}")["status"] == "archived"
    at.radio(key="ntf_status").set_value("archived")
    at.run()
    assert not at.exception and not at.error
    assert len([m for m in at.markdown if "assigned you a lead" in m.value]) == 1

    at.radio(key="ntf_status").set_value("read")
    at.run()
    at.button(key=f"unread_{first}").click()
    at.run()
    assert api(rep, "GET", "/notifications/unread-count") == {"count": 1}
    at.radio(key="ntf_status").set_value("unread")
    at.run()
    at.button(key=f"snooze1h_{first}").click()
    at.run()
    assert api(rep, "GET", "/notifications/unread-count") == {"count": 0}
    assert "You are all caught up." in [i.value for i in at.info]


def test_bell_opens_the_center(rep: dict[str, Any]) -> None:
    at = open_page(rep["email"], "41_Notification_preferences.py")
    at.sidebar.button(key="sidebar_notifications").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == ["Notifications"]


def test_preferences_page(rep: dict[str, Any]) -> None:
    at = open_page(rep["email"], "41_Notification_preferences.py")
    assert at.checkbox(key="pref_lead_assigned_in_app").value is True
    assert at.checkbox(key="pref_lead_assigned_email").value is False
    at.checkbox(key="pref_lead_assigned_email").check()
    at.checkbox(key="pref_dnd_on").check()
    at.text_input(key="pref_time_zone").input("Europe/Berlin")
    at.selectbox(key="pref_digest").select("daily")
    at.text_input(key="pref_phone").input("+4915112345678")
    at.button(key="pref_save").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [s.value for s in at.success] == ["Preferences saved."]
    prefs = api(rep, "GET", "/notification-preferences")
    assert prefs["types"]["lead_assigned"]["email"] is True
    assert prefs["dnd"] == {"start": "22:00", "end": "07:00"}
    assert prefs["time_zone"] == "Europe/Berlin" and prefs["digest"] == "daily"
    assert prefs["phone"] == "+4915112345678"

    # A bad phone number: the API's field error is shown and nothing changes.
    at.text_input(key="pref_phone").input("12345")
    at.button(key="pref_save").click()
    at.run()
    assert any("phone" in e.value for e in at.error), [e.value for e in at.error]
    assert api(rep, "GET", "/notification-preferences")["phone"] == "+4915112345678"
