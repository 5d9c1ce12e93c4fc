"""Start-up guards: Leadly refuses to serve with the published defaults where others can reach it.

"Exposed" means the API binds to a non-loopback address or ``LEADLY_ENV=production``. Exposed,
``leadly api`` and ``leadly up`` refuse to start while the secret key is the default one (session
tokens, API keys, feed tokens and the dashboards' signed headers all hang on it) or while the
demo owner (``demo@leadly.dev``) still signs in with the published demo password. Local use
(``make up`` on 127.0.0.1) keeps both for convenience (docs/security.md)."""

from __future__ import annotations

import ipaddress

import click

from leadly.settings import DEFAULT_SECRET_KEY, Settings


def exposed(s: Settings) -> bool:
    if s.env.strip().lower() == "production":
        return True
    host = s.api_host.strip().strip("[]")
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: assume reachable
        return True


def _why(s: Settings) -> str:
    if s.env.strip().lower() == "production":
        return "LEADLY_ENV=production"
    return f"the API binds to {s.api_host}, which is not a loopback address"


def refuse_default_secret(s: Settings) -> None:
    if exposed(s) and s.secret_key == DEFAULT_SECRET_KEY:
        raise click.ClickException(
            f"Refusing to start: {_why(s)} and LEADLY_SECRET_KEY is the published default. "
            "Set LEADLY_SECRET_KEY to a long random value (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`)."
        )


async def _demo_password_works() -> bool:
    from sqlalchemy import text

    from api.auth import crypto
    from api.auth.emails import normalize_email
    from api.seed import DEMO_EMAIL
    from warehouse.db import api_engine

    async with api_engine().connect() as conn:
        row = (
            await conn.execute(
                text("SELECT password_hash, is_active FROM app.auth_login_lookup(:e)"),
                {"e": normalize_email(DEMO_EMAIL)},
            )
        ).first()
        await conn.rollback()
    if row is None or not row.is_active:
        return False
    published = Settings().demo_password  # what the README prints, whatever this install set
    return await crypto.verify_password_async(row.password_hash, published)


def refuse_demo_password(s: Settings) -> None:
    """Needs the database (run after migrations)."""
    from warehouse.db import run

    if exposed(s) and run(_demo_password_works):
        from api.seed import DEMO_EMAIL

        raise click.ClickException(
            f"Refusing to start: {_why(s)} and the demo owner {DEMO_EMAIL} still signs in with "
            "the published demo password. Change that password (or deactivate the member) "
            "first, or bind to 127.0.0.1."
        )
