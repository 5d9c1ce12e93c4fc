"""The exception handlers that answer every error as an RFC 9457 problem document.

Every error the API returns is ``application/problem+json`` with ``type``, ``title``,
``status`` and ``detail``; validation problems add ``errors: [{field, message}]``.
"""

from __future__ import annotations

import logging
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

from leadly.problem import Problem, msgspec_error_to_field, validation
from warehouse.errors import db_problem

log = logging.getLogger("leadly.api")

PROBLEM = "application/problem+json"


def problem_response(p: Problem, request: Request | None = None) -> Response:
    return Response(
        content=msgspec.json.encode(p.to_dict(request.url.path if request else None)),
        status_code=p.status,
        media_type=PROBLEM,
        headers=p.headers,
    )


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
    "exception_handlers",
    "problem_response",
]
