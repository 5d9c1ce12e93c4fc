"""Cursor reads follow the transaction ids as numbers. ``txid`` travels as text (``xid8`` has no
driver type): ordered by that text, '100' came before '99', so a batch read across a power of
ten (999 -> 1000 on a fresh server, 9,999 -> 10,000 ...) moved the cursor past the events of the
shorter ids, which were never delivered."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import Team
from tests.dispatcher.consumers import OBJECT_TYPE
from warehouse import events
from warehouse.db import api_engine, set_tenant

# Older than any real transaction of the test server, and across a power of ten.
FAKE_TXIDS = (98, 99, 100, 101)


async def test_reads_and_the_head_order_transaction_ids_as_numbers(team: Team) -> None:
    async with api_engine().connect() as conn:
        tx = await conn.begin()
        try:
            await set_tenant(conn, team.team_id)
            # Rolled back below: no other reader of this database ever sees them.
            fake = [
                (
                    txid,
                    (
                        await conn.execute(
                            text(
                                "INSERT INTO app.events "
                                "(team_id, txid, actor_type, object_type, object_id, action) "
                                "VALUES (:t, CAST(:x AS xid8), 'system', :o, :oid, 'created') "
                                "RETURNING id"
                            ),
                            {"t": team.team_id, "x": str(txid), "o": OBJECT_TYPE, "oid": str(txid)},
                        )
                    ).scalar_one(),
                )
                for txid in FAKE_TXIDS
            ]
            # Row-level security: the team's events only, its real ones far above txid 101.
            rows = await events.read_after(conn, 0, 0, len(fake))
            assert [(int(r["txid"]), r["id"]) for r in rows] == fake
            # One event at a time, the cursor steps through them in order.
            cursor: tuple[int, int] = (0, 0)
            walked = []
            for _ in fake:
                [row] = await events.read_after(conn, *cursor, 1)
                cursor = (int(row["txid"]), int(row["id"]))
                walked.append(cursor)
            assert walked == fake
            # The head is the newest of the team's real events, not the fake '99' (text max).
            real = await conn.execute(
                text(
                    "SELECT txid::text AS txid, id FROM app.events "
                    "WHERE txid < app.event_horizon() AND id <> ALL(:fake)"
                ),
                {"fake": [i for _, i in fake]},
            )
            newest = max((int(r.txid), int(r.id)) for r in real)
            assert await events.visible_head(conn) == newest
        finally:
            await tx.rollback()
