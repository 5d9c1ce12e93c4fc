"""A small world of objects for the formula tests: projects → clients (accounts) → owners."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from api.formulas import Field, Schema

RELATED: dict[str, Schema] = {}
OWNERS = Schema.of("members", [Field("name", "text"), Field("region", "picklist")])
ACCOUNTS = Schema.of(
    "accounts",
    [
        Field("name", "text"),
        Field("industry", "picklist"),
        Field("rate", "currency"),
        Field("owner", "lookup", target="members"),
        Field("discounted", "formula", expression="rate * 0.9", return_type="currency"),
    ],
    RELATED,
)
RELATED.update(accounts=ACCOUNTS, members=OWNERS)
FIELDS = [
    Field("title", "text"),
    Field("notes", "long_text"),
    Field("hours", "decimal"),
    Field("count", "integer"),
    Field("budget", "currency"),
    Field("share", "percent"),
    Field("due", "date"),
    Field("started_at", "datetime"),
    Field("done", "boolean"),
    Field("stage", "picklist"),
    Field("tags", "multi_picklist"),
    Field("client", "lookup", target="accounts"),
    Field("site", "url"),
    Field("email", "email"),
    Field("phone", "phone"),
    Field("number", "auto_number"),
    Field("cost", "formula", expression="hours * client.rate", return_type="currency"),
]
PROJECTS = Schema.of("projects", FIELDS, RELATED)

NOW = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
RECORD = {
    "title": "Roof",
    "notes": None,
    "hours": Decimal("10.5"),
    "count": 3,
    "budget": Decimal("1000.00"),
    "share": Decimal("12.5"),
    "due": date(2026, 12, 24),
    "started_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    "done": False,
    "stage": "open",
    "tags": ["red", "blue"],
    "client": "acc_1",
    "site": "https://example.com",
}
RELATED_ROWS = {
    ("accounts", "acc_1"): {
        "name": "Acme",
        "industry": "tech",
        "rate": Decimal("80.00"),
        "owner": "mem_1",
    },
    ("members", "mem_1"): {"name": "Ada", "region": "EMEA"},
}


def lookup(obj: str, key: str) -> dict | None:
    return RELATED_ROWS.get((obj, key))
