"""The time zones a member, a task or a preference may name: the IANA zone database's names."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from leadly.problem import validation

#: Names the zone database holds that are not zones to choose: this host's own zone (a link
#: that differs from host to host) and the placeholder zones.
NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - NOT_ZONES


def check_time_zone(tz: str, field: str = "time_zone") -> str:
    """``tz`` when it names an IANA zone, else a 422 naming ``field``. Membership in the zone
    database, not ``ZoneInfo(tz)``: that opens a file named by the client and raises OSError
    for "Europe" (a folder) or very long names."""
    if tz not in time_zones():
        raise validation([{"field": field, "message": f"Unknown IANA time zone {tz[:64]!r}."}])
    return tz
