"""Passwords (Argon2id, OWASP parameters) and opaque tokens (stored as keyed hashes)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from leadly.settings import get_settings

# OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY = _hasher.hash("timing-equaliser")

SESSION_PREFIX = "lds_"
API_KEY_PREFIX = "ldk_"
INVITE_PREFIX = "ldi_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(hashed: str | None, password: str) -> bool:
    """Constant work whether or not the account exists."""
    try:
        return _hasher.verify(hashed or _DUMMY, password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    return _hasher.check_needs_rehash(hashed)


# Argon2 is deliberately slow (tens of ms of CPU); in a request it runs on a worker thread
# (argon2-cffi releases the GIL) so one sign-in never stalls every other request on the loop.


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(hashed: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, hashed, password)


@lru_cache(maxsize=1)
def _key() -> bytes:
    return hashlib.sha256(get_settings().secret_key.encode()).digest()


def token_hash(token: str) -> bytes:
    return hmac.new(_key(), token.encode(), hashlib.sha256).digest()


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)
