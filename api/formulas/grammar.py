"""The grammar of the formula language (lark, LALR) and its syntax tree.

Precedence, loosest first: comparison (``= == != <> < <= > >=``, not chained), ``&``, ``+ -``,
``* /``, unary ``- +``, ``^`` (right-associative; ``-2^2`` is -4). The tree is built while
parsing (lark's LALR callbacks), never by recursion, and its depth is measured as it grows, so
hostile input (a 100,000-character string, 5,000 nested parentheses) is a
:class:`~api.formulas.errors.FormulaError`, never a RecursionError or a hang."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from api.formulas.errors import FormulaError, Position

#: Salesforce's limit on a formula's length, in characters.
MAX_LENGTH = 3900
#: How deeply expressions may nest (parentheses, function calls, operators), formulas that
#: reference other formulas included.
MAX_DEPTH = 100

GRAMMAR = r"""
?start: comparison
?comparison: concat
    | concat COMPARE concat -> binary
?concat: sum
    | concat AMP sum -> binary
?sum: product
    | sum ADD product -> binary
?product: unary
    | product MUL unary -> binary
?unary: power
    | ADD unary -> unary
?power: atom
    | atom POW unary -> binary
?atom: NUMBER -> number
    | STRING -> string
    | NAME LPAR [comparison (COMMA comparison)*] RPAR -> call
    | NAME (DOT NAME)* -> ref
    | LPAR comparison RPAR -> group

COMPARE: "==" | "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
AMP: "&"
ADD: "+" | "-"
MUL: "*" | "/"
POW: "^"
LPAR: "("
RPAR: ")"
COMMA: ","
DOT: "."
NUMBER: /\d+(\.\d*)?|\.\d+/
STRING: /"(\\.|[^"\\])*"|'(\\.|[^'\\])*'/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%ignore /[ \t\r\n]+/
"""


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the syntax tree. ``kind``: ``lit`` (``value`` a Decimal, str, bool or None),
    ``ref`` (``path``: names joined by dots), ``call`` (``value``: the function name in upper
    case), ``unary`` / ``binary`` (``value``: the operator, ``=`` for ``==`` and ``!=`` for
    ``<>``)."""

    kind: str
    pos: Position
    value: Any = None
    args: tuple[Node, ...] = ()
    path: tuple[str, ...] = ()
    depth: int = 1


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_KEYWORDS = {"TRUE": True, "FALSE": False, "NULL": None}
_OPERATORS = {"==": "=", "<>": "!="}


def _pos(token: Token) -> Position:
    return Position(token.line or 1, token.column or 1, token.start_pos or 0)


def _node(kind: str, pos: Position, value: Any = None, args: tuple[Node, ...] = (), **kw) -> Node:
    depth = 1 + max((a.depth for a in args), default=0)
    if depth > MAX_DEPTH:
        raise FormulaError(f"The expression nests deeper than {MAX_DEPTH} levels.", pos)
    return Node(kind, pos, value, args, depth=depth, **kw)


def _unescape(body: str) -> str:
    out: list[str] = []
    chars = iter(body)
    for c in chars:
        if c == "\\":
            nxt = next(chars, "")
            out.append(_ESCAPES.get(nxt, nxt))
        else:
            out.append(c)
    return "".join(out)


class _Build(Transformer):
    """LALR callbacks: each builds its :class:`Node` as the parser reduces."""

    def number(self, children: list[Token]) -> Node:
        (tok,) = children
        return _node("lit", _pos(tok), Decimal(str(tok)))

    def string(self, children: list[Token]) -> Node:
        (tok,) = children
        if "\x00" in tok:
            raise FormulaError("Text cannot hold the NUL character.", _pos(tok))
        return _node("lit", _pos(tok), _unescape(str(tok)[1:-1]))

    def ref(self, children: list[Token]) -> Node:
        names = tuple(str(t) for t in children if t.type == "NAME")
        if len(names) == 1 and names[0].upper() in _KEYWORDS:
            return _node("lit", _pos(children[0]), _KEYWORDS[names[0].upper()])
        return _node("ref", _pos(children[0]), path=names)

    def call(self, children: list[Any]) -> Node:
        name = children[0]
        args = tuple(c for c in children[2:-1] if isinstance(c, Node))
        return _node("call", _pos(name), str(name).upper(), args)

    def unary(self, children: list[Any]) -> Node:
        op, operand = children
        return _node("unary", _pos(op), str(op), (operand,))

    def binary(self, children: list[Any]) -> Node:
        left, op, right = children
        return _node("binary", _pos(op), _OPERATORS.get(str(op), str(op)), (left, right))

    def group(self, children: list[Any]) -> Node:
        inner = children[1]
        # Parentheses count towards the depth: a wall of them is what hostile input looks like.
        if inner.depth >= MAX_DEPTH:
            raise FormulaError(f"The expression nests deeper than {MAX_DEPTH} levels.", inner.pos)
        return replace(inner, depth=inner.depth + 1)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", transformer=_Build(), maybe_placeholders=False)


def _syntax_error(text: str, e: UnexpectedInput) -> FormulaError:
    pos = Position.at(text, e.pos_in_stream if e.pos_in_stream is not None else len(text))
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        return FormulaError("The expression ends too soon.", Position.at(text, len(text)))
    if isinstance(e, UnexpectedCharacters):
        char = text[pos.offset] if pos.offset < len(text) else ""
        if char in "\"'":
            return FormulaError("A string is not closed.", pos)
        return FormulaError(f"Unexpected character {char!r}.", pos)
    token = e.token if isinstance(e, UnexpectedToken) else None
    shown = str(token)[:40] if token is not None else ""
    return FormulaError(f"Syntax error: unexpected {shown!r}.", pos)


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """The syntax tree of ``text``, or a :class:`FormulaError` naming where it goes wrong."""
    if len(text) > MAX_LENGTH:
        raise FormulaError(
            f"The expression is {len(text)} characters long; the limit is {MAX_LENGTH}.",
            Position.at(text, MAX_LENGTH),
        )
    if not text.strip():
        raise FormulaError("The expression is empty.")
    try:
        return _parser().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(text, e) from None
