"""Secrets in URLs stay out of the access log: calendar-feed tokens (``/calendar-feeds/ics/<token>``)
and socket tickets or tokens in query strings are logged as ``[redacted]``."""

from __future__ import annotations

import logging
import re

_PATH_SECRET = re.compile(r"(/calendar-feeds/ics/)[^/?\s]+")
_QUERY_SECRET = re.compile(r"([?&](?:ticket|token|access_token)=)[^&\s]*", re.IGNORECASE)


def redact(url: str) -> str:
    return _QUERY_SECRET.sub(r"\1[redacted]", _PATH_SECRET.sub(r"\1[redacted]", url))


class RedactSecrets(logging.Filter):
    """For ``uvicorn.access``: its records carry the path as the third argument."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def install() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
