"""The formula tests' connection to the run's database (a session of their own)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.api.formulas.rows import ACCOUNTS, MEMBERS


@pytest.fixture(scope="package")
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        # The session's zone must not matter: the formulas say which zone they count in.
        conn.execute("SET TIME ZONE 'America/Sao_Paulo'")
        conn.execute(
            "CREATE TEMP TABLE f_accounts (id text, name text, industry text, "
            "rate numeric, owner text)"
        )
        conn.execute("CREATE TEMP TABLE f_members (id text, name text, region text)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO f_accounts VALUES (%s, %s, %s, %s, %s)", ACCOUNTS)
            cur.executemany("INSERT INTO f_members VALUES (%s, %s, %s)", MEMBERS)
        yield conn
