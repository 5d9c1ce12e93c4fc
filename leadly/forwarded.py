"""The end user's address, vouched for by the dashboards.

Every dashboard sign-in reaches the API from the Streamlit server's own address, so the login
throttle would count every dashboard user as one client (20 failures would lock everyone out).
The dashboards send the browser's address in ``X-Leadly-Client-Address`` as
``<unix time>.<address>.<HMAC-SHA256(secret_key)>``; the API believes it only when the signature
checks with its own secret key and it is at most five minutes old. Anyone else's header is
ignored (the peer address counts)."""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Leadly-Client-Address"
MAX_AGE = 300


def _mac(secret: str, stamp: str, address: str) -> str:
    msg = f"client-address:{stamp}:{address}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def sign(address: str, secret: str, now: float | None = None) -> str:
    stamp = str(int(time.time() if now is None else now))
    return f"{stamp}.{address}.{_mac(secret, stamp, address)}"


def verify(value: str | None, secret: str, now: float | None = None) -> str | None:
    """The vouched-for address, or None when ``value`` is missing, forged or stale."""
    if not value or len(value) > 200:
        return None
    stamp, _, rest = value.partition(".")
    address, _, mac = rest.rpartition(".")
    if not stamp.isdigit() or not address or not mac:
        return None
    if not hmac.compare_digest(mac, _mac(secret, stamp, address)):
        return None
    age = (time.time() if now is None else now) - int(stamp)
    return address if -60 <= age <= MAX_AGE else None
