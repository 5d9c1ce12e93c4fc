"""The type checker: run when a formula or validation rule is saved. It resolves every field
reference (across lookups, and through other formula fields, which it computes inline), gives
every node of the tree its type and answers a :class:`Checked` expression, or raises one
:class:`~api.formulas.errors.FormulaError` naming the position of the first problem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from api.formulas.errors import FormulaError, Position
from api.formulas.grammar import MAX_DEPTH, Node, parse
from api.formulas.schema import NULL, NUMERIC, RETURN_TYPES, Field, Schema

#: How many nodes an expression may have once the formulas it references are computed inline
#: (formulas referencing formulas twice over grow geometrically).
MAX_NODES = 20_000
#: How many times the SQL of ``x ^ y`` repeats x and y (its guards read them).
POWER_COPIES = 5

#: Names of the types in messages.
_SHOWN = {"multi": "multi-select picklist", NULL: "NULL"}
_COMPARABLE = ("number", "text", "date", "datetime", "boolean")


@dataclass(frozen=True, slots=True)
class Ref:
    """A field a tree reads: ``path`` the lookup fields walked from the record (empty for its
    own fields), ``objects`` the object each of them points at, then ``field`` of type
    ``field_type`` on the last."""

    path: tuple[str, ...]
    objects: tuple[str, ...]
    field: str
    field_type: str

    @property
    def dotted(self) -> str:
        return ".".join((*self.path, self.field))


@dataclass(frozen=True, slots=True)
class Typed:
    """A checked node. ``kind``: ``lit`` (``value``), ``field`` (``ref``), ``call`` (``value``
    the function's name), ``unary`` / ``binary`` (``value`` the operator). ``type``: text,
    number, currency, percent, date, datetime, boolean, multi or null."""

    kind: str
    type: str
    pos: Position
    value: Any = None
    args: tuple[Typed, ...] = ()
    ref: Ref | None = None
    depth: int = 1
    weight: int = 1


@dataclass(frozen=True)
class Checked:
    """A type-checked expression, ready for :func:`~api.formulas.evaluate` and
    :func:`~api.formulas.to_sql`. ``type`` is the result type (the declared return type when one
    was given); ``references`` the dotted paths of every field read, through lookups and other
    formulas (what a change must recompute)."""

    expression: str
    tree: Typed
    type: str
    references: frozenset[str]
    rule: bool = False
    _compiled: list[Callable[..., Any]] = field(default_factory=list, repr=False, compare=False)


def _shown(t: str) -> str:
    return _SHOWN.get(t, t)


def _family(t: str) -> str:
    return "number" if t in NUMERIC else t


def unify(a: str, b: str) -> str | None:
    """The type of a value that is either an ``a`` or a ``b`` (IF's branches), or None."""
    if a == NULL:
        return b
    if b == NULL or a == b:
        return a
    if a in NUMERIC and b in NUMERIC:
        return "number"
    return None


def _arithmetic(a: str, b: str) -> str:
    if NULL in (a, b):
        return "number" if a == b else (b if a == NULL else a)
    if "currency" in (a, b):
        return "currency"
    return "percent" if a == b == "percent" else "number"


def compatible(result: str, declared: str) -> bool:
    """Whether a formula computing ``result`` may be declared as returning ``declared``."""
    return result == NULL or _family(result) == _family(declared)


class _Checker:
    def __init__(self, rule: bool, own: tuple[str, str] | None) -> None:
        self.rule = rule
        self.stack: list[tuple[str, str]] = [own] if own else []
        self.nodes = 0
        self.references: set[str] = set()

    def typed(
        self,
        kind: str,
        type: str,
        pos: Position,
        value: Any = None,
        args: tuple[Typed, ...] = (),
        ref: Ref | None = None,
    ) -> Typed:
        self.nodes += 1
        # The weight counts the SQL a node compiles to (a power repeats its operands).
        weight = 1 + sum(a.weight for a in args) * (POWER_COPIES if value == "^" else 1)
        if self.nodes > MAX_NODES or weight > MAX_NODES:
            raise FormulaError(
                f"The expression is too large once the formulas it uses are included "
                f"(over {MAX_NODES} parts).",
                pos,
            )
        depth = 1 + max((a.depth for a in args), default=0)
        if depth > MAX_DEPTH:
            raise FormulaError(
                f"The expression nests deeper than {MAX_DEPTH} levels once the formulas it "
                f"uses are included.",
                pos,
            )
        return Typed(kind, type, pos, value, args, ref, depth, weight)

    # -- nodes ----------------------------------------------------------------------------
    def node(self, n: Node, schema: Schema, prefix: tuple[tuple[str, str], ...]) -> Typed:
        if n.kind == "lit":
            v = n.value
            t = (
                NULL
                if v is None
                else "boolean"
                if isinstance(v, bool)
                else ("text" if isinstance(v, str) else "number")
            )
            return self.typed("lit", t, n.pos, v)
        if n.kind == "ref":
            return self.ref(n, schema, prefix)
        args = (
            tuple(self.node(a, schema, prefix) for a in n.args)
            if n.value not in ("ISCHANGED", "PRIORVALUE")
            else ()
        )
        if n.kind == "unary":
            (x,) = args
            self.expect(x, NUMERIC, f"unary {n.value}")
            t = self.typed("unary", "number" if x.type == NULL else x.type, n.pos, n.value, args)
        elif n.kind == "binary":
            t = self.binary(n, args)
        else:
            t = self.call(n, args, schema, prefix)
        return settle(t)

    def expect(self, x: Typed, allowed: frozenset[str] | set[str], what: str) -> None:
        if x.type != NULL and x.type not in allowed:
            names = " or ".join(sorted(_shown(a) for a in allowed))
            raise FormulaError(f"{what} takes {names}, not {_shown(x.type)}.", x.pos)

    def binary(self, n: Node, args: tuple[Typed, ...]) -> Typed:
        op = n.value
        a, b = args
        ta, tb = a.type, b.type
        if op == "&":
            for x in args:
                self.expect(x, {"text"}, "&")
            return self.typed("binary", "text", n.pos, op, args)
        if op in ("=", "!=", "<", "<=", ">", ">="):
            if NULL in (ta, tb):
                raise FormulaError(
                    "A comparison with NULL is always null: use ISBLANK() instead.", n.pos
                )
            fa, fb = _family(ta), _family(tb)
            if fa != fb or fa not in _COMPARABLE:
                raise FormulaError(f"Cannot compare {_shown(ta)} with {_shown(tb)}.", n.pos)
            if fa == "boolean" and op not in ("=", "!="):
                raise FormulaError(f"Booleans cannot be compared with {op}.", n.pos)
            return self.typed("binary", "boolean", n.pos, op, args)
        fa, fb = _family(ta), _family(tb)
        if op in ("+", "-"):
            if fa in ("number", NULL) and fb in ("number", NULL):
                return self.typed("binary", _arithmetic(ta, tb), n.pos, op, args)
            if fa in ("date", "datetime") and fb in ("number", NULL):
                return self.typed("binary", fa, n.pos, op, args)
            if op == "+" and fb in ("date", "datetime") and fa == "number":
                return self.typed("binary", fb, n.pos, op, (b, a))
            if op == "-" and fa == fb and fa in ("date", "datetime"):
                return self.typed("binary", "number", n.pos, op, args)
            hint = " (use & to join text)" if "text" in (fa, fb) and op == "+" else ""
            raise FormulaError(f"Cannot apply {op} to {_shown(ta)} and {_shown(tb)}{hint}.", n.pos)
        for x in args:
            self.expect(x, NUMERIC, op)
        return self.typed("binary", _arithmetic(ta, tb), n.pos, op, args)

    def ref(self, n: Node, schema: Schema, prefix: tuple[tuple[str, str], ...]) -> Typed:
        *hops, name = n.path
        path = list(prefix)
        current = schema
        for hop in hops:
            f = current.fields.get(hop)
            if f is None:
                raise FormulaError(f"Unknown field {hop!r} on {current.object}.", n.pos)
            if f.type != "lookup":
                raise FormulaError(
                    f"{hop!r} is not a lookup: cannot read {'.'.join(n.path)!r}.", n.pos
                )
            target = current.target(f)
            if target is None:
                raise FormulaError(f"Unknown object {f.target!r} (the target of {hop!r}).", n.pos)
            path.append((hop, target.object))
            current = target
        f = current.fields.get(name)
        if f is None:
            raise FormulaError(f"Unknown field {name!r} on {current.object}.", n.pos)
        if f.type == "formula":
            return self.inline(n, f, current, tuple(path))
        ref = Ref(tuple(p for p, _ in path), tuple(o for _, o in path), name, f.type)
        self.references.add(ref.dotted)
        return self.typed("field", f.value_type, n.pos, None, (), ref)

    def inline(self, n: Node, f: Field, schema: Schema, path: tuple[tuple[str, str], ...]) -> Typed:
        key = (schema.object, f.api_name)
        dotted = ".".join((*(p for p, _ in path), f.api_name))
        if key in self.stack:
            cycle = " → ".join(k[1] for k in (*self.stack[self.stack.index(key) :], key))
            raise FormulaError(f"Formulas refer to each other in a cycle: {cycle}.", n.pos)
        self.references.add(dotted)
        self.stack.append(key)
        try:
            tree = self.node(parse(str(f.expression)), schema, path)
        except FormulaError as e:
            if getattr(e, "outer", False):
                raise
            err = FormulaError(f"Formula field {dotted!r} cannot be computed: {e.message}", n.pos)
            err.outer = True  # type: ignore[attr-defined]
            raise err from None
        finally:
            self.stack.pop()
        declared = str(f.return_type)
        if not compatible(tree.type, declared):
            raise FormulaError(
                f"Formula field {dotted!r} computes {_shown(tree.type)}, not {declared}.", n.pos
            )
        return replace(tree, type=declared) if tree.type != NULL else retype(tree, declared)

    # -- functions ------------------------------------------------------------------------
    def call(
        self, n: Node, args: tuple[Typed, ...], schema: Schema, prefix: tuple[tuple[str, str], ...]
    ) -> Typed:
        spec = FUNCTIONS.get(n.value)
        if spec is None:
            raise FormulaError(f"Unknown function {n.value}().", n.pos)
        low, high, rule_only, result = spec
        count = len(n.args)
        if count < low or (high is not None and count > high):
            want = (
                f"{low}"
                if low == high
                else f"{low} to {high}"
                if high is not None
                else f"at least {low}"
            )
            raise FormulaError(
                f"{n.value}() takes {want} argument{'s' * (want != '1')}, not {count}.", n.pos
            )
        if rule_only and not self.rule:
            raise FormulaError(f"{n.value}() is only for validation rules.", n.pos)
        if n.value in ("ISCHANGED", "PRIORVALUE"):
            (arg,) = n.args
            if arg.kind != "ref" or len(arg.path) != 1:
                raise FormulaError(f"{n.value}() takes a field of the record itself.", arg.pos)
            f = schema.fields.get(arg.path[0])
            if f is not None and f.type == "formula":
                raise FormulaError(f"{n.value}() cannot read a formula field.", arg.pos)
            args = (self.ref(arg, schema, prefix),)
        type_ = result(self, n, args)
        return self.typed("call", type_, n.pos, n.value, args)


def retype(node: Typed, t: str) -> Typed:
    """``node``, of type null (the literal NULL, or IF/CASE/BLANKVALUE of nothing but NULL),
    as a null of type ``t``: the SQL compiler casts it (PostgreSQL cannot add two unknowns)."""
    if node.type != NULL or t == NULL:
        return node
    if node.kind == "lit":
        return replace(node, type=t)
    first = {"IF": 1, "CASE": 0, "BLANKVALUE": 0}[node.value]
    args = list(node.args)
    results = range(first, len(args)) if node.value != "CASE" else (*range(2, len(args), 2), -1)
    for i in results:
        args[i] = retype(args[i], t)
    return replace(node, type=t, args=tuple(args))


def _params(node: Typed) -> list[str | None]:
    """The type each argument of ``node`` stands for (None: any), to settle nulls."""
    t = node.type
    if node.kind == "unary":
        return ["number"]
    if node.kind == "binary":
        if node.value == "&":
            return ["text", "text"]
        return [None, "number"] if t in ("date", "datetime") else ["number", "number"]
    name, args = node.value, node.args
    if name == "IF":
        return ["boolean", t, t]
    if name == "CASE":
        compared = (args[0], *args[1:-1:2])  # the subject and the values it is matched with
        subject = next((a.type for a in compared if a.type != NULL), "text")
        return [subject if i % 2 == 1 or i == 0 else t for i in range(len(args) - 1)] + [t]
    fixed: dict[str, str] = {
        "AND": "boolean", "OR": "boolean", "NOT": "boolean", "DATEDIFF": "date",
        "VALUE": "text", "LEN": "text", "UPPER": "text", "LOWER": "text", "CONTAINS": "text",
        "ROUND": "number", "ABS": "number",
    }  # fmt: skip
    if name in ("BLANKVALUE", "MIN", "MAX"):
        return [t] * len(args)
    return [fixed.get(name)] * len(args)


def settle(node: Typed) -> Typed:
    """``node`` with its null arguments given the type they stand for."""
    if not any(a.type == NULL for a in node.args) or node.kind in ("lit", "field"):
        return node
    if node.kind == "call" and node.value in ("ISBLANK", "TEXT", "ISCHANGED", "PRIORVALUE"):
        return node
    args = tuple(
        retype(a, p) if p is not None else a for a, p in zip(node.args, _params(node), strict=True)
    )
    return replace(node, args=args)


def _boolean(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    for a in args:
        c.expect(a, {"boolean"}, f"{n.value}()")
    return "boolean"


def _if(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    c.expect(args[0], {"boolean"}, "IF()'s condition")
    return _branches(n, args[1:])


def _branches(n: Node, args: tuple[Typed, ...]) -> str:
    t = NULL
    for a in args:
        u = unify(t, a.type)
        if u is None or u == "multi":
            raise FormulaError(
                f"{n.value}()'s results must have one type: {_shown(a.type)} after {_shown(t)}.",
                a.pos,
            )
        t = u
    return t


def _case(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    if len(args) % 2:
        raise FormulaError(
            "CASE() takes an expression, pairs of value and result, and a default result.", n.pos
        )
    subject = args[0]
    c.expect(
        subject, {"text", "number", "currency", "percent", "date", "datetime", "boolean"}, "CASE()"
    )
    for value in args[1:-1:2]:
        if value.type == NULL or (
            subject.type != NULL and _family(value.type) != _family(subject.type)
        ):
            raise FormulaError(
                f"CASE() compares {_shown(subject.type)} with {_shown(value.type)}.", value.pos
            )
    return _branches(n, (*args[2:-1:2], args[-1]))


def _any(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    return "boolean"


def _blankvalue(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    return _branches(n, args)


def _datediff(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    for a in args:
        c.expect(a, {"date", "datetime"}, "DATEDIFF()")
    return "number"


def _text(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    c.expect(args[0], {*NUMERIC, "text", "date", "datetime", "boolean"}, "TEXT()")
    return "text"


def _text_in(result: str) -> Callable[[_Checker, Node, tuple[Typed, ...]], str]:
    def check(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
        for a in args:
            c.expect(a, {"text"}, f"{n.value}()")
        return result

    return check


def _round(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    for a in args:
        c.expect(a, NUMERIC, f"{n.value}()")
    return "number" if args[0].type == NULL else args[0].type


def _minmax(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    t = _branches(n, args)
    if t == NULL:
        return "number"
    if t not in (*NUMERIC, "date", "datetime", NULL):
        raise FormulaError(
            f"{n.value}() takes numbers, dates or datetimes, not {_shown(t)}.", n.pos
        )
    return t


def _contains(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    c.expect(args[0], {"text", "multi"}, "CONTAINS()")
    c.expect(args[1], {"text"}, "CONTAINS()'s second argument")
    return "boolean"


def _fixed(result: str) -> Callable[[_Checker, Node, tuple[Typed, ...]], str]:
    return lambda c, n, args: result


def _same(c: _Checker, n: Node, args: tuple[Typed, ...]) -> str:
    return args[0].type


_Check = Callable[[_Checker, Node, tuple[Typed, ...]], str]
#: name → (fewest arguments, most (None: any), only in validation rules, type check → result).
FUNCTIONS: dict[str, tuple[int, int | None, bool, _Check]] = {
    "IF": (2, 3, False, _if),
    "CASE": (4, None, False, _case),
    "AND": (1, None, False, _boolean),
    "OR": (1, None, False, _boolean),
    "NOT": (1, 1, False, _boolean),
    "ISBLANK": (1, 1, False, _any),
    "BLANKVALUE": (2, 2, False, _blankvalue),
    "TODAY": (0, 0, False, _fixed("date")),
    "NOW": (0, 0, False, _fixed("datetime")),
    "DATEDIFF": (2, 2, False, _datediff),
    "TEXT": (1, 1, False, _text),
    "VALUE": (1, 1, False, _text_in("number")),
    "ROUND": (1, 2, False, _round),
    "ABS": (1, 1, False, _round),
    "MIN": (1, None, False, _minmax),
    "MAX": (1, None, False, _minmax),
    "LEN": (1, 1, False, _text_in("number")),
    "UPPER": (1, 1, False, _text_in("text")),
    "LOWER": (1, 1, False, _text_in("text")),
    "CONTAINS": (2, 2, False, _contains),
    "ISNEW": (0, 0, True, _fixed("boolean")),
    "ISCHANGED": (1, 1, True, _fixed("boolean")),
    "PRIORVALUE": (1, 1, True, _same),
}


def check(
    expression: str,
    schema: Schema,
    return_type: str | None = None,
    *,
    field: str | None = None,
    rule: bool = False,
) -> Checked:
    """Type-check ``expression`` against ``schema``. ``return_type`` (a formula's declared
    type) must fit the result; ``field`` is the api name of the formula being saved (another
    formula reaching it again is a cycle); ``rule`` allows ISNEW, ISCHANGED and PRIORVALUE and
    requires a boolean (a validation rule: true when the record is invalid)."""
    if not isinstance(expression, str):
        raise FormulaError("The expression must be a string.")
    if rule:
        return_type = "boolean"
    if return_type is not None and return_type not in RETURN_TYPES:
        raise FormulaError(
            f"Unknown return type {return_type!r}: one of {', '.join(RETURN_TYPES)}."
        )
    checker = _Checker(rule, (schema.object, field) if field else None)
    tree = checker.node(parse(expression), schema, ())
    type_ = tree.type
    if return_type is not None:
        if not compatible(type_, return_type):
            what = (
                "A validation rule must be true or false"
                if rule
                else (f"The formula is declared {return_type}")
            )
            hint = " (use TEXT())" if return_type == "text" else ""
            raise FormulaError(f"{what}, but computes {_shown(type_)}{hint}.", tree.pos)
        type_ = return_type
    elif type_ == "multi":
        raise FormulaError("A formula cannot compute a multi-select picklist.", tree.pos)
    return Checked(expression, tree, type_, frozenset(checker.references), rule)


def check_rule(condition: str, schema: Schema) -> Checked:
    """Type-check a validation rule's condition (true when the record is invalid)."""
    return check(condition, schema, rule=True)
