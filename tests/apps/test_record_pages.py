"""The record page (apps/pages/32_Record.py) and the global search through AppTest against the
real API server: fields by name, inline edit with If-Match and the API's errors under their
field, related lists, history, follow, convert, merge, assign, linked task, delete/restore,
create; another team's record is not shown."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.apps.conftest import SeededTeam, seed_team
from tests.plugin import open_page

pytestmark = pytest.mark.xdist_group("apps")


def ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.info, *at.success, *at.warning)]
    return "\n".join(str(p) for p in [*parts, *(t.value for t in at.title)])


def call(base: str, team: SeededTeam, method: str, path: str, **kw: Any) -> dict[str, Any]:
    r = httpx.request(method, f"{base}/api/v1{path}", headers=team.headers, timeout=30, **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else {}


@pytest.fixture(scope="module")
def team(api_url: str) -> SeededTeam:
    return seed_team(api_url, "Record Pages", [("website", "new", True)], with_rep=True)


@pytest.fixture(scope="module")
def other(api_url: str) -> SeededTeam:
    return seed_team(api_url, "Record Pages Other", [("website", "new", False)])


def open_record(team: SeededTeam, record_id: str) -> AppTest:
    at = open_page(team, "32_Record.py")
    at.query_params["id"] = record_id
    at.run()
    ok(at)
    return at


def tab(at: AppTest, label: str) -> Any:
    """Open the record page's tab ``label`` (its name goes in the URL, like a click) and
    return it."""
    at.session_state["tab"] = label
    at.run()
    ok(at)
    return next(t for t in at.tabs if t.label == label)


def test_a_lead_page_shows_names_edits_inline_and_converts(api_url: str, team: SeededTeam) -> None:
    lead = call(api_url, team, "POST", "/leads", json={
        "first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.example",
        "company_name": "Navy Compilers", "status": "contacted",
    })  # fmt: skip
    at = open_record(team, lead["id"])
    assert at.title[0].value == "Grace Hopper · Navy Compilers"
    shown = texts(at)
    assert "Record Pages Owner" in shown  # the owner by name, not id
    assert team.member_id not in shown
    assert "**Status**  \nContacted" in shown  # labels, not keys

    # Inline edit: a bad email comes back under its field; a good one is saved with If-Match.
    tab(at, "Details")
    at.toggle(key=f"rec_{lead['id']}_editing").set_value(True).run()
    ok(at)
    save = f"FormSubmitter:rec_{lead['id']}_form-Save"
    at.text_input(key=f"rec_{lead['id']}_f_email").input("not-an-email")
    at.text_input(key=f"rec_{lead['id']}_f_title").input("Rear Admiral")
    at.button(key=save).click().run()
    assert any("Email" in e.value for e in at.error), [e.value for e in at.error]
    assert call(api_url, team, "GET", f"/leads/{lead['id']}")["title"] is None
    at.text_input(key=f"rec_{lead['id']}_f_email").input("grace@navy.mil")
    at.button(key=save).click().run()
    ok(at)
    saved = call(api_url, team, "GET", f"/leads/{lead['id']}")
    assert (saved["email"], saved["title"]) == ("grace@navy.mil", "Rear Admiral")
    assert saved["version"] == lead["version"] + 1
    assert any("Saved" in s.value for s in at.success)

    # History names the change; follow adds a watch.
    assert "Rear Admiral" in str(tab(at, "History").dataframe[0].value.to_dict())
    at.button(key=f"rec_{lead['id']}_follow").click().run()
    ok(at)
    watches = call(api_url, team, "GET", "/watches")
    watched = watches if isinstance(watches, list) else watches["data"]
    assert lead["id"] in {w["target_id"] for w in watched}

    # A linked task; then convert with a deal.
    related = tab(at, "Related")
    at.text_input(key=f"rec_{lead['id']}_task_title").input("Send the proposal")
    related.button(key=f"FormSubmitter:rec_{lead['id']}_task-Add task").click().run()
    ok(at)
    tasks = call(api_url, team, "GET", "/tasks", params={"filter[related_to_id]": lead["id"]})
    assert [t["title"] for t in tasks["data"]] == ["Send the proposal"]
    acts = tab(at, "Actions")
    at.text_input(key=f"rec_{lead['id']}_conv_deal").input("Navy compilers deal")
    at.text_input(key=f"rec_{lead['id']}_conv_value").input("25000")
    acts.button(key=f"FormSubmitter:rec_{lead['id']}_convert-Convert lead").click()
    at.run()
    ok(at)
    assert any("Converted" in s.value and "Navy compilers deal" in s.value for s in at.success)
    converted = call(api_url, team, "GET", f"/leads/{lead['id']}")
    assert converted["status"] == "converted" and converted["converted_contact_id"]
    # The converted contact is a link to its page.
    tab(at, "Details")
    assert f"/Record?id={converted['converted_contact_id']}" in texts(at)


def test_merge_assign_delete_restore_and_isolation(
    api_url: str, team: SeededTeam, other: SeededTeam
) -> None:
    keep = call(api_url, team, "POST", "/leads", json={"first_name": "Alan", "last_name": "Turing"})
    dup = call(api_url, team, "POST", "/leads", json={
        "first_name": "Alan", "last_name": "Turing", "phone": "+441234567890",
    })  # fmt: skip
    rid = keep["id"]
    at = open_record(team, rid)
    # The duplicate picker searches the API as you type.
    tab(at, "Actions")
    at.text_input(key=f"rec_{rid}_merge_q").input("Turing").run()
    pick = at.selectbox(key=f"rec_{rid}_merge_pick")
    assert pick.options == ["(none)", "Alan Turing"]  # found by the API, this one left out
    pick.set_value(dup["id"]).run()
    at.button(key=f"rec_{rid}_merge_go").click().run()
    ok(at)
    assert call(api_url, team, "GET", f"/leads/{rid}")["phone"] == "+441234567890"

    # Assign to the rep, found by name.
    at.text_input(key=f"rec_{rid}_assign_q").input("Rep").run()
    reps = at.selectbox(key=f"rec_{rid}_assign_pick")
    assert reps.options == ["(none)", "Record Pages Rep"]  # searched by the API
    found = call(api_url, team, "GET", "/members", params={"search": "Rep"})
    rep_id = next(m["id"] for m in (found if isinstance(found, list) else found["data"]))
    reps.set_value(rep_id).run()
    at.button(key=f"rec_{rid}_assign_go").click().run()
    ok(at)
    assert call(api_url, team, "GET", f"/leads/{rid}")["owner_id"] == rep_id
    assert "Record Pages Rep" in texts(at)

    at.checkbox(key=f"rec_{rid}_del_confirm").check().run()
    at.button(key=f"rec_{rid}_del_go").click().run()
    ok(at)
    assert any("is deleted" in w.value for w in at.warning)
    r = httpx.get(f"{api_url}/api/v1/leads/{rid}", headers=team.headers)
    assert r.status_code == 404
    at.button(key=f"rec_{rid}_restore").click().run()
    ok(at)
    assert call(api_url, team, "GET", f"/leads/{rid}")["id"] == rid

    # Another team's record: not shown.
    theirs = call(api_url, other, "POST", "/accounts", json={"name": "Secret Other Co"})
    at = open_record(team, theirs["id"])
    assert "Secret Other Co" not in texts(at)
    assert any("that you can see" in w.value for w in at.warning)


def test_an_account_page_lists_contacts_and_deals(api_url: str, team: SeededTeam) -> None:
    account = call(api_url, team, "POST", "/accounts", json={"name": "Initech"})
    contact = call(api_url, team, "POST", "/contacts", json={
        "first_name": "Peter", "last_name": "Gibbons", "account_id": account["id"],
    })  # fmt: skip
    call(api_url, team, "POST", "/deals", json={
        "name": "TPS reports", "value": "1234567.5", "account_id": account["id"],
        "contacts": [{"contact_id": contact["id"]}], "expected_close_date": "2027-01-15",
    })  # fmt: skip
    at = open_record(team, account["id"])
    related = tab(at, "Related")
    tables = [d.value for d in related.dataframe]
    contacts = next(t for t in tables if "Contact" in t.columns)
    assert contacts["Contact"].str.endswith("#Peter Gibbons").all()
    deals = next(t for t in tables if "Deal" in t.columns)
    assert list(deals["Value"]) == ["$1,234,567.50"]
    assert list(deals["Expected close"]) == ["Fri 15 Jan 2027"]
    assert "Stage" in deals.columns and "stage" not in deals.columns

    # The contact's page names its account, linked; the deal's lists its contact.
    at = open_record(team, contact["id"])
    assert f"[Initech](/Record?id={account['id']})" in texts(at)
    deal_url = deals["Deal"][0].split("#")[0]
    at = open_record(team, deal_url.split("id=")[1])
    assert at.title[0].value == "TPS reports"
    people = tab(at, "Related").dataframe[0].value
    assert people["Contact"].str.endswith("#Peter Gibbons").all()


def test_create_and_global_search(api_url: str, team: SeededTeam) -> None:
    at = open_page(team, "32_Record.py")
    at.query_params["type"] = "accounts"
    at.run()
    ok(at)
    at.text_input(key="new_accounts_name").input("Umbrella Pharma")
    at.button(key="FormSubmitter:new_accounts-Create account").click().run()
    ok(at)
    assert at.title[0].value == "Umbrella Pharma"
    made = call(api_url, team, "GET", "/accounts", params={"filter[name]": "Umbrella Pharma"})
    assert len(made["data"]) == 1

    at = open_page(team, "31_Search.py")
    at.query_params["q"] = "umbrella"
    at.run()
    ok(at)
    hits = [d.value for d in at.dataframe]
    assert any(t["Account"].str.endswith("#Umbrella Pharma").any() for t in hits)


def test_the_builder_edits_every_stage_rule(api_url: str, team: SeededTeam) -> None:
    at = open_page(team, "12_Pipeline_builder.py")
    at.selectbox(key="pb_edit_key").set_value("negotiation").run()
    pipeline = call(api_url, team, "GET", "/pipelines")["data"][0]
    tag = f"{pipeline['id']}_negotiation_{pipeline['version']}"
    at.selectbox(key=f"pb_edit_cat_{tag}").set_value("commit")
    at.multiselect(key=f"pb_edit_req_{tag}").set_value(["value", "next_step"])
    at.number_input(key=f"pb_edit_rot_{tag}").set_value(21)
    next(b for b in at.button if b.label == "Save stage").click().run()
    ok(at)
    stage = next(
        s for s in call(api_url, team, "GET", f"/pipelines/{pipeline['id']}")["stages"]
        if s["key"] == "negotiation"
    )  # fmt: skip
    assert (stage["forecast_category"], stage["required_fields"], stage["rot_days"]) == (
        "commit", ["value", "next_step"], 21,
    )  # fmt: skip
    shown = at.dataframe[0].value
    row = shown[shown["Key"] == "negotiation"].iloc[0]
    assert (row["Required to enter"], row["Rots after (days)"]) == ("Value, Next step", "21")
