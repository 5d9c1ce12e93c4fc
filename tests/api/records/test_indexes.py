"""The common list queries are backed by indexes that lead with team_id (checked by EXPLAIN)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from api.common.listing import parse_params
from api.common.records import RecordService
from leadly.actor import Actor
from tests.api.records.conftest import Sql
from tests.plugin import explain_as_api, index_first_columns

TABLES = ("leads", "contacts", "accounts", "call_logs")
TEAM = f"team_explain_{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
async def stats(db: Any) -> None:
    """A team with a few thousand rows per table, analysed, so the planner has real statistics
    (on empty tables every index costs the same and the choice says nothing)."""
    sql = Sql(db)
    n = 4000
    await sql.exec("INSERT INTO app.teams (id, name, slug) VALUES (%s, 'Explain', %s)", TEAM, TEAM)
    await sql.exec(
        """INSERT INTO app.accounts (team_id, id, name, domain, created_at)
        SELECT %s, 'acct_x' || g, 'A' || g, 'd' || g || '.com', now() - g * interval '1 min'
        FROM generate_series(1, %s) g""",
        TEAM,
        n // 10,
    )
    await sql.exec(
        """INSERT INTO app.leads (team_id, id, first_name, email, status, source, created_at)
        SELECT %s, 'lead_x' || g, 'L', 'l' || g || '@x.io',
               (ARRAY['new','contacted','qualified','unqualified'])[1 + g %% 4],
               's' || (g %% 40), now() - g * interval '1 min'
        FROM generate_series(1, %s) g""",
        TEAM,
        n,
    )
    await sql.exec(
        """INSERT INTO app.contacts (team_id, id, first_name, email, account_id, created_at)
        SELECT %s, 'cont_x' || g, 'C', 'c' || g || '@x.io', 'acct_x' || (1 + g %% %s),
               now() - g * interval '1 min'
        FROM generate_series(1, %s) g""",
        TEAM,
        n // 10,
        n,
    )
    await sql.exec(
        """INSERT INTO app.call_logs (team_id, id, lead_id, contact_id, created_at)
        SELECT %s, 'call_x' || g, 'lead_x' || g, 'cont_x' || g, now() - g * interval '1 min'
        FROM generate_series(1, %s) g""",
        TEAM,
        n,
    )
    for t in TABLES:
        await sql.exec(f"ANALYZE app.{t}")


def _services() -> dict[str, RecordService]:
    from api.accounts.service import account_service
    from api.call_logs.service import call_log_service
    from api.contacts.service import contact_service
    from api.leads.service import lead_service

    return {
        "leads": lead_service,
        "contacts": contact_service,
        "accounts": account_service,
        "call_logs": call_log_service,
    }


async def explain(sql: Sql, table: str, query: dict[str, str], *, ordered: bool) -> list[dict]:
    """EXPLAIN the API's own list query (as built by the service) with sequential scans off.
    (Row-level security keeps non-leakproof expressions such as lower(col) out of index
    conditions, so running it as the API does is the real test.)"""
    service = _services()[table]
    actor = Actor(team_id=TEAM, member_id="mem_explain", role="owner")
    stmt, _ = service.lister.apply(service._scoped(actor), parse_params(query))
    if not ordered:
        stmt = stmt.order_by(None).limit(None)
    settings = (
        ("enable_seqscan = off", "enable_sort = off") if ordered else ("enable_seqscan = off",)
    )
    return await explain_as_api(sql.conn, stmt, TEAM, settings=settings)


CASES = [
    ("leads", {"filter[status]": "new"}, "ix_leads_team_status", "status"),
    ("leads", {"filter[owner_id]": "mem_x"}, "ix_leads_team_owner", "owner_id"),
    ("leads", {"filter[source]": "web"}, "ix_leads_team_source", "source"),
    ("leads", {"filter[email]": "A@b.co"}, "uq_leads_team_email", "email_normalized"),
    ("contacts", {"filter[owner_id]": "mem_x"}, "ix_contacts_team_owner", "owner_id"),
    ("contacts", {"filter[email]": "a@b.co"}, "uq_contacts_team_email", "email_normalized"),
    ("contacts", {"filter[account_id]": "acct_x"}, "ix_contacts_team_account", "account_id"),
    ("accounts", {"filter[owner_id]": "mem_x"}, "ix_accounts_team_owner", "owner_id"),
    ("accounts", {"filter[domain]": "acme.com"}, "ix_accounts_team_domain", "domain_normalized"),
    ("call_logs", {"filter[lead_id]": "lead_x"}, "ix_call_logs_team_lead", "lead_id"),
    ("call_logs", {"filter[contact_id]": "cont_x"}, "ix_call_logs_team_contact", "contact_id"),
    ("call_logs", {"filter[member_id]": "mem_x"}, "ix_call_logs_team_member", "member_id"),
]


@pytest.mark.parametrize(
    ("table", "query", "index", "column"), CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES]
)
async def test_filter_uses_team_index(
    stats: None, sql: Sql, table: str, query: dict[str, str], index: str, column: str
) -> None:
    nodes = await explain(sql, table, query, ordered=False)
    used = [n for n in nodes if n.get("Index Name") == index]
    assert used, [(n["Node Type"], n.get("Index Name")) for n in nodes]
    cond = used[0]["Index Cond"]
    assert "team_id" in cond and column in cond, cond


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("sort", ["-created_at", "created_at"])
async def test_created_at_sort_walks_team_index(
    stats: None, sql: Sql, table: str, sort: str
) -> None:
    """The default list (newest first) and its reverse read the (team_id, created_at, id) index
    in order: no sort step, and the cursor's keyset condition stays inside the index."""
    nodes = await explain(sql, table, {"sort": sort}, ordered=True)
    assert not any(n["Node Type"] == "Sort" for n in nodes), nodes
    used = [n for n in nodes if n.get("Index Name") == f"ix_{table}_team_created"]
    assert used and "team_id" in used[0]["Index Cond"], nodes


async def test_every_index_leads_with_team_id(sql: Sql) -> None:
    rows = await index_first_columns(sql.conn, TABLES)
    assert len(rows) >= 4 * 4
    assert [r for r in rows if r["first_column"] != "team_id"] == []
