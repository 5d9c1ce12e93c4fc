"""The interface between the formula language and the objects it reads: an object's fields
(:class:`Field`) gathered in a :class:`Schema`, and the types an expression computes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from warehouse.models.custom import FORMULA_RETURN_TYPES

#: Field types of issue 14 (warehouse.models.custom.FIELD_TYPES, every one of them: a test
#: holds the two together) and the expression type a reference to such a field has.
FIELD_VALUE_TYPES: Mapping[str, str] = {
    "text": "text",
    "long_text": "text",
    "url": "text",
    "email": "text",
    "phone": "text",
    "picklist": "text",
    "auto_number": "text",
    "lookup": "text",  # the related record's id
    "integer": "number",
    "decimal": "number",
    "currency": "currency",
    "percent": "percent",
    "date": "date",
    "datetime": "datetime",
    "boolean": "boolean",
    "multi_picklist": "multi",
    "formula": "formula",  # the formula's return_type
}

#: A formula's declared ``return_type`` (the value list's one home is warehouse.models.custom).
RETURN_TYPES = FORMULA_RETURN_TYPES

NUMERIC = frozenset({"number", "currency", "percent"})
#: The type of the literal NULL: fits wherever a value goes.
NULL = "null"


@dataclass(frozen=True)
class Field:
    """One field of an object as formulas see it.

    ``type`` is one of the issue's field types (:data:`FIELD_VALUE_TYPES`); a ``lookup`` names
    its ``target`` object's api name; a ``formula`` carries its ``expression`` and
    ``return_type`` (other formulas that reference it compute it inline, so its value is always
    current and cycles are found)."""

    api_name: str
    type: str
    target: str | None = None
    expression: str | None = None
    return_type: str | None = None

    def __post_init__(self) -> None:
        if self.type not in FIELD_VALUE_TYPES:
            raise ValueError(f"unknown field type {self.type!r}")
        if self.type == "lookup" and not self.target:
            raise ValueError(f"lookup field {self.api_name!r} names no target object")
        if self.type == "formula" and (
            self.expression is None or self.return_type not in RETURN_TYPES
        ):
            raise ValueError(f"formula field {self.api_name!r} needs an expression and return type")

    @property
    def value_type(self) -> str:
        """The expression type of a reference to this field."""
        if self.type == "formula":
            return str(self.return_type)
        return FIELD_VALUE_TYPES[self.type]


Related = Mapping[str, "Schema"] | Callable[[str], "Schema | None"]


@dataclass(frozen=True)
class Schema:
    """An object's fields (``api_name`` → :class:`Field`), and how to find the schema of the
    object a lookup points at: ``related`` maps (or is called with) a target object's api name
    and answers its schema (``None``: unknown). Schemas of related objects find theirs the same
    way, so ``client.account.industry`` resolves over two hops."""

    object: str
    fields: Mapping[str, Field]
    related: Related = field(default_factory=dict)

    @classmethod
    def of(cls, object: str, fields: Iterable[Field], related: Related | None = None) -> Schema:
        return cls(object, {f.api_name: f for f in fields}, related if related is not None else {})

    def target(self, lookup: Field) -> Schema | None:
        """The schema of the object ``lookup`` points at."""
        name = str(lookup.target)
        if callable(self.related):
            return self.related(name)
        return self.related.get(name)
