"""Typed settings read from ``LEADLY_*`` environment variables.

Every field below is documented; ``docs/getting-started.md`` lists them for operators.
One process-wide instance is returned by :func:`get_settings` (cached); tests call
``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import get_type_hints


def _default_data_dir() -> str:
    return str(Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "leadly")


#: The published development secret: refused where the API is exposed (docs/security.md).
DEFAULT_SECRET_KEY = "dev-insecure-change-me"


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    """PostgreSQL URL of a role that may create schemas and roles (``postgresql://user@host/db``).
    Unset: Leadly starts its embedded PostgreSQL under ``data_dir/postgres``."""

    redis_url: str | None = None
    """Redis URL for pub/sub, presence and rate limits. Unset: PostgreSQL LISTEN/NOTIFY and
    process memory are used instead (single node)."""

    data_dir: str = field(default_factory=_default_data_dir)
    """Folder for the embedded database, uploaded files and local state."""

    api_host: str = "127.0.0.1"
    """Interface the API binds to."""

    api_port: int = 8000
    """Port of the HTTP/WebSocket API."""

    ui_port: int = 8501
    """Port of the Streamlit workspace and dashboards."""

    dagster_port: int = 3000
    """Port of the Dagster webserver."""

    api_workers: int = 1
    """Number of API worker processes started by ``leadly api`` / ``leadly up``."""

    restart_max_crashes: int = 5
    """``leadly up`` restarts a service that stops on its own; when one service has stopped this
    many times within ``restart_window_seconds`` it gives up instead: it stops everything and
    exits with status 1 (1: give up at the first crash)."""

    restart_window_seconds: float = 60.0
    """Window of ``restart_max_crashes``. Older crashes are forgotten, so a service that has run
    this long without crashing starts again from the first backoff delay."""

    restart_backoff_seconds: float = 1.0
    """Wait before restarting a crashed service; it doubles with each further crash of the
    service within ``restart_window_seconds`` (1 s, 2 s, 4 s, ...)."""

    restart_backoff_max_seconds: float = 30.0
    """Longest wait before restarting a crashed service."""

    start_timeout_seconds: float = 180.0
    """How long ``leadly up`` waits for a service it (re)started to answer its health path. At
    start-up one that does not stops everything; after a restart it is killed and that counts
    as one more crash."""

    db_name: str = "leadly"
    """Database name used on the embedded server."""

    db_pool_size: int = 20
    """Connections each API process keeps open."""

    api_db_role: str = "leadly_api"
    """Role the API runs as: owns nothing, subject to row-level security."""

    owner_db_role: str = "leadly_owner"
    """Role that owns the schema; migrations run as it."""

    worker_db_role: str = "leadly_worker"
    """Role of the dispatcher worker: reads events across teams."""

    analytics_db_role: str = "leadly_analytics"
    """Role used by dbt and Dagster: reads every team's operational rows, builds analytics_*."""

    dashboard_db_role: str = "leadly_dashboard"
    """Role the dashboards read reporting models as: row-level security scopes it to one team
    per transaction (``app.team_id``), like the API role."""

    db_role_password: str = ""
    """Password of the api/worker/analytics login roles (set on bootstrap). Empty: no password,
    for trust/peer authentication (the embedded server, local development)."""

    secret_key: str = DEFAULT_SECRET_KEY
    """Secret used to derive token hashes (HMAC). Set a long random value in production."""

    session_idle_timeout_minutes: int = 60 * 24
    """A session token not used for this long stops working."""

    session_absolute_timeout_hours: int = 24 * 14
    """A session token stops working this long after login, however often it is used."""

    login_max_attempts_per_account: int = 5
    """Failed logins allowed per account within ``login_window_seconds`` before 429."""

    login_max_attempts_per_ip: int = 20
    """Failed logins allowed per client address within ``login_window_seconds`` before 429."""

    login_window_seconds: int = 900
    """Window of the login throttle."""

    invitation_ttl_hours: int = 72
    """How long an invitation token can be accepted."""

    oauth_access_token_ttl_seconds: int = 3600
    """How long an OAuth access token works."""

    oauth_refresh_token_ttl_days: int = 30
    """How long an OAuth refresh token can be used (each use answers a new one)."""

    oauth_code_ttl_seconds: int = 600
    """How long an OAuth authorization code can be exchanged (RFC 6749 recommends 10 minutes)."""

    rate_limit_session_per_hour: int = 10_000
    """Requests an hour a signed-in member may make with their sessions (API keys carry their own
    ``rate_limit_per_hour``)."""

    rate_limit_oauth_client_per_hour: int = 10_000
    """Requests an hour an OAuth client may make (all its tokens together)."""

    rate_limit_anonymous_per_hour: int = 1_000
    """Requests an hour one client address may make without credentials."""

    rate_limit_burst_per_second: int = 50
    """Burst limit: requests any one key, client, member or address may make in
    ``rate_limit_burst_window_seconds``."""

    rate_limit_burst_window_seconds: int = 1
    """Window of the burst limit."""

    email_verification_ttl_hours: int = 48
    """How long an email verification link works (one use)."""

    verification_resend_max_per_hour: int = 5
    """Verification emails a member may ask to be sent again in an hour (429 after)."""

    idempotency_ttl_hours: int = 24
    """How long an ``Idempotency-Key`` is remembered."""

    max_body_bytes: int = 1024 * 1024
    """Largest JSON request body accepted (413 above)."""

    worker_batch_size: int = 200
    """Events the dispatcher reads per batch."""

    worker_poll_interval: float = 0.5
    """Seconds the dispatcher sleeps when no event is waiting."""

    worker_max_attempts: int = 8
    """Attempts before a failing delivery is dead-lettered."""

    worker_retry_base_seconds: float = 10.0
    """First retry delay of a failed delivery; doubles per attempt (with jitter)."""

    worker_retry_max_seconds: float = 3600.0
    """Longest delay between two retries of a failed delivery."""

    worker_consumers: str = ""
    """Extra consumers for the dispatcher, comma-separated ``module:attribute`` paths."""

    redis_prefix: str = "leadly"
    """Prefix of every Redis key, so several deployments (or test runs) share one server."""

    demo_password: str = "leadly-demo-2026"
    """Password of the demo members created by ``leadly seed --demo``."""

    # --- notifications (docs/notifications.md) ---

    public_url: str = "http://127.0.0.1:8501"
    """Base URL of the workspace; notification links in emails, SMS and chat messages start
    with it."""

    api_public_url: str = ""
    """Base URL at which providers reach this API (e.g. ``https://api.crm.example.com``). Set:
    each SMS asks Twilio for status callbacks, so the delivery log shows ``delivered`` or
    ``failed`` as the handset reports it. Empty: an SMS stays ``sent``."""

    smtp_host: str = ""
    """SMTP server for invitations, verification links and notification emails. Empty: `leadly
    up` writes mail into <data dir>/mail; the other commands cannot send (and log it)."""

    smtp_port: int = 25
    """Port of the SMTP server."""

    smtp_username: str = ""
    """SMTP login (empty: no authentication)."""

    smtp_password: str = ""
    """SMTP password."""

    smtp_starttls: int = 0
    """1: upgrade the SMTP connection with STARTTLS before sending."""

    mail_from: str = "Leadly <notifications@leadly.local>"
    """From address of notification emails."""

    twilio_base_url: str = "https://api.twilio.com"
    """Base URL of the Twilio REST API (a local stand-in in tests)."""

    twilio_account_sid: str = ""
    """Twilio account SID for notification SMS. Empty: SMS delivery fails (and is logged)."""

    twilio_auth_token: str = ""
    """Twilio auth token."""

    twilio_from: str = ""
    """Sender number (or messaging service SID starting with ``MG``) of notification SMS."""

    vapid_private_key: str = ""
    """VAPID private key (PEM, or base64url DER) signing Web Push requests. Empty: push delivery
    fails (and is logged)."""

    vapid_public_key: str = ""
    """VAPID public key (base64url, uncompressed point) given to browsers that subscribe."""

    vapid_subject: str = "mailto:admin@leadly.local"
    """Contact (``mailto:`` or ``https:``) sent in the VAPID claims."""

    notification_http_timeout: float = 10.0
    """Seconds a Twilio/Slack/Teams/push request may take before the delivery counts failed."""

    # --- security (docs/security.md) ---
    env: str = "development"
    """``production`` refuses to start with the default secret key or the demo password (so does
    any API bound to a non-loopback address)."""

    allow_private_targets: bool = False
    """Let server-side requests to member-supplied URLs (Slack, Teams, push, webhooks) reach
    loopback, private and other non-public addresses, over plain http too, and Slack/Teams URLs
    of any host. For tests and on-premises installs only: it re-opens SSRF to the internal network."""

    trusted_proxies: str = ""
    """Comma-separated addresses of reverse proxies whose ``X-Forwarded-For`` is believed (empty:
    none; the peer address is the client)."""

    signup_max_per_ip: int = 20
    """Sign-ups one client address may make in an hour (429 after)."""

    realtime_revalidate_seconds: float = 30.0
    """How often an open WebSocket's session or API key is checked again (a revoked or expired
    credential, or a deactivated member, closes it)."""

    # --- imports (docs/imports.md) ---

    import_max_bytes: int = 200 * 1024 * 1024
    """Largest file an import accepts, in bytes (413 above)."""

    import_batch_size: int = 10_000
    """Rows per transaction of a new import (each batch writes its records, their events and
    the import's progress, all or nothing)."""

    import_duckdb_memory: str = "1GB"
    """DuckDB's memory limit while an import parses and validates its file (it spills to disk
    beyond it)."""

    import_load_connections: int = 2
    """Connections that write an import's batches at once (each batch is still one
    transaction); 1 writes them one after the other."""

    @property
    def api_base_url(self) -> str:
        """The API's address as a browser or a client on this host reaches it."""
        return f"http://{display_host(self.api_host)}:{self.api_port}"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        hints = get_type_hints(cls)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"LEADLY_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            hint = hints[f.name]
            if hint is int:
                values[f.name] = int(raw)
            elif hint is float:
                values[f.name] = float(raw)
            elif hint is bool:
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = raw
        return cls(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def display_host(host: str) -> str:
    """A host a browser can reach for a bind address (``0.0.0.0`` → ``127.0.0.1``)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
