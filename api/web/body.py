"""Reading a request's JSON body strictly: 415 for a body labelled as something else, then
:func:`api.common.validate.decode_body` (400/422 naming the fields)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request

from api.common.guards import require_role, require_scope
from api.common.validate import decode_body
from leadly.problem import Problem


def check_json_media_type(content_type: str | None) -> None:
    """A body labelled as anything but JSON (``application/json``, ``application/*+json``) is a
    415: a form or plain text is not read as JSON. An unlabelled body is read as JSON."""
    if content_type is None:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise Problem(
        415,
        f"Send the body as application/json, not {media[:100]!r}.",
        errors=[{"field": "Content-Type", "message": "Expected application/json."}],
    )


async def read_body(
    request: Request, struct: type[msgspec.Struct], *, optional: bool = False, nul: bool = True
) -> Any:
    """The request's JSON body as ``struct`` (415 when labelled as something else, 400/422 as
    :func:`decode_body` says)."""
    body = await request.body()
    if body.strip():
        check_json_media_type(request.headers.get("content-type"))
    return decode_body(struct, body, optional=optional, nul=nul)


def strict_body(
    struct: type[msgspec.Struct],
    *,
    optional: bool = False,
    writes: tuple[str, ...] = (),
    nul: bool = True,
) -> Callable[[Request], Awaitable[None]]:
    """A ``before_request`` hook that refuses a body that is not exactly ``struct``.

    ``writes`` names the resources the route writes: who may not write them gets 403 before
    their body is looked at (a guest learns nothing from validation errors)."""

    async def check_body(request: Request) -> None:
        if writes:
            actor = request.user
            for scope in writes:
                require_scope(actor, f"{scope}:write")
            require_role(actor, "user")
        await read_body(request, struct, optional=optional, nul=nul)

    return check_body
