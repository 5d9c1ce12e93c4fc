"""Strict JSON bodies: every bad field named at once, no silent coercion ("5" is not 5).

Litestar converts bodies leniently and stops at the first error, so the record routes validate
the raw body here first (as a ``before_request`` hook) and only then let Litestar parse it.
"""

from __future__ import annotations

import types
from datetime import UTC, date, datetime
from typing import Any, Union, get_args, get_origin

import msgspec

from api.common.guards import values_of
from leadly.problem import Problem, bad_param, msgspec_error_to_field, validation

_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def _without_unset(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = tuple(a for a in get_args(tp) if a is not msgspec.UnsetType)
        return Union[args] if len(args) > 1 else args[0]  # noqa: UP007
    return tp


def _join(prefix: str, sub: str) -> str:
    if sub in ("", "$"):
        return prefix
    return f"{prefix}{sub}" if sub.startswith("[") else f"{prefix}.{sub}"


def struct_errors(struct: type[msgspec.Struct], obj: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Every problem of ``obj`` as ``struct``: unknown, missing and invalid fields."""
    if not isinstance(obj, dict):
        got = _JSON_TYPES.get(type(obj), type(obj).__name__)
        return [{"field": prefix or "$", "message": f"Expected an object, got {got}."}]
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    errors: list[dict[str, Any]] = []
    if struct.__struct_config__.forbid_unknown_fields:
        errors += [
            {"field": _join(prefix, str(k)) if prefix else str(k), "message": "Unknown field."}
            for k in obj
            if k not in fields
        ]
    for name, f in fields.items():
        field = _join(prefix, name) if prefix else name
        if name not in obj:
            if f.required:
                errors.append({"field": field, "message": "This field is required."})
            continue
        try:
            msgspec.convert(obj[name], _without_unset(f.type))
        except msgspec.ValidationError as e:
            err = msgspec_error_to_field(str(e))
            errors.append({"field": _join(field, err["field"]), "message": err["message"]})
    return errors


MAX_DEPTH = 32


def value_errors(obj: Any, *, nul: bool = True) -> list[dict[str, Any]]:
    """What no field type allows anywhere in a JSON value: nesting deeper than ``MAX_DEPTH``
    and NUL characters (PostgreSQL stores neither); named by top-level field."""
    errors: dict[str, str] = {}
    stack: list[tuple[str, Any, int]] = (
        [(str(k), v, 1) for k, v in obj.items()] if isinstance(obj, dict) else [("$", obj, 0)]
    )
    nul_message = "Text cannot contain NUL characters."
    while stack:
        field, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            errors.setdefault(field, f"Nested deeper than {MAX_DEPTH} levels.")
        elif isinstance(value, dict):
            if nul and any("\x00" in str(k) for k in value):
                errors.setdefault(field, nul_message)
            stack.extend((field, v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((field, v, depth + 1) for v in value)
        elif nul and isinstance(value, str) and "\x00" in value:
            errors.setdefault(field, nul_message)
    return [{"field": f, "message": m} for f, m in sorted(errors.items())]


#: The dates and times the API accepts (Salesforce's range): any date arithmetic on them (shifts
#: of up to ten years, recurrences, reminders, time zones) stays inside what Python and the
#: database drivers represent (years 1 to 9999).
EARLIEST = datetime(1700, 1, 1, tzinfo=UTC)
LATEST = datetime(4001, 1, 1, tzinfo=UTC)
RANGE_MESSAGE = "Dates must fall between 1700-01-01 and 4000-12-31."


def in_range(value: date) -> bool:
    """Whether a date, or a datetime (in UTC; an offset-less one as if UTC), is accepted."""
    if isinstance(value, datetime):
        try:
            utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        except OverflowError:  # its UTC value is before year 1 or after 9999
            return False
        return EARLIEST <= utc < LATEST
    return EARLIEST.date() <= value < LATEST.date()


def range_errors(value: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Every date or datetime in a converted body (structs, lists, dicts) outside
    [EARLIEST, LATEST), named by its path."""
    errors: list[dict[str, Any]] = []
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        field, v = stack.pop()
        if isinstance(v, date):
            if not in_range(v):
                errors.append({"field": field or "$", "message": RANGE_MESSAGE})
        elif isinstance(v, msgspec.Struct):
            stack += [
                (_join(field, f.encode_name) if field else f.encode_name, getattr(v, f.name))
                for f in msgspec.structs.fields(v)
            ]
        elif isinstance(v, list | tuple):
            stack += [(f"{field}[{i}]", x) for i, x in enumerate(v)]
        elif isinstance(v, dict):
            stack += [(_join(field, str(k)) if field else str(k), x) for k, x in v.items()]
    return sorted(errors, key=lambda e: e["field"])


def convert_strict(
    struct: type[msgspec.Struct], obj: Any, prefix: str = "", *, nul: bool = True
) -> Any:
    """``obj`` (decoded JSON) as ``struct``, or a 422 naming every bad field.

    ``nul=False`` leaves NUL characters to a later, finer check (a batch judges each item)."""
    extra = value_errors(obj, nul=nul)
    if any("Nested" in e["message"] for e in extra):
        raise validation(extra, describe(extra))
    try:
        out = msgspec.convert(obj, struct)
        errors: list[dict[str, Any]] = range_errors(out, prefix)
    except msgspec.ValidationError as e:
        errors = struct_errors(struct, obj, prefix) or [msgspec_error_to_field(str(e))]
    named = {e["field"] for e in errors}
    errors += [e for e in extra if e["field"] not in named]
    if errors:
        raise validation(errors, describe(errors))
    return out


def describe(errors: list[dict[str, Any]]) -> str:
    fields = list(dict.fromkeys(str(e["field"]) for e in errors))
    return f"The request is not valid: check {', '.join(fields)}."


def decode_body(
    struct: type[msgspec.Struct], body: bytes, *, optional: bool = False, nul: bool = True
) -> Any:
    if not body.strip():
        if optional:
            return None
        raise bad_param("$", "This request needs a JSON body.", "The body is empty.")
    try:
        obj = msgspec.json.decode(body)
    except RecursionError:
        raise validation(
            [{"field": "$", "message": f"Nested deeper than {MAX_DEPTH} levels."}]
        ) from None
    except msgspec.DecodeError as e:
        raise Problem(400, f"The request body is not valid JSON: {e}.") from None
    except UnicodeDecodeError:  # invalid UTF-8 inside a string: msgspec raises it as is
        raise bad_param(
            "$", "The request body is not valid JSON: a string in it is not UTF-8.", "Not UTF-8."
        ) from None
    return convert_strict(struct, obj, nul=nul)


def decode_item(struct: type[msgspec.Struct], item: Any) -> dict[str, Any]:
    """One item of a batch (decoded JSON) as the fields it sets, or a 422 naming its bad fields."""
    return values_of(convert_strict(struct, item))
