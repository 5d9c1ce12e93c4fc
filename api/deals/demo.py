"""Demo deals for the demo team (``leadly seed --demo``): generated with a fixed seed and
written through the deal service, each walked stage by stage from the first stage to where it
ends (so the stage history, the events and every dashboard have something to show)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from api.deals.service import deal_service
from leadly.actor import Actor
from warehouse.db import tenant_tx

# Where demo deals end up (default pipeline keys) and how often.
FINAL_STAGES = {
    "qualified": 18,
    "contact_made": 16,
    "demo_scheduled": 13,
    "proposal_made": 12,
    "negotiation": 9,
    "won": 18,
    "lost": 14,
}
VALUE_TYPES = {"one_off": 5, "mrr": 3, "arr": 2}
WIN_REASONS = ("Best fit for their workflow", "Price", "Fast onboarding", "Referral trust",
               "Feature depth")  # fmt: skip
LOSS_REASONS = ("Price", "Went with a competitor", "No budget", "Timing", "No decision")
COMPETITORS = ("Pipedrive", "HubSpot", "Salesforce", "Close", None)
NEXT_STEPS = ("Send proposal", "Book demo", "Call the owner", "Follow up on pricing", None)


def generate(
    seed: int,
    n: int,
    accounts: Sequence[Mapping[str, Any]],
    contacts: Sequence[Mapping[str, Any]],
    pipeline: Mapping[str, Any],
) -> list[tuple[str, dict[str, Any], list[str]]]:
    """``n`` deals as (owner id, create values, stage keys to walk through)."""
    rng = random.Random(seed + 4)
    by_account: dict[str, list[str]] = {}
    for c in contacts:
        if c.get("account_id"):
            by_account.setdefault(c["account_id"], []).append(c["id"])
    keys = [s["key"] for s in pipeline["stages"]]
    open_keys = [s["key"] for s in pipeline["stages"] if not (s["is_won"] or s["is_lost"])]
    finals = [k for k in FINAL_STAGES if k in keys]
    weights = [FINAL_STAGES[k] for k in finals]
    today = datetime.now(UTC).date()
    out = []
    for i in range(n):
        account = accounts[i % len(accounts)] if accounts else None
        final = rng.choices(finals, weights=weights)[0]
        value_type = rng.choices(list(VALUE_TYPES), weights=list(VALUE_TYPES.values()))[0]
        amount = rng.randrange(10, 600) * (50 if value_type == "one_off" else 10)
        owner = account["owner_id"] if account else None
        values: dict[str, Any] = {
            "name": f"{account['name'] if account else 'Deal'} — "
            f"{rng.choice(('Website', 'SEO', 'Ads', 'Reviews', 'CRM setup'))}",
            "value": Decimal(amount),
            "value_type": value_type,
            "account_id": account["id"] if account else None,
            "owner_id": owner,
            "expected_close_date": today + timedelta(days=rng.randrange(-20, 120)),
            "next_step": rng.choice(NEXT_STEPS),
            "competitor": rng.choice(COMPETITORS),
            "source": rng.choice(("referral", "google_maps", "website", "linkedin", "cold_call")),
        }
        people = by_account.get(account["id"], []) if account else []
        if people:
            values["contacts"] = [
                {"contact_id": cid, "role": role}
                for cid, role in zip(people[:2], ("decision_maker", "champion"), strict=False)
            ]
        if final == "won":
            values["win_reason"] = rng.choice(WIN_REASONS)
        if final == "lost":
            values["loss_reason"] = rng.choice(LOSS_REASONS)
        if final in ("won", "lost"):
            last_open = rng.randrange(len(open_keys))
            path = [*open_keys[: last_open + 1], final]
        else:
            path = open_keys[: open_keys.index(final) + 1]
        out.append((owner or "", values, path))
    return out


async def load(
    engine: AsyncEngine,
    team_id: str,
    owner_id: str,
    actors: Mapping[str, Actor],
    accounts: Sequence[Mapping[str, Any]],
    contacts: Sequence[Mapping[str, Any]],
    n: int,
    *,
    seed: int,
    chunk_size: int = 100,
    concurrency: int = 4,
) -> int:
    """Write ``n`` demo deals; returns how many were written."""
    owner = actors[owner_id]
    async with tenant_tx(engine, team_id, owner_id) as conn:
        pipeline = await deal_service._pipeline(conn, owner, None)
    items = generate(seed, n, accounts, contacts, pipeline)
    gate = asyncio.Semaphore(concurrency)

    async def one(batch: list[tuple[str, dict[str, Any], list[str]]]) -> None:
        async with gate, tenant_tx(engine, team_id, owner_id) as conn:
            for member_id, values, path in batch:
                actor = actors.get(member_id, owner)
                first = {**values, "stage": path[0]}
                row, _ = await deal_service.create_raw(conn, actor, first, progress=False)
                for key in path[1:]:
                    row, _ = await deal_service.change(
                        conn, actor, row, {"stage": key}, progress=False
                    )

    async with asyncio.TaskGroup() as tg:
        for i in range(0, len(items), chunk_size):
            tg.create_task(one(items[i : i + chunk_size]))
    return len(items)
