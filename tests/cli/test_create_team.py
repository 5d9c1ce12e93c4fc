"""``leadly create-team``: its printed token works on the API, and so does the owner's login."""

from __future__ import annotations

import re
import secrets

import httpx

from tests.cli.conftest import ok, run_leadly

PASSWORD = "correct-horse-battery"


def _printed(out: str) -> dict[str, str]:
    return dict(re.findall(r"^(team_id|member_id|token):\s+(\S+)$", out, re.M))


async def test_create_team_prints_a_working_token(
    http: httpx.AsyncClient, cli_env: dict[str, str]
) -> None:
    email = f"cli-{secrets.token_hex(4)}@example.com"
    out = ok(
        run_leadly(
            "create-team",
            "--name",
            "CLI Team",
            "--owner-name",
            "Cli Owner",
            "--owner-email",
            email,
            "--password",
            PASSWORD,
            env=cli_env,
        )
    )
    printed = _printed(out)
    assert printed.keys() == {"team_id", "member_id", "token"}, out

    r = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {printed['token']}"})
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["team"]["id"] == printed["team_id"] and me["team"]["name"] == "CLI Team"
    assert me["member"]["id"] == printed["member_id"] and me["member"]["role"] == "owner"

    r = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["member"]["id"] == printed["member_id"]


async def test_create_team_prompts_for_the_password_and_refuses_a_taken_email(
    http: httpx.AsyncClient, cli_env: dict[str, str]
) -> None:
    email = f"cli-{secrets.token_hex(4)}@example.com"
    args = ["create-team", "--name=Prompted", "--owner-name=Pat", f"--owner-email={email}"]
    result = run_leadly(*args, env=cli_env, input=f"{PASSWORD}\n{PASSWORD}\n")
    out = ok(result)
    assert "Password" in result.stderr + out  # asked (on the terminal, or stderr) ...
    assert PASSWORD not in result.stderr + out  # ... never echoed
    assert _printed(out)["team_id"].startswith("team_")
    r = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text

    again = run_leadly(*args, f"--password={PASSWORD}", env=cli_env)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_create_team_validates_like_the_api(cli_env: dict[str, str]) -> None:
    result = run_leadly(
        "create-team",
        "--name=Short",
        "--owner-name=Sam",
        "--owner-email=not-an-email",
        "--password=short",
        env=cli_env,
    )
    assert result.returncode == 2
    assert "email" in result.stderr or "password" in result.stderr, result.stderr
