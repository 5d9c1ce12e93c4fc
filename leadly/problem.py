"""RFC 9457 problem documents, framework-free: raise :class:`Problem` anywhere (services, jobs,
ingestion); the HTTP layer (``api.web.errors``) turns it into ``application/problem+json``."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any


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


def bad_param(field: str, detail: str, message: str) -> Problem:
    """A 400 about one part of the request, ``field`` (a parameter, a header; ``$``: the
    body): ``detail`` says what is wrong and what is accepted, ``message`` is the short entry
    of ``errors``."""
    return Problem(400, detail, errors=[{"field": field, "message": message}])


def validation(errors: list[dict[str, Any]], detail: str = "The request is not valid.") -> Problem:
    return Problem(422, detail, title="Unprocessable Content", errors=errors)


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
