"""Database errors a client caused (a unique or foreign key, a check) as problem documents."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from leadly.problem import Problem


def name_of(exc: DBAPIError) -> str:
    """The name of the constraint (or unique index) ``exc`` broke, or ``""``."""
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    return getattr(diag, "constraint_name", None) or ""


def _constraint_field(exc: DBAPIError) -> str | None:
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    name = name_of(exc)
    if name.startswith("fk_") and "_team_id_" in name:
        return name.rsplit("_team_id_", 1)[1]
    if name.startswith("cf_") and "__" in name:  # a custom field's expression index
        return name.split("__", 1)[1]
    if name.startswith("ck_"):
        return name.split("_", 2)[2] if name.count("_") >= 2 else None
    return getattr(diag, "column_name", None)


def db_problem(exc: DBAPIError) -> Problem | None:
    """A constraint violation that slipped past validation is the client's fault: 409/422."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    field = _constraint_field(exc)
    errors = [{"field": field, "message": "Not allowed here."}] if field else None
    if code == "23505":
        if field and name_of(exc).startswith("cf_"):
            return Problem(
                409,
                f"Another record already has this {field} (the field is unique).",
                title="Conflict",
                errors=[{"field": field, "message": "Already taken by another record."}],
            )
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
