"""Issue 22: Leadly refuses to serve with the published defaults where others can reach it
(docs/security.md): the default secret key, or the demo owner's published password, on a
non-loopback address or with LEADLY_ENV=production."""

from __future__ import annotations

import socket
from typing import Any

from leadly.settings import DEFAULT_SECRET_KEY, Settings
from tests.cli.conftest import ok, run_leadly


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _refused(env: dict[str, str], *needles: str) -> None:
    # A guard that let the API start would leave it serving until the timeout: the test fails.
    r = run_leadly("api", env={**env, "LEADLY_API_PORT": str(_port())}, timeout=180)
    assert r.returncode != 0, r.stdout + r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def test_an_exposed_api_refuses_the_default_secret(cli_env: dict[str, str]) -> None:
    for exposure in ({"LEADLY_API_HOST": "0.0.0.0"}, {"LEADLY_ENV": "production"}):
        env = {**cli_env, **exposure, "LEADLY_SECRET_KEY": DEFAULT_SECRET_KEY}
        _refused(env, "LEADLY_SECRET_KEY is the published default")
    r = run_leadly("up", env={**cli_env, "LEADLY_ENV": "production", "LEADLY_SECRET_KEY": ""})
    assert r.returncode != 0 and "published default" in r.stderr, r.stderr


def test_an_exposed_api_refuses_the_demo_owners_published_password(
    cli_env: dict[str, str], spare_database: str
) -> None:
    env = {**cli_env, "LEADLY_DATABASE_URL": spare_database}
    ok(run_leadly("db", "upgrade", env=env))
    published = Settings().demo_password
    ok(
        run_leadly(
            "create-team",
            "--name=Demo",
            "--owner-name=Demo",
            "--owner-email=Demo@Leadly.dev",
            f"--password={published}",
            env=env,
        )
    )
    exposed = {**env, "LEADLY_ENV": "production", "LEADLY_SECRET_KEY": "a-real-secret-" * 4}
    _refused(exposed, "demo@leadly.dev", "published demo password")


def test_loopback_keeps_the_defaults_for_local_use(cli_env: dict[str, Any]) -> None:
    from leadly.launcher import guards

    local = Settings(api_host="127.0.0.1", secret_key=DEFAULT_SECRET_KEY)
    guards.refuse_default_secret(local)  # no exception
    assert not guards.exposed(local) and not guards.exposed(Settings(api_host="::1"))
    assert guards.exposed(Settings(api_host="0.0.0.0"))
    assert guards.exposed(Settings(api_host="127.0.0.1", env="production"))
