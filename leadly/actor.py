"""Who is calling: the authenticated actor and their team, set by the auth middleware."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLE_RANK = {"guest": 0, "user": 1, "manager": 2, "admin": 3, "owner": 4}


@dataclass(frozen=True, slots=True)
class Actor:
    team_id: str
    member_id: str
    role: str
    actor_type: str = "member"  # member | api_key | oauth_client | system
    credential_id: str | None = None  # session or key id; an OAuth token's client_id
    scopes: frozenset[str] | None = None  # None: a session, all scopes of the role
    request_id: str | None = field(default=None, compare=False)
    rate_limit: int | None = field(default=None, compare=False)  # an API key's requests/hour

    def at_least(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]

    def has_scope(self, scope: str) -> bool:
        if self.scopes is None:
            return True
        resource, _, action = scope.partition(":")
        return bool(
            scope in self.scopes
            or f"{resource}:*" in self.scopes
            or "*" in self.scopes
            # write implies read
            or (action == "read" and f"{resource}:write" in self.scopes)
        )


def system_actor(team_id: str, request_id: str | None = None) -> Actor:
    return Actor(
        team_id=team_id,
        member_id="system",
        role="owner",
        actor_type="system",
        request_id=request_id,
    )
