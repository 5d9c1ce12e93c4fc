"""What every part of the tasks package shares: the statuses, the zone a task or member names,
offset-less times read in it, calendar vs exact shifts, reminder offsets, and the transaction's
own timestamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from warehouse.models.tasks import OPEN_STATUSES, TASK_STATUSES

OPEN = OPEN_STATUSES
DONE = tuple(s for s in TASK_STATUSES if s not in OPEN_STATUSES)
MAX_REMINDER = timedelta(weeks=4)
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, OSError, KeyError):
        return ZoneInfo("UTC")


def offset_delta(label: str) -> timedelta:
    """A reminder offset (``30m``, ``1h``, ``1d``, ``1w``) as a duration."""
    n, unit = int(label[:-1]), label[-1]
    return timedelta(weeks=n) if unit == "w" else n * _UNITS[unit]


def local_shift(moment: datetime, delta: timedelta, tz: ZoneInfo, *, calendar: bool) -> datetime:
    """``moment + delta``; a ``calendar`` shift (days/weeks) keeps the wall-clock time in
    ``tz`` across daylight-saving changes, an exact one adds elapsed time."""
    if not calendar:
        return (moment + delta).astimezone(UTC)
    local = moment.astimezone(tz).replace(tzinfo=None) + delta
    return local.replace(tzinfo=tz).astimezone(UTC)


def localize(value: datetime, tz: ZoneInfo) -> datetime:
    """An offset-less timestamp read in ``tz`` (a time skipped by DST moves forward)."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    return value.replace(tzinfo=tz).astimezone(UTC)


async def tx_now(conn: AsyncConnection) -> datetime:
    """The transaction's timestamp (``now()``), as every row written in it records (read
    once per transaction)."""
    tx = conn.get_transaction()
    cached = conn.info.get("leadly_tx_now")
    if cached is not None and tx is not None and cached[0] is tx:
        return cached[1]
    now = (await conn.execute(select(func.now()))).scalar_one()
    conn.info["leadly_tx_now"] = (tx, now)
    return now
