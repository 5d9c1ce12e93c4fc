"""The outbound-request guard: every server-side request to a URL a member supplied (Slack and
Teams webhooks, Web Push endpoints; later webhooks, workflow HTTP actions, integrations) goes
through :func:`check_url` when the URL is saved and :func:`post` when it is used.

- https only; the host is resolved and every address it resolves to must be public: loopback,
  private, link-local, multicast, unspecified, reserved, shared (100.64/10), IPv4-mapped and
  IPv4-translated IPv6 and other special ranges are refused (``ipaddress``'s ``is_global``, plus
  the mapped address checked as IPv4). Numeric spellings (``127.1``, ``2130706433``) resolve to
  what they mean and are refused likewise.
- The connection is pinned to the address that was checked (the request goes to that IP with the
  original ``Host`` header and TLS server name), so DNS cannot change between check and connect.
- Redirects are not followed (a redirect is an answer, never a second request, so no redirect
  reaches an address the guard would refuse); time and response size are bounded; the remote
  body is returned only to a caller that asks for its first bytes (``keep``: the webhook
  delivery log, shown to the admins who registered the URL), otherwise callers get a status
  code and a short reason written here.
- ``LEADLY_ALLOW_PRIVATE_TARGETS=true`` lifts the address rule (and allows http) for tests and
  on-premises installs; provider host lists (Slack, Teams) are enforced unless it is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from leadly.problem import validation
from leadly.settings import Settings, get_settings

#: Hosts a Slack incoming webhook may live on.
SLACK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
#: Hosts (or parent domains) of Microsoft Teams incoming webhooks and workflow triggers.
TEAMS_HOSTS = ("webhook.office.com", "outlook.office.com", "logic.azure.com", "powerplatform.com")

MAX_RESPONSE_BYTES = 64 * 1024


class Refused(Exception):
    """A URL the guard will not reach; ``reason`` is safe to show the member."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    address: str
    """The checked address the connection is pinned to."""


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    """Server-written: ``HTTP 404``, ``redirect not followed``; never the remote body."""
    body: bytes = b""
    """The first ``keep`` bytes of the answer's body (only when :func:`post` was asked)."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _host_allowed(host: str, hosts: tuple[str, ...]) -> bool:
    return any(host == h or host.endswith("." + h) for h in hosts)


def address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address may not be reached, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            return address_refusal(inner) or "an IPv4 address written as IPv6"
        if ip in ipaddress.IPv6Network("64:ff9b::/96") or ip in ipaddress.IPv6Network(
            "64:ff9b:1::/48"
        ):
            return "an IPv4-translated address"
    for flag, why in (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(ip, flag):
            return why
    if not ip.is_global:
        return "a non-public address"
    return None


def _parse(url: str, hosts: tuple[str, ...] | None, s: Settings) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("not a valid URL") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in ("https", "http") or not host:
        raise Refused("only https:// URLs are allowed")
    if scheme == "http" and not s.allow_private_targets:
        raise Refused("only https:// URLs are allowed")
    if parts.username or parts.password:
        raise Refused("credentials in the URL are not allowed")
    if hosts and not s.allow_private_targets and not _host_allowed(host, hosts):
        raise Refused(f"the host must be one of {', '.join(hosts)}")
    return scheme, host, port or (443 if scheme == "https" else 80)


async def resolve(url: str, *, hosts: tuple[str, ...] | None = None) -> Target:
    """The URL's target, its host resolved and every address checked; :class:`Refused` else."""
    s = get_settings()
    scheme, host, port = _parse(url, hosts, s)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError, OSError):
        raise Refused("the host does not resolve") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise Refused("the host does not resolve")
    if not s.allow_private_targets:
        for a in addresses:
            why = address_refusal(ipaddress.ip_address(a.split("%", 1)[0]))
            if why:
                raise Refused(f"the host resolves to {why}")
    return Target(url, scheme, host, port, addresses[0])


async def check_url(url: str, field: str, *, hosts: tuple[str, ...] | None = None) -> str:
    """``url`` when the guard would reach it, else a 422 naming ``field`` (used when saved).
    With LEADLY_ALLOW_PRIVATE_TARGETS only the URL's form is checked (a host that does not
    resolve yet fails when sending)."""
    try:
        s = get_settings()
        if s.allow_private_targets:
            _parse(url, hosts, s)
        else:
            await resolve(url, hosts=hosts)
    except Refused as e:
        raise validation(
            [{"field": field, "message": f"This URL is not allowed: {e.reason}."}]
        ) from None
    return url


async def post(
    url: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    hosts: tuple[str, ...] | None = None,
    seconds: float | None = None,
    keep: int = 0,
    client: httpx.AsyncClient | None = None,
) -> Answer:
    """POST to a member-supplied URL through the guard (checked again now: DNS may have changed).
    :class:`Refused` when the guard refuses it; an :class:`Answer` otherwise (transport errors
    are an Answer with status 0). ``client``: a client to reuse (its pool is keyed by the
    checked address, so give one client per host name: a connection made for one TLS server
    name must not carry another's requests)."""
    try:
        target = await resolve(url, hosts=hosts)
    except Refused as e:
        if get_settings().allow_private_targets:  # nothing to protect: report, don't refuse
            return Answer(0, e.reason)
        raise
    parts = urlsplit(url)
    ip = ipaddress.ip_address(target.address.split("%", 1)[0])
    netloc = f"[{ip}]" if ip.version == 6 else str(ip)
    pinned = parts._replace(netloc=f"{netloc}:{target.port}").geturl()
    default_port = target.port == (443 if target.scheme == "https" else 80)
    host_header = target.host if default_port else f"{target.host}:{target.port}"
    s = get_settings()
    try:
        limit = seconds or s.notification_http_timeout
        async with (
            contextlib.nullcontext(client)
            if client is not None
            else httpx.AsyncClient(timeout=limit, follow_redirects=False) as c,
            c.stream(
                "POST",
                pinned,
                json=json,
                content=content,
                headers={**(headers or {}), "Host": host_header},
                extensions={"sni_hostname": target.host},
                timeout=limit if client is None else httpx.USE_CLIENT_DEFAULT,
                follow_redirects=False,
            ) as r,
        ):
            size = 0
            head = bytearray()
            async for chunk in r.aiter_raw():
                size += len(chunk)
                if len(head) < keep:
                    head += chunk[: keep - len(head)]
                if size > MAX_RESPONSE_BYTES:
                    break
            status = r.status_code
    except httpx.TimeoutException:
        return Answer(0, "timed out")
    except httpx.HTTPError as e:
        return Answer(0, f"could not connect ({type(e).__name__})")
    if 300 <= status < 400:
        return Answer(status, f"HTTP {status}: redirect not followed", bytes(head))
    return Answer(status, f"HTTP {status}", bytes(head))
