from tests.conftest import Team, assert_problem


async def test_create_and_read_lead(team: Team, other_team: Team) -> None:
    r = await team.post("/api/v1/leads", json={"first_name": "Ada", "email": "ada@x.io"})
    assert r.status_code == 201, r.text
    lead = r.json()
    assert r.headers["etag"] == '"1"'
    r = await team.get(f"/api/v1/leads/{lead['id']}")
    assert r.json()["email"] == "ada@x.io"
    assert_problem(await other_team.get(f"/api/v1/leads/{lead['id']}"), 404)
