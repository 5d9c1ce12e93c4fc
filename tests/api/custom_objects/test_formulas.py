"""Formula fields and validation rules through the write path (API and batch)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.api.custom_objects.conftest import new_field, new_object, new_record
from tests.api.records.conftest import new_account
from tests.conftest import Team, assert_problem


async def _formula(team: Team, obj: str, name: str, expression: str, rt: str) -> Any:
    return await team.post(
        f"/api/v1/metadata/objects/{obj}/fields",
        json={
            "api_name": name,
            "label": name,
            "type": "formula",
            "formula": {"expression": expression, "return_type": rt},
        },
    )


async def test_formulas_are_current_across_lookups(admin: Team) -> None:
    client = (await new_object(admin))["api_name"]
    project = (await new_object(admin))["api_name"]
    await new_field(admin, client, "rate", type="currency")
    await new_field(admin, project, "hours", type="integer")
    await new_field(admin, project, "budget", type="currency")
    await new_field(admin, project, "client", type="lookup", lookup={"object": client})
    await new_field(admin, project, "account", type="lookup", lookup={"object": "accounts"})
    r = await _formula(admin, project, "cost", "hours * client.rate", "currency")
    assert r.status_code == 201, r.text
    r = await _formula(admin, project, "per_hour", "budget / hours", "number")
    assert r.status_code == 201, r.text
    r = await _formula(admin, project, "industry", "UPPER(account.industry)", "text")
    assert r.status_code == 201, r.text
    c = await new_record(admin, client, rate="100")
    acct = await new_account(admin, industry="Retail")
    p = await new_record(admin, project, hours=3, budget="50", client=c["id"], account=acct["id"])
    assert (p["cost"], p["per_hour"], p["industry"]) == ("300.00", p["per_hour"], "RETAIL")
    assert p["per_hour"].startswith("16.66")
    # A parent's change shows at the next read, in the record and in lists.
    await admin.patch(f"/api/v1/objects/{client}/{c['id']}", json={"rate": "120"})
    await admin.patch(f"/api/v1/accounts/{acct['id']}", json={"industry": "Travel"})
    got = (await admin.get(f"/api/v1/objects/{project}/{p['id']}")).json()
    assert got["cost"] == "360.00" and got["industry"] == "TRAVEL"
    listed = (await admin.get(f"/api/v1/objects/{project}")).json()["data"]
    assert listed[0]["cost"] == "360.00"
    # Division by zero is null, never a 500.
    z = await new_record(admin, project, hours=0, budget="10")
    assert z["per_hour"] is None and z["cost"] is None
    # A formula is read-only: writing it is a 422 naming it.
    body = assert_problem(
        await admin.patch(f"/api/v1/objects/{project}/{p['id']}", json={"cost": "1"}), 422
    )
    assert body["errors"][0]["field"] == "cost"


async def test_formula_errors_name_the_position(admin: Team) -> None:
    obj = (await new_object(admin))["api_name"]
    await new_field(admin, obj, "hours", type="integer")
    body = assert_problem(await _formula(admin, obj, "f1", "hours + huors", "number"), 422)
    err = body["errors"][0]
    assert err["field"] == "formula.expression" and err["column"] == 9 and "huors" in err["message"]
    body = assert_problem(await _formula(admin, obj, "f2", 'hours & "x"', "number"), 422)
    assert body["errors"][0]["line"] == 1
    assert (await _formula(admin, obj, "a", "hours + 1", "number")).status_code == 201
    # b reads a, then a is changed to read b: a cycle.
    assert (await _formula(admin, obj, "b", "a * 2", "number")).status_code == 201
    r = await admin.patch(
        f"/api/v1/metadata/objects/{obj}/fields/a",
        json={"formula": {"expression": "b + 1", "return_type": "number"}},
    )
    assert "cycle" in assert_problem(r, 422)["detail"].lower()
    deep = "(" * 200 + "1" + ")" * 200
    assert_problem(await _formula(admin, obj, "deep", deep, "number"), 422)
    long = "1" + " + 1" * 1000
    body = assert_problem(await _formula(admin, obj, "long", long, "number"), 422)
    assert "3900" in body["detail"].replace(",", "")
    assert_problem(await _formula(admin, "leads", "lf", "1", "number"), 422)


async def test_validation_rules_in_the_write_path(admin: Team) -> None:
    obj = (await new_object(admin))["api_name"]
    await new_field(admin, obj, "hours", type="integer")
    await new_field(
        admin, obj, "status", type="picklist", options=[{"value": "open"}, {"value": "done"}]
    )
    base = f"/api/v1/metadata/objects/{obj}/validation-rules"
    r = await admin.post(
        base,
        json={"name": "positive", "condition": "hours < 0", "message": "Hours cannot be negative.",
              "error_field": "hours"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await admin.post(
        base,
        json={"name": "frozen", "condition": 'AND(NOT(ISNEW()), PRIORVALUE(status) = "done", ISCHANGED(hours))',
              "message": "A done record's hours are frozen.", "error_field": "hours"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    body = assert_problem(
        await admin.post(base, json={"name": "bad", "condition": "hours +", "message": "m"}), 422
    )
    assert body["errors"][0]["field"] == "condition" and "column" in body["errors"][0]
    url = f"/api/v1/objects/{obj}"
    body = assert_problem(await admin.post(url, json={"name": "x", "hours": -1}), 422)
    assert body["errors"] == [{"field": "hours", "message": "Hours cannot be negative."}]
    rec = await new_record(admin, obj, hours=2, status="done")
    body = assert_problem(await admin.patch(f"{url}/{rec['id']}", json={"hours": 3}), 422)
    assert body["errors"][0]["message"] == "A done record's hours are frozen."
    ok = await admin.patch(f"{url}/{rec['id']}", json={"status": "open"})
    assert ok.status_code == 200
    assert (await admin.patch(f"{url}/{rec['id']}", json={"hours": 3})).status_code == 200
    # Batch items meet the same rules.
    r = await admin.post(
        f"{url}/batch", json={"items": [{"name": "a", "hours": 1}, {"name": "b", "hours": -5}]}
    )
    assert [x["status"] for x in r.json()["results"]] == [201, 422]
    # An inactive rule is not enforced.
    rule = (await admin.get(base)).json()["data"][0]
    r = await admin.patch(f"{base}/{rule['id']}", json={"active": False})
    assert r.status_code == 200
    assert (await admin.post(url, json={"name": "y", "hours": -1})).status_code == 201


async def test_standard_object_rules(admin: Team) -> None:
    from tests.api.custom_objects.conftest import uniq

    region = uniq("region")
    await new_field(admin, "leads", region, type="text")
    base = "/api/v1/metadata/objects/leads/validation-rules"
    r = await admin.post(
        base,
        json={"name": uniq("qualified"), "condition": f'AND(status = "qualified", ISBLANK({region}))',
              "message": "A qualified lead needs a region.", "error_field": f"custom.{region}"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    lead = (await admin.post("/api/v1/leads", json={"first_name": "Q"})).json()
    body = assert_problem(
        await admin.patch(f"/api/v1/leads/{lead['id']}", json={"status": "qualified"}), 422
    )
    assert body["errors"] == [
        {"field": f"custom.{region}", "message": "A qualified lead needs a region."}
    ]
    r = await admin.patch(
        f"/api/v1/leads/{lead['id']}", json={"status": "qualified", "custom": {region: "EMEA"}}
    )
    assert r.status_code == 200, r.text
    await admin.delete(f"{base}/{(await admin.get(base)).json()['data'][0]['id']}")


async def test_formula_fields_filter_and_sort_in_sql(admin: Team) -> None:
    client = (await new_object(admin))["api_name"]
    project = (await new_object(admin))["api_name"]
    await new_field(admin, client, "rate", type="decimal")
    await new_field(admin, project, "hours", type="integer")
    await new_field(admin, project, "client", type="lookup", lookup={"object": client})
    await new_field(admin, project, "account", type="lookup", lookup={"object": "accounts"})
    assert (
        await _formula(admin, project, "cost", "hours * client.rate", "number")
    ).status_code == 201
    r = await _formula(admin, project, "sector", 'BLANKVALUE(account.industry, "none")', "text")
    assert r.status_code == 201, r.text
    cheap = await new_record(admin, client, rate="10")
    dear = await new_record(admin, client, rate="100")
    acct = await new_account(admin, industry="Retail")
    a = await new_record(admin, project, hours=5, client=dear["id"], account=acct["id"])  # 500
    b = await new_record(admin, project, hours=20, client=cheap["id"])  # 200
    c = await new_record(admin, project, hours=1)  # no client: null
    url = f"/api/v1/objects/{project}"
    got = (await admin.get(url, params={"sort": "-cost"})).json()["data"]
    assert [x["id"] for x in got] == [a["id"], b["id"], c["id"]]
    assert [Decimal(x["cost"]) for x in got[:2]] == [500, 200] and got[2]["cost"] is None
    got = (await admin.get(url, params={"filter[cost__gt]": "300"})).json()["data"]
    assert [x["id"] for x in got] == [a["id"]]
    got = (await admin.get(url, params={"filter[sector]": "none", "sort": "hours"})).json()["data"]
    assert [x["id"] for x in got] == [c["id"], b["id"]]
    # The parent's change moves the record in the SQL sort too.
    await admin.patch(f"/api/v1/objects/{client}/{cheap['id']}", json={"rate": "1000"})
    got = (await admin.get(url, params={"sort": "-cost", "limit": 1})).json()["data"]
    assert got[0]["id"] == b["id"]
