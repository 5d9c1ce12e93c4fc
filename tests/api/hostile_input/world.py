"""A team's records for the sweep: one of each kind the routes name (ids, paths, references)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import text
from ulid import ULID

from tests.api.hostile_input.operations import API
from tests.conftest import Team
from tests.plugin import MAILBOX

# --------------------------------------------------------------------------- a team's records

ID_PATTERN = "^[a-z][a-z0-9]*_[0-9A-HJKMNP-TV-Z]{26}$"
PREFIX = {
    "member": "mem",
    "team": "team",
    "lead": "lead",
    "lead2": "lead",
    "contact": "cont",
    "account": "acct",
    "call_log": "call",
    "activity": "act",
    "comment": "cmt",
    "mention": "mnt",
    "pipeline": "pipe",
    "deal": "deal",
    "task": "task",
    "task2": "task",
    "series": "task",
    "time_log": "tlog",
    "dependency": "tdep",
    "watch": "wch",
    "push_subscription": "psub",
    "api_key": "key",
    "feed": "feed",
    "notification": "ntf",
    "failure": "failure",
    "import": "imp",
    "delivery": "ndl",
    "oauth_client": "oac",
    "custom_record": "rec",
    "layout": "lay",
    "list_view": "lv",
    "validation_rule": "vrule",
    "report": "rpt",
    "dashboard": "dash",
    "share_link": "shl",
    "webhook": "whk",
    "webhook_delivery": "whd",
}


def unknown_id(kind: str) -> str:
    if kind == "stage":
        return "no_such_stage"
    if kind in ("invitation", "feed_token"):
        return secrets.token_urlsafe(32)
    if kind == "share_token":
        return f"lsh_{secrets.token_urlsafe(32)}"
    if kind in ("dashboard_template", "report_template"):
        return f"no_such_{secrets.token_hex(4)}"
    return f"{PREFIX.get(kind, 'x')}_{ULID()}"


def email() -> str:
    return f"sweep-{secrets.token_hex(6)}@example.com"


class World:
    """A team's records, created on first use: what path parameters and references name."""

    def __init__(self, team: Team) -> None:
        self.team = team
        self.ids: dict[str, str] = {"member": team.member_id, "team": team.team_id}
        self.stage_keys: list[str] = []

    async def _post(self, url: str, body: Any) -> dict[str, Any]:
        r = await self.team.post(f"{API}{url}", json=body)
        assert r.status_code in (200, 201), (url, r.status_code, r.text)
        return r.json()

    async def id(self, kind: str) -> str:
        if kind not in self.ids:
            self.ids[kind] = await self._make(kind)
        return self.ids[kind]

    async def _make(self, kind: str) -> str:
        p = self._post
        if kind in ("lead", "lead2"):
            return (await p("/leads", {"first_name": "Ada", "email": email()}))["id"]
        if kind == "contact":
            return (await p("/contacts", {"first_name": "Cy", "email": email()}))["id"]
        if kind == "account":
            return (await p("/accounts", {"name": f"Acme {secrets.token_hex(3)}"}))["id"]
        if kind == "call_log":
            return (await p("/call-logs", {"lead_id": await self.id("lead")}))["id"]
        if kind == "activity":
            body = {
                "type": "note",
                "related_to_type": "lead",
                "related_to_id": await self.id("lead"),
                "description": f"For @[Owner]({self.team.member_id})",  # mentions the owner
            }
            return (await p("/activities", body))["id"]
        if kind == "comment":
            return (await p(f"/activities/{await self.id('activity')}/comments", {"text": "hi"}))[
                "id"
            ]
        if kind == "mention":
            await self.id("activity")
            return (await self.team.get(f"{API}/mentions")).json()["data"][0]["id"]
        if kind == "notification":
            return await self._notification()
        if kind == "pipeline":
            r = await self.team.get(f"{API}/pipelines", params={"limit": 1})
            rows = r.json()["data"]
            row = rows[0] if rows else None
            if row is None:
                stages = [
                    {"key": "open", "name": "Open", "probability": 10},
                    {"key": "won", "name": "Won", "probability": 100, "is_won": True},
                    {"key": "lost", "name": "Lost", "probability": 0, "is_lost": True},
                ]
                row = await p("/pipelines", {"name": "Sales", "stages": stages})
            self.stage_keys = [s["key"] for s in row["stages"]]
            return row["id"]
        if kind == "stage":
            await self.id("pipeline")
            return self.stage_keys[0]
        if kind == "deal":
            return (await p("/deals", {"name": "Deal", "pipeline_id": await self.id("pipeline")}))[
                "id"
            ]
        if kind in ("task", "task2"):
            return (await p("/tasks", {"title": "Task", "due_at": "2031-03-03T10:00:00Z"}))["id"]
        if kind == "series":
            body = {
                "title": "Daily",
                "due_at": "2031-03-03T10:00:00Z",
                "recurrence_rule": "FREQ=DAILY",
            }
            return (await p("/tasks", body))["id"]
        if kind == "time_log":
            body = {"started_at": "2026-01-05T09:00:00Z", "ended_at": "2026-01-05T10:00:00Z"}
            return (await p(f"/tasks/{await self.id('task')}/time-logs", body))["id"]
        if kind == "dependency":
            body = {"depends_on_task_id": await self.id("task2")}
            return (await p(f"/tasks/{await self.id('task')}/dependencies", body))["id"]
        if kind == "watch":
            return (
                await p("/watches", {"target_type": "deal", "target_id": await self.id("deal")})
            )["id"]
        if kind == "push_subscription":
            body = {
                "endpoint": f"https://push.example.com/{secrets.token_hex(8)}",
                "keys": {"p256dh": "B" * 40, "auth": "A" * 16},
            }
            return (await p("/push-subscriptions", body))["id"]
        if kind == "custom_object":  # its api name (the object's path parameter)
            name = f"sweep_{secrets.token_hex(4)}"
            await p("/metadata/objects", {"api_name": name, "label": "S", "plural_label": "Ss"})
            return name
        if kind == "custom_field":
            obj = await self.id("custom_object")
            await p(
                f"/metadata/objects/{obj}/fields",
                {"api_name": "note", "label": "Note", "type": "text"},
            )
            return "note"
        if kind == "relationship":
            obj = await self.id("custom_object")
            spec = {"object": obj, "relationship_name": "children"}
            await p(
                f"/metadata/objects/{obj}/fields",
                {"api_name": "parent", "label": "Parent", "type": "lookup", "lookup": spec},
            )
            return "children"
        if kind == "custom_record":
            return (await p(f"/objects/{await self.id('custom_object')}", {"name": "Rec"}))["id"]
        if kind == "layout":
            sections = [{"label": "Main", "fields": ["email"]}]
            return (await p("/layouts", {"object": "leads", "name": "L", "sections": sections}))[
                "id"
            ]
        if kind == "list_view":
            return (await p("/list-views", {"object": "leads", "name": "V"}))["id"]
        if kind == "validation_rule":
            obj = await self.id("custom_object")
            body = {"name": "never", "condition": "1 > 2", "message": "Never."}
            return (await p(f"/metadata/objects/{obj}/validation-rules", body))["id"]
        if kind == "oauth_client":
            body = {"name": "sweep", "redirect_uris": ["https://a.example/cb"], "scopes": ["*"]}
            return (await p("/oauth/clients", body))["client_id"]
        if kind == "api_key":
            return (await p("/api-keys", {"name": "sweep", "scopes": ["leads:read"]}))["id"]
        if kind == "invitation":
            addr = email()
            await p("/invitations", {"email": addr, "role": "user"})
            return MAILBOX.take_token(addr, "ldi_")
        if kind in ("feed", "feed_token"):
            row = await p("/calendar-feeds", {"name": "sweep"})
            self.ids["feed"] = row["id"]
            self.ids["feed_token"] = row["url"].rstrip("/").rsplit("/", 1)[1].split(".")[0]
            return self.ids[kind]
        if kind in REPORTING:
            return await self._reporting(kind)
        return unknown_id(kind)  # failures, imports, deliveries: none to make

    async def _reporting(self, kind: str) -> str:
        """A saved report, a dashboard, a share link (and its token), a webhook."""
        p = self._post
        if kind == "report":
            body = {"name": "Funnel", "metrics": ["leads_created"], "dimensions": ["lead_source"]}
            return (await p("/reports", body))["id"]
        if kind == "dashboard":
            return (await p("/dashboards", {"name": "Sweep", "visibility": "team"}))["id"]
        if kind == "dashboard_template":
            return "sales_leader"
        if kind == "report_template":
            return (await self.team.get(f"{API}/report-templates")).json()["data"][0]["key"]
        if kind in ("share_link", "share_token"):
            body = {"report_id": await self.id("report"), "expires_at": "2031-01-01T00:00:00Z"}
            row = await p("/share-links", body)
            self.ids["share_link"], self.ids["share_token"] = row["id"], row["token"]
            return self.ids[kind]
        body = {"url": "https://127.0.0.1:9/sweep", "events": ["lead.created"]}  # webhook
        return (await p("/webhooks", body))["id"]

    async def _notification(self) -> str:
        """A mention of the owner by another member, made a notification by the producer the
        dispatcher would run (no worker runs in this test)."""
        from api.dispatcher.registry import DispatchedEvent
        from api.notifications.producers import produce
        from warehouse.db import api_engine, tenant_tx

        addr = email()
        await self._post("/invitations", {"email": addr, "role": "user"})
        r = await self.team.http.post(
            f"{API}/invitations/{MAILBOX.take_token(addr, 'ldi_')}/accept",
            json={"name": "Rep", "password": "correct-horse-battery"},
        )
        assert r.status_code == 201, r.text
        rep = self.team.as_token(r.json()["token"])
        body = {
            "type": "note",
            "related_to_type": "lead",
            "related_to_id": await self.id("lead"),
            "description": f"Ask @[Owner]({self.team.member_id})",
        }
        assert (await rep.post(f"{API}/activities", json=body)).status_code == 201
        async with tenant_tx(api_engine(), self.team.team_id) as conn:
            rows = await conn.execute(
                text(
                    "SELECT id, team_id, txid::text AS txid, occurred_at, actor_type, actor_id, "
                    "object_type, object_id, action, changes, data, request_id FROM app.events "
                    "WHERE team_id = :t AND object_type = 'mention' ORDER BY id"
                ),
                {"t": self.team.team_id},
            )
            events = [DispatchedEvent.from_row(row) for row in rows]
        for event in events:
            await produce(event)
        return (await self.team.get(f"{API}/notifications")).json()["data"][0]["id"]


REPORTING = frozenset(
    {"report", "dashboard", "dashboard_template", "report_template", "share_link", "share_token",
     "webhook"}
)  # fmt: skip

RECORD_PATHS = {
    "reports": "report",
    "dashboards": "dashboard",
    "leads": "lead",
    "contacts": "contact",
    "accounts": "account",
    "call-logs": "call_log",
    "activities": "activity",
    "deals": "deal",
    "pipelines": "pipeline",
    "tasks": "task",
    "objects": "custom_record",
}
PATH_KINDS = {
    "lead_id": "lead",
    "activity_id": "activity",
    "comment_id": "comment",
    "mention_id": "mention",
    "deal_id": "deal",
    "pipeline_id": "pipeline",
    "key": "stage",
    "task_id": "task",
    "time_log_id": "time_log",
    "dependency_id": "dependency",
    "notification_id": "notification",
    "watch_id": "watch",
    "subscription_id": "push_subscription",
    "failure_id": "failure",
    "import_id": "import",
    "member_id": "member",
    "key_id": "api_key",
    "feed_id": "feed",
    "team_id": "team",
    "delivery_id": "delivery",
    "api_name": "custom_object",
    "object": "custom_object",
    "layout_id": "layout",
    "view_id": "list_view",
    "rule_id": "validation_rule",
    "relationship_name": "relationship",
    "client_id": "oauth_client",
    "report_id": "report",
    "dashboard_id": "dashboard",
    "link_id": "share_link",
    "webhook_id": "webhook",
}


def path_kind(path: str, name: str) -> str:
    if name == "task_id" and path.endswith(("/split-series", "/occurrences", "/reminders")):
        return "series"  # a recurring task: what these act on
    if name == "record_id":
        return RECORD_PATHS[path.split("/")[3]]
    if name == "api_name" and "/fields/" in path:
        return "custom_field"
    if name == "token":
        if "/shared/" in path:
            return "share_token"
        return "feed_token" if "/ics/" in path else "invitation"
    if name == "key" and path.endswith("-templates/{key}/dashboards"):
        return "dashboard_template"
    if name == "key" and path.endswith("-templates/{key}/reports"):
        return "report_template"
    if name == "delivery_id" and "/webhook-deliveries/" in path:
        return "webhook_delivery"
    return PATH_KINDS[name]


# Body fields that name another record: their kind.
REF_FIELDS = {
    "owner_id": "member",
    "member_id": "member",
    "assignee_ids": "member",
    "attendee_ids": "member",
    "lead_id": "lead",
    "other_id": "lead2",
    "contact_id": "contact",
    "account_id": "account",
    "pipeline_id": "pipeline",
    "depends_on_task_id": "task2",
    "parent_task_id": "task2",
    "parent_comment_id": "comment",
    "related_to_id": "lead",
    "target_id": "deal",
    "report_id": "report",
    "dashboard_id": "dashboard",
}
# ``ids`` lists name different records per route.
IDS_KINDS = {
    f"{API}/tasks/bulk": "task",
    f"{API}/mentions/read": "mention",
    f"{API}/notifications/read": "notification",
}
