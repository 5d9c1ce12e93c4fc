"""Rich text members write (descriptions, comments): one sanitiser for what is stored and what
the dashboards render. nh3's safe tags and attributes, without ``img``: a remote image in a
description would load from every viewer's browser (a tracking pixel, or a GET to an intranet
address), so images are dropped, when stored and again when shown (for rows stored before)."""

from __future__ import annotations

import nh3

TAGS = frozenset(nh3.ALLOWED_TAGS) - {"img", "map", "area"}


def sanitize(html: str) -> str:
    return nh3.clean(html, tags=set(TAGS)).strip()
