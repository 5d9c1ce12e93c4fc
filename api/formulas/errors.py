"""The one error of the formula language: a message and where in the expression it applies."""

from __future__ import annotations

from typing import Any, NamedTuple

from leadly.problem import Problem, validation


class Position(NamedTuple):
    """Where in the expression: ``line`` and ``column`` count from 1, ``offset`` (characters from
    the start of the expression) from 0."""

    line: int
    column: int
    offset: int

    @classmethod
    def at(cls, text: str, offset: int) -> Position:
        """The position of character ``offset`` of ``text``."""
        offset = max(0, min(offset, len(text)))
        line = text.count("\n", 0, offset) + 1
        start = text.rfind("\n", 0, offset) + 1
        return cls(line, offset - start + 1, offset)


START = Position(1, 1, 0)


class FormulaError(ValueError):
    """A formula or validation rule that cannot be saved (or, for :func:`api.formulas.check`'s
    callers, a 422): ``message`` says what is wrong, ``position`` where."""

    def __init__(self, message: str, position: Position = START) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        p = self.position
        return f"{self.message} (line {p.line}, column {p.column})"

    def to_dict(self, field: str) -> dict[str, Any]:
        """The ``errors`` item naming the field the expression belongs to and the position."""
        p = self.position
        return {
            "field": field,
            "message": str(self),
            "line": p.line,
            "column": p.column,
            "offset": p.offset,
        }

    def problem(self, field: str) -> Problem:
        """The 422 problem document: ``detail`` and ``errors[0].message`` say the message and
        the position; ``errors[0]`` also carries ``line``, ``column`` and ``offset``."""
        return validation([self.to_dict(field)], detail=f"{field}: {self}")
