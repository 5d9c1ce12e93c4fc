"""``Idempotency-Key`` storage: the first response for a key is replayed for retries."""

from __future__ import annotations

import hashlib
from typing import Any

from litestar import Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from leadly.actor import Actor
from leadly.problem import Problem
from leadly.settings import get_settings

_CLAIM = text(
    """
    INSERT INTO app.idempotency_keys
      (team_id, actor_id, key, method, path, request_hash, status_code, body, expires_at)
    VALUES (:team_id, :actor_id, :key, :method, :path, :hash, 0, '', now() + make_interval(hours => :ttl))
    ON CONFLICT (team_id, actor_id, key) DO NOTHING
    RETURNING 1
    """
)
_EXISTING = text(
    """
    SELECT request_hash, status_code, headers, body, expires_at < now() AS expired
    FROM app.idempotency_keys WHERE team_id = :team_id AND actor_id = :actor_id AND key = :key
    """
)
_EXPIRE = text(
    "DELETE FROM app.idempotency_keys WHERE team_id = :team_id AND actor_id = :actor_id "
    "AND key = :key"
)
_STORE = text(
    """
    UPDATE app.idempotency_keys SET status_code = :status, headers = CAST(:headers AS jsonb),
           body = :body
    WHERE team_id = :team_id AND actor_id = :actor_id AND key = :key
    """
)


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    """What a retry must repeat: method, path and the body's JSON value (not its formatting:
    key order and whitespace may differ between attempts)."""
    import msgspec

    try:
        canonical = msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except msgspec.DecodeError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).digest()


async def claim(
    conn: AsyncConnection, actor: Actor, key: str, method: str, path: str, digest: bytes
) -> Response | None:
    """Claim ``key`` for this request; return the stored response if it was used before."""
    ids = {"team_id": actor.team_id, "actor_id": actor.credential_id or actor.member_id, "key": key}
    ttl = get_settings().idempotency_ttl_hours
    for _ in range(2):
        claimed = (
            await conn.execute(
                _CLAIM, {**ids, "method": method, "path": path, "hash": digest, "ttl": ttl}
            )
        ).first()
        if claimed:
            return None
        row = (await conn.execute(_EXISTING, ids)).first()
        if row is None:
            continue
        if row.expired:
            await conn.execute(_EXPIRE, ids)
            continue
        if row.request_hash != digest:
            raise Problem(
                422,
                "This Idempotency-Key was already used with a different request body.",
                title="Unprocessable Content",
                errors=[{"field": "Idempotency-Key", "message": "Reused with another body."}],
            )
        headers = dict(row.headers or {})
        headers["Idempotent-Replayed"] = "true"
        return Response(
            content=bytes(row.body),
            status_code=row.status_code,
            media_type=headers.pop("content-type", "application/json"),
            headers=headers,
        )
    raise Problem(409, "This Idempotency-Key is in use by a request still running.")


async def store(conn: AsyncConnection, actor: Actor, key: str, response: Response) -> None:
    import msgspec

    headers: dict[str, Any] = {
        k: v for k, v in response.headers.items() if k.lower() in ("etag", "location")
    }
    headers["content-type"] = response.media_type
    body = (
        response.content
        if isinstance(response.content, bytes)
        else msgspec.json.encode(response.content)
    )
    await conn.execute(
        _STORE,
        {
            "team_id": actor.team_id,
            "actor_id": actor.credential_id or actor.member_id,
            "key": key,
            "status": response.status_code,
            "headers": msgspec.json.encode(headers).decode(),
            "body": body,
        },
    )
