"""Teams, members, sessions, API keys and invitations: the only writers of those tables."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.auth import crypto, mailing
from api.auth.emails import normalize_email
from api.auth.passwords import check_password
from api.common.records import RecordService, actor_event
from api.common.scope import tenant_scope
from leadly import clock
from leadly.actor import ROLE_RANK, Actor, system_actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found, validation
from leadly.settings import get_settings
from leadly.zones import check_time_zone
from warehouse import events
from warehouse.db import api_engine, tenant_tx
from warehouse.events import EventRecord, diff
from warehouse.models import ApiKey, Invitation, Role, Session, Team, TeamMember
from warehouse.models.tasks import CalendarFeed
from warehouse.models.tenancy import SYSTEM_ROLES

ROLE_PERMISSIONS = {
    "owner": ["*"],
    "admin": ["*"],
    "manager": ["records:*", "members:read", "reports:*"],
    "user": ["records:*", "members:read"],
    "guest": ["records:read", "members:read"],
}

teams, roles, members = Team.__table__, Role.__table__, TeamMember.__table__
sessions, api_keys, invitations = Session.__table__, ApiKey.__table__, Invitation.__table__
calendar_feeds = CalendarFeed.__table__


def check_scope(actor: Actor, scope: str) -> None:
    """An API key needs ``scope``; a session has every scope its role allows."""
    if not actor.has_scope(scope):
        raise Problem(
            403, f"This API key lacks the scope {scope!r}.", title="Forbidden", required_scope=scope
        )


def slugify(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "team"
    return f"{base}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: datetime


class MemberService(RecordService):
    table = members
    object_type = "member"
    plural = "members"
    prefix = "mem"
    soft_delete = False
    extra_hidden = frozenset({"password_hash"})

    def rules(
        self, actor: Actor, values: dict[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        """Every write of a member's email stores its normalisation, what logins compare."""
        if "email" in values:
            values["email_normalized"] = normalize_email(values["email"])

    async def role_keys(self, conn: AsyncConnection, actor: Actor) -> dict[str, str]:
        rows = await conn.execute(
            select(roles.c.id, roles.c.key).where(roles.c.team_id == actor.team_id)
        )
        return {k: v for k, v in rows.all()}

    async def present(
        self, conn: AsyncConnection, actor: Actor, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        keys = await self.role_keys(conn, actor)
        out = []
        for r in rows:
            r = dict(r)
            if "role_id" in r:
                r["role"] = keys.get(r.pop("role_id"), "user")
            if "email_verified_at" in r:
                r["email_verified"] = r.pop("email_verified_at") is not None
            out.append(r)
        return out


member_service = MemberService()


# ----------------------------------------------------------------------------- sessions


async def issue_session(
    conn: AsyncConnection,
    team_id: str,
    member_id: str,
    user_agent: str | None = None,
    ip: str | None = None,
) -> Issued:
    s = get_settings()
    token = crypto.new_token(crypto.SESSION_PREFIX)
    expires = datetime.now(UTC) + timedelta(hours=s.session_absolute_timeout_hours)
    await conn.execute(
        insert(sessions).values(
            team_id=team_id,
            id=new_id("ses"),
            member_id=member_id,
            token_hash=crypto.token_hash(token),
            expires_at=expires,
            user_agent=(user_agent or "")[:500] or None,
            ip=ip,
        )
    )
    return Issued(token, expires)


async def _member_out(conn: AsyncConnection, actor: Actor, member_id: str) -> dict[str, Any]:
    row = await member_service.get(conn, actor, member_id)
    return (await member_service.present(conn, actor, [row]))[0]


async def _team_out(conn: AsyncConnection, team_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            select(teams.c.id, teams.c.name, teams.c.slug, teams.c.created_at).where(
                teams.c.id == team_id
            )
        )
    ).one()
    return dict(row._mapping)


async def signup(
    team_name: str,
    name: str,
    email: str,
    password: str,
    time_zone: str,
    *,
    request_id: str | None = None,
    user_agent: str | None = None,
    ip: str | None = None,
    verified: bool = False,
) -> dict[str, Any]:
    """A new team and its owner, signed in. The owner's email is unverified (it signs in with a
    password only once the link mailed to it is followed) unless ``verified``: an operator's
    command (``leadly create-team``, the demo seed), not a stranger at a sign-up form."""
    check_time_zone(time_zone)
    check_password(password)
    if ip is not None:  # sign-ups per address: the 409 for a taken email must not be a free oracle
        await _limit_signups(ip)
    team_id = new_id("team")
    member_id = new_id("mem")
    actor = Actor(team_id=team_id, member_id=member_id, role="owner", request_id=request_id)
    pw = await crypto.hash_password_async(password)
    async with tenant_tx(api_engine(), team_id, member_id) as conn:
        exists = (
            await conn.execute(
                text("SELECT 1 FROM app.auth_login_lookup(:e)"), {"e": normalize_email(email)}
            )
        ).first()
        if exists:
            raise Problem(
                409, "An account with this email already exists. Sign in instead.", title="Conflict"
            )
        team = (
            await conn.execute(
                insert(teams)
                .values(id=team_id, name=team_name, slug=slugify(team_name))
                .returning(teams.c.id, teams.c.name, teams.c.slug, teams.c.created_at)
            )
        ).one()
        role_ids = await create_system_roles(conn, team_id)
        member = await member_service.create(
            conn,
            actor,
            {
                "id": member_id,
                "email": email,
                "name": name,
                "password_hash": pw,
                "role_id": role_ids["owner"],
                "time_zone": time_zone,
                "email_verified_at": clock.now() if verified else None,
            },
            extra_events=[
                EventRecord(
                    team_id,
                    "member",
                    member_id,
                    "team",
                    team_id,
                    "created",
                    diff(None, dict(team._mapping)),
                    request_id,
                )
            ],
        )
        from api.pipelines.service import pipeline_service  # every team starts with one

        await pipeline_service.create_default(conn, actor)
        pending = None
        if not verified:
            pending = await mailing.issue_verification(conn, actor, member_id, name, email)
        issued = await issue_session(conn, team_id, member_id, user_agent, ip)
        member = (await member_service.present(conn, actor, [member]))[0]
    if pending is not None:  # after commit: the link names a row that exists
        await mailing.send_verification(pending)
    return {
        "team": dict(team._mapping),
        "member": member,
        "token": issued.token,
        "expires_at": issued.expires_at,
    }


async def create_system_roles(conn: AsyncConnection, team_id: str) -> dict[str, str]:
    ids = {key: new_id("role") for key in SYSTEM_ROLES}
    await conn.execute(
        insert(roles),
        [
            {
                "team_id": team_id,
                "id": ids[k],
                "key": k,
                "name": k.title(),
                "is_system": True,
                "permissions": ROLE_PERMISSIONS[k],
            }
            for k in SYSTEM_ROLES
        ],
    )
    return ids


async def login(
    email: str, password: str, *, ip: str, user_agent: str | None, request_id: str | None
) -> dict[str, Any]:
    from api.auth import throttle

    s = get_settings()
    c = throttle.counter()
    window = s.login_window_seconds
    email = normalize_email(email)
    acct_key, ip_key = throttle.account_key(email), throttle.ip_key(ip)
    # Reserve this attempt first (atomic increment), so parallel guesses cannot all pass a
    # read-then-check; a successful attempt gives its slot back below.
    count, retry = await c.hit(acct_key, window)
    if count > s.login_max_attempts_per_account:
        raise _throttled(retry)
    count, retry = await c.hit(ip_key, window)
    if count > s.login_max_attempts_per_ip:
        await c.undo(acct_key)  # not tried: a blocked address must not lock the account
        raise _throttled(retry)
    try:
        engine = api_engine()
        async with engine.connect() as conn:
            row = (
                await conn.execute(text("SELECT * FROM app.auth_login_lookup(:e)"), {"e": email})
            ).first()
            await conn.rollback()
        ok = await crypto.verify_password_async(row.password_hash if row else None, password)
    except Exception:  # the attempt never happened (e.g. database down): give the slots back
        await c.undo(acct_key)
        await c.undo(ip_key)
        raise
    if not ok or row is None or not row.is_active:
        raise Problem(401, "Email or password is incorrect.", title="Unauthorized")
    # Success clears the account's failures; it neither counts against nor clears the address.
    await c.reset(acct_key)
    await c.undo(ip_key)
    actor = Actor(team_id=row.team_id, member_id=row.member_id, role="user", request_id=request_id)
    async with tenant_tx(engine, row.team_id, row.member_id) as conn:
        values: dict[str, Any] = {"last_login_at": func.now()}
        if crypto.needs_rehash(row.password_hash):
            values["password_hash"] = await crypto.hash_password_async(password)
        await conn.execute(
            update(members)
            .where(members.c.team_id == row.team_id, members.c.id == row.member_id)
            .values(**values)
        )
        await events.append(
            conn,
            EventRecord(
                row.team_id,
                "member",
                row.member_id,
                "member",
                row.member_id,
                "logged_in",
                {},
                request_id,
                {"ip": ip},
            ),
        )
        issued = await issue_session(conn, row.team_id, row.member_id, user_agent, ip)
        member = await _member_out(conn, actor, row.member_id)
    return {"token": issued.token, "expires_at": issued.expires_at, "member": member}


async def _limit_signups(ip: str) -> None:
    from api.auth import throttle

    count, retry = await throttle.counter().hit(throttle.signup_key(ip), 3600)
    if count > get_settings().signup_max_per_ip:
        raise _too_many("Too many sign-ups from this address. Try again later.", retry)


def _throttled(retry: int) -> Problem:
    return _too_many("Too many failed sign-in attempts. Try again later.", retry)


def _too_many(detail: str, retry: int) -> Problem:
    """429 telling the client when to try again (``Retry-After``, seconds)."""
    return Problem(
        429,
        detail,
        title="Too Many Requests",
        headers={"Retry-After": str(retry)},
        retry_after=retry,
    )


async def logout(actor: Actor) -> None:
    if actor.actor_type != "member" or actor.credential_id is None:
        raise Problem(400, "Only a session can be logged out; revoke an API key instead.")
    async with tenant_scope(actor) as conn:
        await conn.execute(
            update(sessions)
            .where(sessions.c.team_id == actor.team_id, sessions.c.id == actor.credential_id)
            .values(revoked_at=func.now())
        )


async def me(actor: Actor) -> dict[str, Any]:
    async with tenant_scope(actor) as conn:
        return {
            "member": await _member_out(conn, actor, actor.member_id),
            "team": await _team_out(conn, actor.team_id),
            "auth": {"member": "session"}.get(actor.actor_type, actor.actor_type),
            "scopes": sorted(actor.scopes) if actor.scopes is not None else None,
        }


# ----------------------------------------------------------------------------- authenticate


# The look-up and the tenant context in one statement: the request's transaction starts
# authenticated and scoped to the caller's team (it is rolled back if the credential is bad).
_SESSION_AUTH = text(
    "SELECT a.*, set_config('app.team_id', a.team_id, true) AS _t, "
    "set_config('app.member_id', a.member_id, true) AS _m "
    "FROM app.auth_session_lookup(:h) a"
)
_API_KEY_AUTH = text(
    "SELECT a.*, set_config('app.team_id', a.team_id, true) AS _t, "
    "set_config('app.member_id', a.member_id, true) AS _m "
    "FROM app.auth_api_key_lookup(:h) a"
)
TOUCH_EVERY = timedelta(minutes=1)

# Other credential types by token prefix (OAuth access tokens: ``api.oauth.service``), resolved
# like a key: ``resolve(conn, token, request_id)`` sets the tenant and answers the Actor or None.
CredentialResolver = Callable[[AsyncConnection, str, str | None], Awaitable[Actor | None]]
CREDENTIALS: dict[str, CredentialResolver] = {}


async def authenticate_in(
    conn: AsyncConnection, token: str, request_id: str | None = None
) -> Actor | None:
    """Resolve a bearer token (session or API key) inside ``conn``'s transaction.

    On success the transaction is left open with ``app.team_id``/``app.member_id`` set, so the
    request can go on in it; on failure it is rolled back and None is returned.
    """
    for prefix, resolve in CREDENTIALS.items():
        if token.startswith(prefix):
            return await resolve(conn, token, request_id)
    if token.startswith(crypto.API_KEY_PREFIX):
        is_key = True
    elif token.startswith(crypto.SESSION_PREFIX):
        is_key = False
    else:
        return None
    h = crypto.token_hash(token)
    now = datetime.now(UTC)
    row = (await conn.execute(_API_KEY_AUTH if is_key else _SESSION_AUTH, {"h": h})).first()
    if row is None or not row.is_active or row.revoked_at is not None:
        await conn.rollback()
        return None
    if is_key:
        expired = row.expires_at is not None and row.expires_at <= now
    else:
        idle = timedelta(minutes=get_settings().session_idle_timeout_minutes)
        expired = row.expires_at <= now or row.last_used_at + idle <= now
    if expired:
        await conn.rollback()
        return None
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        table, id_ = (api_keys, row.key_id) if is_key else (sessions, row.session_id)
        await conn.execute(
            update(table)
            .where(table.c.team_id == row.team_id, table.c.id == id_)
            .values(last_used_at=func.now())
        )
    return Actor(
        team_id=row.team_id,
        member_id=row.member_id,
        role=row.role_key,
        actor_type="api_key" if is_key else "member",
        credential_id=row.key_id if is_key else row.session_id,
        scopes=frozenset(row.scopes) if is_key else None,
        request_id=request_id,
        rate_limit=row.rate_limit_per_hour if is_key else None,
    )


async def authenticate(token: str) -> Actor | None:
    """Resolve a bearer token outside a request (its own short transaction)."""
    async with api_engine().connect() as conn:
        actor = await authenticate_in(conn, token)
        if actor is not None:
            await conn.commit()
    return actor


# ----------------------------------------------------------------------------- members


async def check_member_target(conn: AsyncConnection, actor: Actor, member_id: str) -> None:
    """Every action on another member's account (profile, role, activation, their API keys and
    calendar feeds): an admin may act on members up to admin, only an owner on an owner (403)."""
    if member_id == actor.member_id or actor.role == "owner":
        return
    key = (
        await conn.execute(
            select(roles.c.key)
            .select_from(members)
            .join(roles, (roles.c.team_id == members.c.team_id) & (roles.c.id == members.c.role_id))
            .where(members.c.team_id == actor.team_id, members.c.id == member_id)
        )
    ).scalar()
    if key == "owner":
        raise Problem(403, "Only an owner can change an owner's account.", title="Forbidden")


async def update_member(
    conn: AsyncConnection,
    actor: Actor,
    member_id: str,
    values: dict[str, Any],
    if_match: int | None,
) -> dict[str, Any]:
    check_scope(actor, "members:write")
    self_edit = member_id == actor.member_id
    admin_fields = {"role", "is_active"} & set(values)
    if admin_fields and not actor.at_least("admin"):
        raise Problem(
            403, "Only an owner or admin can change roles or deactivate members.", title="Forbidden"
        )
    if not self_edit and not actor.at_least("admin"):
        raise Problem(403, "You can only edit your own profile.", title="Forbidden")
    if admin_fields:
        # Role and activation changes of one team run one at a time (the team row is the lock),
        # so two owners demoting each other cannot both see "another owner remains".
        await conn.execute(select(teams.c.id).where(teams.c.id == actor.team_id).with_for_update())
    target = await member_service.get(conn, actor, member_id, for_update=True)
    await check_member_target(conn, actor, member_id)
    keys = await member_service.role_keys(conn, actor)
    target_role = keys.get(target["role_id"], "user")
    if "time_zone" in values:
        check_time_zone(values["time_zone"])
    if admin_fields:
        if target_role == "owner" and actor.role != "owner":
            raise Problem(403, "Only an owner can change another owner.", title="Forbidden")
        new_role = values.get("role", target_role)
        if new_role == "owner" and actor.role != "owner":
            raise Problem(403, "Only an owner can make someone an owner.", title="Forbidden")
        demoting_owner = target_role == "owner" and (
            new_role != "owner" or values.get("is_active") is False
        )
        if demoting_owner:
            remaining = (
                await conn.execute(
                    select(func.count())
                    .select_from(members)
                    .join(
                        roles,
                        (roles.c.team_id == members.c.team_id) & (roles.c.id == members.c.role_id),
                    )
                    .where(
                        members.c.team_id == actor.team_id,
                        roles.c.key == "owner",
                        members.c.is_active,
                        members.c.id != member_id,
                    )
                )
            ).scalar_one()
            if remaining == 0:
                raise Problem(409, "A team needs at least one active owner.", title="Conflict")
    if "role" in values:
        by_key = {v: k for k, v in keys.items()}
        values = dict(values)
        values["role_id"] = by_key[values.pop("role")]
    row = await member_service.update(conn, actor, member_id, values, if_match=if_match)
    if values.get("is_active") is False:
        # Credentials stop at once: the look-ups check is_active, and we revoke them too (the
        # calendar feeds also check that their member is active).
        for table in (sessions, api_keys, calendar_feeds):
            await conn.execute(
                update(table)
                .where(
                    table.c.team_id == actor.team_id,
                    table.c.member_id == member_id,
                    table.c.revoked_at.is_(None),
                )
                .values(revoked_at=func.now())
            )
    return (await member_service.present(conn, actor, [row]))[0]


# ----------------------------------------------------------------------------- API keys

API_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.scopes,
    api_keys.c.rate_limit_per_hour,
    api_keys.c.prefix,
    api_keys.c.created_at,
    api_keys.c.expires_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
)


async def create_api_key(
    conn: AsyncConnection,
    actor: Actor,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    rate_limit_per_hour: int = 1000,
) -> dict[str, Any]:
    if actor.actor_type != "member":
        raise Problem(403, "API keys cannot create other API keys; sign in.", title="Forbidden")
    if not actor.at_least("user"):
        raise Problem(403, "Guests cannot create API keys.", title="Forbidden")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise validation([{"field": "expires_at", "message": "Must be in the future."}])
    key = crypto.new_token(crypto.API_KEY_PREFIX)
    key_id = new_id("key")
    row = (
        await conn.execute(
            insert(api_keys)
            .values(
                team_id=actor.team_id,
                id=key_id,
                member_id=actor.member_id,
                name=name,
                prefix=key[:12],
                key_hash=crypto.token_hash(key),
                scopes=sorted(set(scopes)),
                expires_at=expires_at,
                rate_limit_per_hour=rate_limit_per_hour,
            )
            .returning(*API_KEY_COLUMNS)
        )
    ).one()
    await events.append(
        conn,
        actor_event(
            actor, "api_key", key_id, "created", {"name": [None, name], "scopes": [None, scopes]}
        ),
    )
    return {**dict(row._mapping), "key": key}


async def list_api_keys(conn: AsyncConnection, actor: Actor) -> list[dict[str, Any]]:
    check_scope(actor, "api_keys:read")
    q = (
        select(*API_KEY_COLUMNS)
        .where(api_keys.c.team_id == actor.team_id)
        .order_by(api_keys.c.id.desc())
    )
    if not actor.at_least("admin"):
        q = q.where(api_keys.c.member_id == actor.member_id)
    return [dict(r._mapping) for r in await conn.execute(q)]


async def revoke_api_key(conn: AsyncConnection, actor: Actor, key_id: str) -> None:
    check_scope(actor, "api_keys:write")
    holder = (
        await conn.execute(
            select(api_keys.c.member_id).where(
                api_keys.c.team_id == actor.team_id, api_keys.c.id == key_id
            )
        )
    ).scalar()
    if holder is not None and actor.at_least("admin"):
        await check_member_target(conn, actor, holder)
    q = update(api_keys).where(
        api_keys.c.team_id == actor.team_id,
        api_keys.c.id == key_id,
        api_keys.c.revoked_at.is_(None),
    )
    if not actor.at_least("admin"):
        q = q.where(api_keys.c.member_id == actor.member_id)
    res = await conn.execute(q.values(revoked_at=func.now()).returning(api_keys.c.id))
    if res.first() is None:
        raise not_found("api key", key_id)
    await events.append(
        conn,
        actor_event(actor, "api_key", key_id, "revoked", {}),
    )


# ----------------------------------------------------------------------------- invitations


async def invite(conn: AsyncConnection, actor: Actor, email: str, role: str) -> dict[str, Any]:
    check_scope(actor, "members:write")
    if not actor.at_least("admin"):
        raise Problem(403, "Only an owner or admin can invite members.", title="Forbidden")
    if role == "owner" and actor.role != "owner":
        raise Problem(403, "Only an owner can invite an owner.", title="Forbidden")
    # Only this team's members are looked at (row-level security): whether another team has a
    # login with this email is not the inviter's to learn; accepting such an invitation fails.
    taken = (
        await conn.execute(
            select(members.c.id).where(members.c.email_normalized == normalize_email(email))
        )
    ).first()
    if taken:
        raise Problem(409, "A member of your team has this email already.", title="Conflict")
    role_id = (
        await conn.execute(
            select(roles.c.id).where(roles.c.team_id == actor.team_id, roles.c.key == role)
        )
    ).scalar_one()
    token = crypto.new_token(crypto.INVITE_PREFIX)
    inv_id = new_id("inv")
    s = get_settings()
    expires = datetime.now(UTC) + timedelta(hours=s.invitation_ttl_hours)
    await conn.execute(
        insert(invitations).values(
            team_id=actor.team_id,
            id=inv_id,
            email=email,
            role_id=role_id,
            token_hash=crypto.token_hash(token),
            invited_by=actor.member_id,
            expires_at=expires,
        )
    )
    await events.append(
        conn,
        actor_event(
            actor, "invitation", inv_id, "created", {"email": [None, email], "role": [None, role]}
        ),
    )
    # The token goes to the invitee's mailbox only: accepting proves the address is theirs, so
    # an admin cannot invite an address he does not read and accept it himself. Sent before the
    # commit: if the mail server refuses, no invitation exists (503).
    inviter = (await member_service.get(conn, actor, actor.member_id))["name"]
    team = await _team_out(conn, actor.team_id)
    await mailing.send(
        mailing.invitation_message(
            s,
            invitation_id=inv_id,
            email=email,
            token=token,
            team_name=team["name"],
            inviter=inviter,
            role=role,
            expires_at=expires,
        ),
        "invitation email",
    )
    return {"id": inv_id, "email": email, "role": role, "expires_at": expires}


async def accept_invitation(
    token: str,
    name: str,
    password: str,
    time_zone: str,
    *,
    request_id: str | None,
    user_agent: str | None,
    ip: str | None,
) -> dict[str, Any]:
    check_time_zone(time_zone)
    check_password(password)
    engine = api_engine()
    async with engine.connect() as conn:
        inv = (
            await conn.execute(
                text("SELECT * FROM app.auth_invitation_lookup(:h)"),
                {"h": crypto.token_hash(token)},
            )
        ).first()
        await conn.rollback()
    if inv is None or inv.revoked_at is not None:
        raise Problem(404, "This invitation does not exist.")
    if inv.accepted_at is not None:
        raise Problem(409, "This invitation was already accepted.", title="Conflict")
    if inv.expires_at <= datetime.now(UTC):
        raise Problem(410, "This invitation has expired; ask for a new one.", title="Gone")
    pw = await crypto.hash_password_async(password)
    member_id = new_id("mem")
    actor = Actor(team_id=inv.team_id, member_id=member_id, role="user", request_id=request_id)
    async with tenant_tx(engine, inv.team_id, member_id) as conn:
        claimed = (
            await conn.execute(
                update(invitations)
                .where(
                    invitations.c.team_id == inv.team_id,
                    invitations.c.id == inv.invitation_id,
                    invitations.c.accepted_at.is_(None),
                )
                .values(accepted_at=func.now(), accepted_member_id=member_id)
                .returning(invitations.c.id)
            )
        ).first()
        if claimed is None:
            raise Problem(409, "This invitation was already accepted.", title="Conflict")
        row = await member_service.create(
            conn,
            actor,
            {
                "id": member_id,
                "email": inv.email,
                "name": name,
                "password_hash": pw,
                "role_id": inv.role_id,
                "time_zone": time_zone,
                # The token reached the member only through this mailbox.
                "email_verified_at": clock.now(),
            },
        )
        issued = await issue_session(conn, inv.team_id, member_id, user_agent, ip)
        member = (await member_service.present(conn, actor, [row]))[0]
    return {"member": member, "token": issued.token, "expires_at": issued.expires_at}


def role_rank(key: str) -> int:
    return ROLE_RANK.get(key, -1)


__all__ = ["member_service", "system_actor"]
