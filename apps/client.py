"""The app's API client: every read of operational data and every write goes through the API,
as the signed-in member (``Authorization: Bearer <session token>``).

Errors come back as :class:`ApiError`, built from the API's RFC 9457 problem document (``detail``
and the per-field ``errors``), or from the network error when the API cannot be reached. The
client has no Streamlit imports; ``apps/ui.py`` shows the errors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import httpx

from leadly import forwarded
from leadly.settings import get_settings

PREFIX = "/api/v1"


def api_url() -> str:
    """Base URL of the API: ``LEADLY_API_URL``, else ``http://<api_host>:<api_port>``."""
    explicit = os.environ.get("LEADLY_API_URL", "").strip()
    if explicit:
        return explicit.rstrip("/")
    return get_settings().api_base_url


@lru_cache(maxsize=4)
def _http(base_url: str) -> httpx.Client:
    # One connection pool per API address, shared by every session (httpx.Client is
    # thread-safe); the member's token goes on each request, never on the client.
    return httpx.Client(base_url=base_url, timeout=httpx.Timeout(30.0, connect=5.0))


@dataclass
class ApiError(Exception):
    """A failed API call: the problem document's fields, or a network failure (status 0)."""

    status: int
    detail: str
    title: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}" if self.status else self.detail

    @property
    def unauthorized(self) -> bool:
        return self.status == 401

    @classmethod
    def from_response(cls, r: httpx.Response) -> ApiError:
        try:
            body = r.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        errors = body.get("errors") if isinstance(body.get("errors"), list) else []
        return cls(
            status=r.status_code,
            title=str(body.get("title") or r.reason_phrase),
            detail=str(body.get("detail") or r.text[:500] or r.reason_phrase),
            errors=[e for e in errors if isinstance(e, dict)],
            body=body,
        )


def list_params(
    filters: Mapping[str, Any] | None = None,
    *,
    sort: str | None = None,
    fields: list[str] | tuple[str, ...] | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, str]:
    """Query parameters of a list call: ``filter[field]=``, ``sort``, ``fields``, ``limit``,
    ``cursor``. Empty filter values are left out; lists become ``a,b`` (for ``__in``)."""
    params: dict[str, str] = {}
    for name, value in (filters or {}).items():
        if value is None or value == "" or value == [] or value == ():
            continue
        if isinstance(value, list | tuple | set):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        params[f"filter[{name}]"] = str(value)
    if sort:
        params["sort"] = sort
    if fields:
        params["fields"] = ",".join(fields)
    if limit:
        params["limit"] = str(limit)
    if cursor:
        params["cursor"] = cursor
    return params


class ApiClient:
    """Calls the API as the member whose session ``token`` it holds (None: signed out)."""

    def __init__(self, token: str | None = None, base_url: str | None = None) -> None:
        self.token = token
        self.base_url = (base_url or api_url()).rstrip("/")

    # ------------------------------------------------------------------ plumbing

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", None) or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            r = _http(self.base_url).request(method, PREFIX + path, headers=headers, **kw)
        except httpx.HTTPError as e:
            raise ApiError(0, f"The API at {self.base_url} cannot be reached ({e}).") from e
        if r.status_code >= 400:
            raise ApiError.from_response(r)
        return r

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, **kw: Any) -> Any:
        r = self.request("POST", path, **kw)
        return r.json() if r.content else None

    # ------------------------------------------------------------------ auth

    def login(self, email: str, password: str, client_address: str | None = None) -> dict[str, Any]:
        """``{token, expires_at, member}``; also keeps the token on this client.
        ``client_address``: the browser's address, vouched for to the API's login throttle
        (signed with the shared secret key: ``leadly.forwarded``)."""
        headers = {}
        if client_address:
            headers[forwarded.HEADER] = forwarded.sign(client_address, get_settings().secret_key)
        out = self.post("/auth/login", json={"email": email, "password": password}, headers=headers)
        self.token = out["token"]
        return out

    def logout(self) -> None:
        if self.token:
            self.request("POST", "/auth/logout")
            self.token = None

    def me(self) -> dict[str, Any]:
        """``{member, team, auth, scopes}`` of the signed-in member."""
        return self.get("/me")

    def members(self) -> list[dict[str, Any]]:
        return list(self.iter_pages("/members", {"limit": "1000"}))

    # ------------------------------------------------------------------ records

    def list(self, plural: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One page: ``{data, next_cursor, has_more}``."""
        return self.get(f"/{plural}", params)

    def iter_pages(self, path: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        params = dict(params)
        while True:
            page = self.get(path, params)
            if isinstance(page, list):  # an endpoint without pagination
                yield from page
                return
            yield from page.get("data", [])
            if not page.get("has_more") or not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def export_leads(self, fmt: str, params: Mapping[str, str]) -> bytes:
        """Every lead matching the list filters, as ``csv``, ``xlsx`` or ``parquet``."""
        query = {k: v for k, v in params.items() if k not in ("limit", "cursor", "fields")}
        r = self.request("GET", "/leads/export", params={**query, "format": fmt})
        return r.content

    # ------------------------------------------------------------------ imports

    def preview_import(self, name: str, content: bytes, obj: str) -> dict[str, Any]:
        """``{columns, suggested_mapping, unmapped, sample_rows, delimiter, encoding,
        total_rows_estimate}``."""
        return self.post(
            "/imports/preview",
            files={"file": (name, content, _mime(name))},
            data={"object": obj},
        )

    def start_import(
        self,
        name: str,
        content: bytes,
        obj: str,
        mapping: Mapping[str, str | None],
        duplicate_policy: str = "skip",
    ) -> dict[str, Any]:
        """``{id, status}``: the import runs in the background; poll :meth:`import_status`.
        ``mapping``: column header → field (None: ignore the column)."""
        return self.post(
            "/imports",
            files={"file": (name, content, _mime(name))},
            data={
                "object": obj,
                "mapping": json.dumps(dict(mapping)),
                "duplicate_policy": duplicate_policy,
            },
        )

    def import_status(self, import_id: str) -> dict[str, Any]:
        return self.get(f"/imports/{import_id}")

    def import_rejects(self, import_id: str) -> bytes:
        return self.request("GET", f"/imports/{import_id}/rejects").content

    def imports(self, limit: int = 50) -> list[dict[str, Any]]:
        page = self.get("/imports", {"limit": str(limit)})
        return page if isinstance(page, list) else page.get("data", [])


def _mime(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".xlsx"):
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    if lower.endswith(".xls"):
        return "application/vnd.ms-excel"
    return "text/csv"
