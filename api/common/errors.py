"""RFC 9457 problem documents and the exception handlers that produce them.

Every error the API returns is ``application/problem+json`` with ``type``, ``title``,
``status`` and ``detail``; validation problems add ``errors: [{field, message}]``.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import ClientException
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("leadly.api")

PROBLEM = "application/problem+json"


class Problem(Exception):
    """Raise anywhere below a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://leadly.dev/problems/{self.title.lower().replace(' ', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def not_found(object_type: str, object_id: str) -> Problem:
    return Problem(404, f"No {object_type} with id {object_id!r}.")


def validation(errors: list[dict[str, Any]], detail: str = "The request is not valid.") -> Problem:
    return Problem(422, detail, title="Unprocessable Content", errors=errors)


def problem_response(p: Problem, request: Request | None = None) -> Response:
    return Response(
        content=msgspec.json.encode(p.to_dict(request.url.path if request else None)),
        status_code=p.status,
        media_type=PROBLEM,
        headers=p.headers,
    )


_MSGSPEC_PATH = re.compile(r" - at `\$\.?([^`]*)`$")


def msgspec_error_to_field(message: str) -> dict[str, Any]:
    """``Expected `int`, got `str` - at `$.items[0].rating``` → {field, message}."""
    m = _MSGSPEC_PATH.search(message)
    field = m.group(1) if m else None
    text = _MSGSPEC_PATH.sub("", message)
    if text.startswith("Object contains unknown field"):
        field = field or text.split("`")[1]
        text = "Unknown field."
    elif text.startswith("Object missing required field"):
        missing = text.split("`")[1]
        field = f"{field}.{missing}" if field else missing
        text = "This field is required."
    return {"field": field or "$", "message": text}


def _handle_problem(request: Request, exc: Problem) -> Response:
    return problem_response(exc, request)


def _handle_validation(request: Request, exc: ValidationException) -> Response:
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors: list[dict[str, Any]] = []
    for item in extra:
        if isinstance(item, dict):
            msg = str(item.get("message", ""))
            key = item.get("key")
            err = msgspec_error_to_field(msg)
            if key and err["field"] == "$":
                err["field"] = key
            errors.append(err)
    detail = str(exc.detail or "")
    if "Malformed" in detail or "JSON is malformed" in detail or "decode" in detail.lower():
        return problem_response(Problem(400, "The request body is not valid JSON."), request)
    if not errors:
        return problem_response(Problem(400, detail or "Bad request."), request)
    return problem_response(validation(errors), request)


def _handle_http(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    detail = str(exc.detail) if exc.detail else HTTPStatus(status).phrase
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="leadly"')
    return problem_response(Problem(status, detail, headers=headers), request)


def _constraint_field(exc: DBAPIError) -> str | None:
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    name = getattr(diag, "constraint_name", None) or ""
    if name.startswith("fk_") and "_team_id_" in name:
        return name.rsplit("_team_id_", 1)[1]
    if name.startswith("ck_"):
        return name.split("_", 2)[2] if name.count("_") >= 2 else None
    return getattr(diag, "column_name", None)


def db_problem(exc: DBAPIError) -> Problem | None:
    """A constraint violation that slipped past validation is the client's fault: 409/422."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    field = _constraint_field(exc)
    errors = [{"field": field, "message": "Not allowed here."}] if field else None
    if code == "23505":
        return Problem(409, "A record with the same unique value already exists.", title="Conflict")
    if code == "23503":
        errs = [{"field": field, "message": "No such record in your team."}] if field else None
        return Problem(
            422,
            f"{field or 'A reference'} points to a record that does not exist.",
            title="Unprocessable Content",
            errors=errs,
        )
    if not code and "NUL" in str(getattr(exc, "orig", "")):  # psycopg refuses before sending
        return Problem(
            422, "Text cannot contain NUL characters.", title="Unprocessable Content", errors=errors
        )
    if code.startswith("23") or code.startswith("22"):
        return Problem(
            422,
            "The values break a rule of the record.",
            title="Unprocessable Content",
            errors=errors,
        )
    return None


def _handle_db(request: Request, exc: DBAPIError) -> Response:
    p = db_problem(exc)
    if p is None:
        code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
        log.exception("database error", exc_info=exc)
        p = Problem(
            503 if code.startswith("08") or code in ("40001", "40P01") else 500,
            "The database could not complete the request.",
        )
    return problem_response(p, request)


def _handle_any(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(Problem(500, "An unexpected error occurred."), request)


exception_handlers: dict[Any, Any] = {
    Problem: _handle_problem,
    ValidationException: _handle_validation,
    ClientException: _handle_http,
    NotAuthorizedException: _handle_http,
    PermissionDeniedException: _handle_http,
    HTTPException: _handle_http,
    DBAPIError: _handle_db,
    Exception: _handle_any,
}

__all__ = [
    "PROBLEM",
    "MediaType",
    "Problem",
    "exception_handlers",
    "not_found",
    "problem_response",
    "validation",
]
