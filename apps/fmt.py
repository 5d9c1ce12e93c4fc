"""The one place the workspace formats what it shows: labels for keys, people's and records'
names, money, numbers, dates and times in the member's zone, and the links to a record's page.

Pure functions (no Streamlit, no API calls) so every page shows the same thing the same way and
the unit tests pin it down::

    fmt.label("expected_close_date")         # "Expected close date"
    fmt.money("1234567.5", "USD")            # "$1,234,567.50"
    fmt.money("1234567.5", "USD", compact=True)  # "$1.23M"
    fmt.when("2026-12-08T15:00:00Z", "America/Chicago")  # "Tue 08 Dec 2026 09:00"
    fmt.record_url("deal_01J...")            # "/Record?id=deal_01J..."
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

DASH = "—"
#: The record page's URL path (``st.navigation`` names it after ``pages/5_Record.py``).
RECORD_PATH = "/Record"

#: Keys whose words are not just the key with spaces.
LABELS: dict[str, str] = {
    "id": "ID",
    "mrr": "MRR",
    "arr": "ARR",
    "one_off": "One-off",
    "url": "URL",
    "recording_url": "Recording URL",
    "website_score": "Website score",
    "is_rotting": "Rotting",
    "days_in_stage": "Days in stage",
    "weighted_value": "Weighted value",
    "value_type": "Value type",
    "in_progress": "In progress",
    "best_case": "Best case",
    "cold_call": "Cold call",
    "call_logs": "Call logs",
    "call_log": "Call log",
}

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CAD": "CA$"}
_COMPACT = ((Decimal(10) ** 12, "T"), (Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"),
            (Decimal(10) ** 3, "K"))  # fmt: skip


def label(key: str | None) -> str:
    """Words for a field name, a value key or an object name: ``owner_id`` → "Owner",
    ``win_reason`` → "Win reason", ``in_progress`` → "In progress"."""
    if key is None or key == "":
        return DASH
    key = str(key)
    if key in LABELS:
        return LABELS[key]
    base = key[:-3] if key.endswith("_id") and key != "_id" else key
    if base in LABELS:
        return LABELS[base]
    words = base.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else DASH


def person(row: Mapping[str, Any]) -> str:
    """A person's name (first and last, else the email, else the phone)."""
    full = " ".join(str(row[k]).strip() for k in ("first_name", "last_name") if row.get(k))
    return full or str(row.get("email") or row.get("phone_number") or row.get("phone") or "")


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def number(value: Any, places: int = 0, *, compact: bool = False) -> str:
    """``1234567`` → "1,234,567" (``compact``: "1.23M"); None → "—"."""
    amount = _decimal(value)
    if amount is None:
        return DASH
    if compact:
        return ("-" if amount < 0 else "") + _compact(amount)
    return f"{amount:,.{places}f}"


def money(value: Any, currency: str | None = "", *, compact: bool = False) -> str:
    """An amount with its currency: "$1,234.50", "1,234.50 CHF"; ``compact`` (KPI cards):
    "$1.23M". None → "—"."""
    amount = _decimal(value)
    if amount is None:
        return DASH
    code = (currency or "").upper()
    text = _compact(amount) if compact else f"{abs(amount):,.2f}"
    sign = "-" if amount < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{text}"
    return f"{sign}{text} {code}".strip()


def kpi(value: Any, currency: str | None = "") -> str:
    """An amount for a KPI card, short enough never to be cut off: exact up to 99,999.99,
    compact beyond ("1.23M"); the full amount goes in the card's help."""
    amount = _decimal(value)
    if amount is None:
        return DASH
    return money(amount, currency, compact=abs(amount) >= 100_000)


def _compact(amount: Decimal) -> str:
    amount = abs(amount)
    for size, suffix in _COMPACT:
        if amount >= size:
            scaled = amount / size
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{scaled:,.{digits}f}{suffix}"
    return f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def percent(value: Any, places: int = 0) -> str:
    """``0.25`` → "25%"."""
    amount = _decimal(value)
    return DASH if amount is None else f"{amount * 100:,.{places}f}%"


def zone_of(name: str | None) -> ZoneInfo:
    with contextlib.suppress(KeyError, ValueError, TypeError):
        return ZoneInfo(name or "UTC")
    return ZoneInfo("UTC")


def moment(value: Any) -> dt.datetime | None:
    """An API timestamp (ISO 8601 text or a datetime) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def when(value: Any, zone: str | None = "UTC", *, seconds: bool = False) -> str:
    """A timestamp in the member's zone: "Tue 08 Dec 2026 09:00"; None → "—"."""
    at = moment(value)
    if at is None:
        return DASH if value in (None, "") else str(value)
    local = at.astimezone(zone_of(zone))
    return local.strftime("%a %d %b %Y %H:%M" + (":%S" if seconds else ""))


def day(value: Any, *, short: bool = False) -> str:
    """A date: "Tue 08 Dec 2026" (``short``: "08 Dec 2026"; an ISO date, a date, or a
    timestamp's UTC day)."""
    if value is None or value == "":
        return DASH
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    return value.strftime("%d %b %Y" if short else "%a %d %b %Y")


def month(value: Any) -> str:
    """A month: "Dec 2026"."""
    if value is None or value == "":
        return DASH
    try:
        return dt.date.fromisoformat(str(value)[:10]).strftime("%b %Y")
    except ValueError:
        return str(value)


def duration(seconds: Any) -> str:
    """``754`` → "12 min 34 s"; ``3725`` → "1 h 2 min"."""
    try:
        total = int(seconds or 0)
    except (TypeError, ValueError):
        return DASH
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m} min"
    return f"{m} min {s} s" if m else f"{s} s"


def record_url(record_id: str, **params: str) -> str:
    """The record page's URL for ``record_id`` (its prefix says which object it is)."""
    extra = "".join(f"&{quote(k)}={quote(str(v))}" for k, v in params.items())
    return f"{RECORD_PATH}?id={quote(record_id)}{extra}"


def link(name: str | None, record_id: str | None) -> str:
    """A Markdown link opening the record's page, labelled with its name."""
    if not record_id:
        return escape_md(name or DASH)
    return f"[{escape_md(name or record_id)}]({record_url(record_id)})"


def escape_md(text: str) -> str:
    """Text shown as itself inside Markdown (brackets, stars and the like escaped)."""
    out = []
    for ch in str(text):
        out.append("\\" + ch if ch in "\\`*_[]<>|~$" else ch)
    return "".join(out)


def value(v: Any, kind: str = "text", *, zone: str | None = "UTC", currency: str = "") -> str:
    """Any field's value for display by its kind (``text``, ``choice``, ``money``, ``number``,
    ``percent``, ``date``, ``datetime``, ``bool``, ``duration``)."""
    if v is None or v == "":
        return DASH
    if kind == "money":
        return money(v, currency)
    if kind == "number":
        return number(v, 2 if isinstance(v, float) and not v.is_integer() else 0)
    if kind == "percent":
        return f"{v}%"
    if kind == "date":
        return day(v)
    if kind == "datetime":
        return when(v, zone)
    if kind == "bool":
        return "Yes" if v else "No"
    if kind == "duration":
        return duration(v)
    if kind == "choice":
        return label(str(v))
    if isinstance(v, list | tuple):
        return ", ".join(str(x) for x in v) or DASH
    return str(v)
