"""A report definition → one SQL query over the semantic layer's models, built with sqlglot.

The definition names metrics, dimensions and filter values; every name is looked up in the
semantic layer (:mod:`api.reports.semantic`) and an unknown one, or a value of the wrong type,
is a 400 naming it. Identifiers come only from the semantic YAML; values are bound parameters
(``%(p0)s``), never spliced into the SQL.

The query: one aggregate per semantic model the metrics need (grouped by the report's
dimensions, filtered by its filters), full-outer-joined on the dimensions, ratio metrics
divided after aggregation; ``compare_to`` adds the same query over the earlier period, its
time buckets shifted forward so they line up, left-joined on the dimensions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from api.reports.semantic import SCHEMA, Metric, SemanticLayer, layer
from leadly import clock
from leadly.problem import Problem

DEFAULT_GRAIN = "day"
GRAINS = ("day", "week", "month", "quarter", "year")
ADDITIVE = ("count", "count_distinct", "sum")


@dataclass(frozen=True)
class Filter:
    dimension: str
    op: str
    value: Any = None


@dataclass
class Definition:
    metrics: list[str]
    dimensions: list[str] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    time_grain: str | None = None
    compare_to: str | None = None
    sort: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, values: dict[str, Any]) -> Definition:
        return cls(
            metrics=list(values.get("metrics") or []),
            dimensions=list(values.get("dimensions") or []),
            filters=[
                Filter(f["dimension"], f["op"], f.get("value")) for f in values.get("filters") or []
            ],
            time_grain=values.get("time_grain"),
            compare_to=values.get("compare_to"),
            sort=list(values.get("sort") or []),
        )


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    type: str  # string | time | number | money | percent | boolean
    role: str  # dimension | metric | comparison

    def out(self) -> dict[str, str]:
        return {"name": self.name, "label": self.label, "type": self.type, "role": self.role}


@dataclass
class Compiled:
    sql: str
    params: dict[str, Any]
    columns: list[Column]
    models: list[str]  # the dbt models read (their builds make data_as_of)


def bad(field_name: str, message: str) -> Problem:
    return Problem(
        400,
        f"{field_name}: {message}",
        title="Bad Request",
        errors=[{"field": field_name, "message": message}],
    )


# --------------------------------------------------------------------------- validation


def check(defn: Definition, sl: SemanticLayer | None = None) -> SemanticLayer:
    """400 naming the first unknown metric, dimension, filter, operator or mistyped value."""
    sl = sl or layer()
    if not defn.metrics:
        raise bad("metrics", "Name at least one metric (GET /api/v1/semantic/metrics).")
    for i, name in enumerate(defn.metrics):
        if name not in sl.metrics:
            raise bad(f"metrics[{i}]", f"Unknown metric {name!r}.")
    if len(set(defn.metrics)) != len(defn.metrics):
        raise bad("metrics", "A metric is named twice.")
    if len(set(defn.dimensions)) != len(defn.dimensions):
        raise bad("dimensions", "A dimension is named twice.")
    models = _models(defn, sl)
    for i, name in enumerate(defn.dimensions):
        _check_dimension(sl, models, name, f"dimensions[{i}]")
    for i, f in enumerate(defn.filters):
        where = f"filters[{i}]"
        _check_dimension(sl, models, f.dimension, f"{where}.dimension")
        _check_value(sl.dimensions[f.dimension].type, f, where)
    if defn.time_grain is not None and defn.time_grain not in GRAINS:
        raise bad("time_grain", f"Unknown time grain {defn.time_grain!r}.")
    if defn.compare_to is not None and _period(defn, sl) is None:
        raise bad(
            "compare_to",
            "A comparison needs the report's period: a filter with op between on a time "
            "dimension (e.g. created_date).",
        )
    names = {c.name for c in columns_of(defn, sl)}
    for i, key in enumerate(defn.sort):
        if key.removeprefix("-") not in names:
            raise bad(f"sort[{i}]", f"{key!r} is not a column of this report.")
    return sl


def _models(defn: Definition, sl: SemanticLayer) -> list[str]:
    seen: list[str] = []
    for name in defn.metrics:
        for m in sorted(sl.models_of(sl.metrics[name])):
            if m not in seen:
                seen.append(m)
    return seen


def _check_dimension(sl: SemanticLayer, models: list[str], name: Any, where: str) -> None:
    if not isinstance(name, str) or name not in sl.dimensions:
        raise bad(where, f"Unknown dimension {name!r}.")
    lacking = [m for m in models if name not in sl.models[m].dimensions]
    if lacking:
        raise bad(
            where,
            f"Dimension {name!r} does not apply to the {', '.join(lacking)} behind this "
            "report's metrics.",
        )


_RELATIVE = re.compile(r"^today(?:([+-])(\d{1,5}))?$")


def relative_day(value: str) -> dt.date | None:
    """``today``, ``today-7``, ``today+30`` (days), ``month_start``, ``quarter_start``,
    ``year_start``: UTC days of the injectable clock (templates keep their period moving)."""
    today = clock.now().astimezone(dt.UTC).date()
    v = value.strip().lower()
    m = _RELATIVE.match(v)
    if m:
        n = int(m.group(2) or 0)
        return today + dt.timedelta(days=-n if m.group(1) == "-" else n)
    starts = {
        "month_start": today.replace(day=1),
        "quarter_start": today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1),
        "year_start": today.replace(month=1, day=1),
    }
    return starts.get(v)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, str):
        found = relative_day(value)
        if found is not None:
            return found
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise bad(
        f"{where}.value",
        f"Expected an ISO date (YYYY-MM-DD) or today, today-N, month_start, quarter_start, "
        f"year_start; not {value!r}.",
    )


def _scalar(kind: str, value: Any, where: str) -> Any:
    ok = {
        "string": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }
    if kind == "time":
        return _date(value, where)
    if not ok[kind]:
        raise bad(f"{where}.value", f"Expected a {kind}, not {value!r}.")
    return value


def _check_value(kind: str, f: Filter, where: str) -> None:
    if f.op == "is_null":
        if not isinstance(f.value, bool):
            raise bad(f"{where}.value", "is_null takes true or false.")
    elif f.op in ("in", "not_in"):
        if not isinstance(f.value, list) or not f.value:
            raise bad(f"{where}.value", f"{f.op} takes a non-empty list.")
        for v in f.value:
            _scalar(kind, v, where)
    elif f.op == "between":
        if not isinstance(f.value, list) or len(f.value) != 2:
            raise bad(f"{where}.value", "between takes a list of two values [from, to].")
        for v in f.value:
            _scalar(kind, v, where)
    elif f.op == "contains":
        if kind != "string" or not isinstance(f.value, str):
            raise bad(f"{where}.value", "contains takes a string, on a string dimension.")
    elif f.op in ("eq", "ne", "gt", "gte", "lt", "lte"):
        _scalar(kind, f.value, where)
    else:
        raise bad(f"{where}.op", f"Unknown operator {f.op!r}.")


def _period(defn: Definition, sl: SemanticLayer) -> tuple[int, dt.date, dt.date] | None:
    """(filter index, from, to) of the first ``between`` filter on a time dimension."""
    for i, f in enumerate(defn.filters):
        if f.op == "between" and sl.dimensions[f.dimension].type == "time":
            return i, _date(f.value[0], f"filters[{i}]"), _date(f.value[1], f"filters[{i}]")
    return None


def columns_of(defn: Definition, sl: SemanticLayer | None = None) -> list[Column]:
    sl = sl or layer()
    cols = [
        Column(d, sl.dimensions[d].label, sl.dimensions[d].type, "dimension")
        for d in defn.dimensions
    ]
    for name in defn.metrics:
        m = sl.metrics[name]
        cols.append(Column(name, m.label, m.type, "metric"))
    if defn.compare_to:
        for name in defn.metrics:
            m = sl.metrics[name]
            cols += [
                Column(f"{name}_previous", f"{m.label} (previous)", m.type, "comparison"),
                Column(f"{name}_change", f"{m.label} change", m.type, "comparison"),
                Column(f"{name}_change_pct", f"{m.label} change %", "percent", "comparison"),
            ]
    return cols


# --------------------------------------------------------------------------- SQL


def _id(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.Column(this=_id(name), table=_id(table) if table else None)


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> exp.Placeholder:
        key = f"p{len(self.values)}"
        self.values[key] = value
        return exp.Placeholder(this=key)


def _interval(shift: tuple[str, int]) -> exp.Interval:
    unit, n = shift
    return exp.Interval(this=exp.Literal.string(str(n)), unit=exp.var(unit.upper()))


def _bucket(column: exp.Expression, grain: str, shift: tuple[str, int] | None) -> exp.Expression:
    # The run's transaction sets TimeZone to UTC, so timestamp = the UTC wall time.
    ts: exp.Expression = exp.cast(column, "timestamp")
    if shift is not None:
        ts = exp.Add(this=ts, expression=_interval(shift))
    trunc = exp.func("date_trunc", exp.Literal.string(grain), ts)
    return exp.cast(trunc, "date")


def _time_condition(col: exp.Expression, f: Filter, p: _Params) -> exp.Expression:
    """A time filter as ranges on the column itself (index-friendly): days are UTC days."""
    one = dt.timedelta(days=1)

    def day(v: Any) -> dt.date:
        return _date(v, "filter")

    if f.op == "is_null":
        return col.is_(exp.null()) if f.value else exp.not_(col.is_(exp.null()))
    if f.op == "between":
        a, b = day(f.value[0]), day(f.value[1])
        return exp.and_(col >= p(a), col < p(b + one))
    if f.op in ("in", "not_in"):
        days = [day(v) for v in f.value]
        cond = exp.cast(col, "date").isin(*[p(d) for d in days])
        return exp.not_(cond) if f.op == "not_in" else cond
    d = day(f.value)
    return {
        "eq": lambda: exp.and_(col >= p(d), col < p(d + one)),
        "ne": lambda: exp.not_(exp.and_(col >= p(d), col < p(d + one))),
        "gt": lambda: col >= p(d + one),
        "gte": lambda: col >= p(d),
        "lt": lambda: col < p(d),
        "lte": lambda: col < p(d + one),
    }[f.op]()


def _condition(col: exp.Expression, kind: str, f: Filter, p: _Params) -> exp.Expression:
    if kind == "time":
        return _time_condition(col, f, p)
    v = f.value
    if f.op == "is_null":
        return col.is_(exp.null()) if v else exp.not_(col.is_(exp.null()))
    if f.op in ("in", "not_in"):
        cond = col.isin(*[p(x) for x in v])
        return exp.not_(cond) if f.op == "not_in" else cond
    if f.op == "between":
        return exp.and_(col >= p(v[0]), col <= p(v[1]))
    if f.op == "contains":
        escaped = v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return exp.ILike(this=col, expression=p(f"%{escaped}%"))
    ops = {
        "eq": exp.EQ,
        "ne": exp.NEQ,
        "gt": exp.GT,
        "gte": exp.GTE,
        "lt": exp.LT,
        "lte": exp.LTE,
    }
    cond = ops[f.op](this=col, expression=p(v))
    if f.op == "ne":  # "not X" keeps the rows without a value
        return exp.or_(cond, col.is_(exp.null()))
    return cond


def _shift_filters(
    defn: Definition, sl: SemanticLayer
) -> tuple[list[Filter], tuple[str, int]] | None:
    """The filters of the comparison period and how far its buckets move forward."""
    found = _period(defn, sl)
    if found is None or defn.compare_to is None:
        return None
    i, a, b = found
    if defn.compare_to == "same_period_last_year":
        a2, b2, shift = _year_before(a), _year_before(b), ("year", 1)
    else:
        days = (b - a).days + 1
        a2, b2, shift = a - dt.timedelta(days=days), b - dt.timedelta(days=days), ("day", days)
    filters = list(defn.filters)
    filters[i] = Filter(filters[i].dimension, "between", [a2.isoformat(), b2.isoformat()])
    return filters, shift


def _year_before(d: dt.date) -> dt.date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def _agg(m: Metric) -> exp.Expression:
    assert m.expr is not None
    value = m.expr.copy()
    if m.filter is not None:
        value = exp.Case(ifs=[exp.If(this=m.filter.copy(), true=value)])
    if m.agg == "count":
        return exp.Count(this=value)
    if m.agg == "count_distinct":
        return exp.Count(this=exp.Distinct(expressions=[value]))
    return exp.func(m.agg, value)


def _slot(part: str, period: str) -> str:
    """The inner column of a simple metric in a period (``cur`` or ``prev``)."""
    return f"{part}__{period}"


def _model_query(
    sl: SemanticLayer,
    model: str,
    defn: Definition,
    parts: list[Metric],
    slots: list[str],
    period: str,
    filters: list[Filter],
    grain: str,
    shift: tuple[str, int] | None,
    p: _Params,
) -> exp.Select:
    """One semantic model's aggregates for one period, grouped by the report's dimensions;
    every other slot of the union is NULL."""
    sm = sl.models[model]
    q = exp.select()
    for d in defn.dimensions:
        col: exp.Expression = _col(sm.dimensions[d])
        if sl.dimensions[d].type == "time":
            col = _bucket(col, grain, shift)
        q = q.select(exp.alias_(col, _id(d)))
    mine = {_slot(m.name, period): m for m in parts}
    for slot in slots:
        value = _agg(mine[slot]) if slot in mine else exp.cast(exp.null(), "numeric")
        q = q.select(exp.alias_(value, _id(slot)))
    q = q.from_(exp.Table(this=_id(sm.model), db=_id(SCHEMA)))
    for f in filters:
        kind = sl.dimensions[f.dimension].type
        q = q.where(_condition(_col(sm.dimensions[f.dimension]), kind, f, p))
    if defn.dimensions:
        q = q.group_by(*[exp.Literal.number(i + 1) for i in range(len(defn.dimensions))])
    return q


def _parts_by_model(defn: Definition, sl: SemanticLayer) -> dict[str, list[Metric]]:
    by_model: dict[str, list[Metric]] = {}
    for name in defn.metrics:
        for part in sl.metrics[name].parts(sl):
            assert part.model is not None
            found = by_model.setdefault(part.model, [])
            if part not in found:
                found.append(part)
    return by_model


def _metric_value(sl: SemanticLayer, name: str, period: str) -> exp.Expression:
    """A requested metric over the union's groups: its simple parts re-aggregated (each group
    has at most one row per model and period), a ratio divided after aggregation."""

    def value(m: Metric) -> exp.Expression:
        col = exp.Max(this=_col(_slot(m.name, period), "u"))
        return exp.func("coalesce", col, exp.Literal.number(0)) if m.agg in ADDITIVE else col

    m = sl.metrics[name]
    if m.ratio is None:
        return value(m)
    num, den = (sl.metrics[n] for n in m.ratio)
    return _div(exp.cast(value(num), "double precision"), value(den))


def _div(num: exp.Expression, den: exp.Expression) -> exp.Expression:
    """num / den, null when den is 0 (callers cast the numerator to the division's type)."""
    zero = exp.Literal.number(0)
    return exp.Div(this=num, expression=exp.func("nullif", den, zero), typed=True)


def _change_pct(now: exp.Expression, before: exp.Expression) -> exp.Expression:
    """(now - before) × 100 / before, rounded to 2 places; null when before is 0 or null."""
    diff = exp.Paren(this=exp.Sub(this=now.copy(), expression=before.copy()))
    scaled = exp.Mul(this=exp.cast(diff, "numeric"), expression=exp.Literal.number(100))
    rounded = exp.func(
        "round", _div(scaled, exp.cast(before.copy(), "numeric")), exp.Literal.number(2)
    )
    return rounded


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _neutralized(col: exp.Expression) -> exp.Expression:
    """``'`` before a text that starts like a spreadsheet formula (OWASP's CSV injection
    advice, as ingestion.export does for record exports)."""
    first = exp.func("left", col.copy(), exp.Literal.number(1))
    starts = first.isin(*[exp.Literal.string(c) for c in FORMULA_START])
    quoted = exp.DPipe(this=exp.Literal.string("'"), expression=col.copy())
    return exp.Case(ifs=[exp.If(this=starts, true=quoted)], default=col.copy())


def compile_query(
    defn: Definition,
    *,
    totals: bool = False,
    by: list[str] | None = None,
    neutralize: bool = False,
) -> Compiled:
    """:func:`_compile`, remembered per definition and day (relative dates move daily): a
    dashboard's reports compile once, not on every run and page."""
    key = json.dumps(
        [dataclasses.asdict(defn), totals, by, neutralize, clock.now().date().isoformat()],
        sort_keys=True,
        default=str,
    )
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) >= 512:
            _CACHE.clear()
        found = _CACHE[key] = _compile(defn, totals=totals, by=by, neutralize=neutralize)
    return found


_CACHE: dict[str, Compiled] = {}


def _compile(
    defn: Definition,
    *,
    totals: bool = False,
    by: list[str] | None = None,
    neutralize: bool = False,
) -> Compiled:
    """The report's rows (ordered: ``sort``, then the dimensions), or with ``totals`` one row
    over everything, or with ``by`` the subtotals of those dimensions. ``neutralize``: text
    cells that a spreadsheet would run as a formula start with ``'`` (exports).

    Shape: ``SELECT dims, metrics FROM (<per model and period aggregates> UNION ALL ...) u
    GROUP BY dims`` — a union rather than full joins, so groups whose dimension is NULL meet
    and every model's rows are kept."""
    sl = check(defn)
    grain = defn.time_grain or DEFAULT_GRAIN
    if totals or by is not None:
        defn = Definition(
            defn.metrics, list(by or []), defn.filters, defn.time_grain, defn.compare_to, []
        )
    p = _Params()
    shifted = _shift_filters(defn, sl)
    periods: list[tuple[str, list[Filter], tuple[str, int] | None]] = [("cur", defn.filters, None)]
    if shifted is not None:
        periods.append(("prev", shifted[0], shifted[1]))
    by_model = _parts_by_model(defn, sl)
    slots = [
        _slot(m.name, period)
        for period, _, _ in periods
        for parts in by_model.values()
        for m in parts
    ]
    branches = [
        _model_query(sl, model, defn, parts, slots, period, filters, grain, shift, p)
        for period, filters, shift in periods
        for model, parts in by_model.items()
    ]
    union: exp.Expression = branches[0]
    for branch in branches[1:]:
        union = exp.union(union, branch, distinct=False)
    q = exp.select(*[_col(d, "u") for d in defn.dimensions])
    for name in defn.metrics:
        now = _metric_value(sl, name, "cur")
        q = q.select(exp.alias_(now, _id(name)))
        if shifted is not None:
            before = _metric_value(sl, name, "prev")
            q = q.select(
                exp.alias_(before, _id(f"{name}_previous")),
                exp.alias_(
                    exp.Sub(this=now.copy(), expression=before.copy()), _id(f"{name}_change")
                ),
                exp.alias_(_change_pct(now, before), _id(f"{name}_change_pct")),
            )
    q = q.from_(exp.Subquery(this=union, alias=exp.TableAlias(this=_id("u"))))
    if defn.dimensions:
        q = q.group_by(*[_col(d, "u") for d in defn.dimensions])
    order: list[exp.Expression] = []
    done: set[str] = set()
    for key in defn.sort:
        name = key.removeprefix("-")
        order.append(exp.Ordered(this=_id(name), desc=key.startswith("-"), nulls_first=False))
        done.add(name)
    for d in defn.dimensions:
        if d not in done:
            order.append(exp.Ordered(this=_id(d), desc=False, nulls_first=False))
    if order:
        q = q.order_by(*order)
    cols = columns_of(defn, sl)
    if neutralize:
        outer = exp.select(
            *[
                exp.alias_(
                    _neutralized(_col(c.name)) if c.type == "string" else _col(c.name), _id(c.name)
                )
                for c in cols
            ]
        ).from_(exp.Subquery(this=q, alias=exp.TableAlias(this=_id("r"))))
        q = outer.order_by(*[o.copy() for o in order]) if order else outer
    models = sorted({sl.models[m].model for m in by_model})
    return Compiled(q.sql(dialect="postgres"), p.values, cols, models)


def compile_records(defn: Definition, metric: str, row: dict[str, Any]) -> tuple[Compiled, str]:
    """The records behind one cell: the rows of ``metric``'s model that the report's filters,
    the metric's own filter and the row's dimension values select (``row``: dimension →
    value as the run returned it; a time dimension's value is its bucket's first day).
    Returns the query and the record type."""
    sl = check(defn)
    if metric not in defn.metrics:
        raise bad("metric", f"{metric!r} is not a metric of this report.")
    m = sl.metrics[metric]
    simple = m.parts(sl)[-1] if m.ratio else m  # a rate drills to its denominator's records
    assert simple.model is not None
    sm = sl.models[simple.model]
    grain = defn.time_grain or DEFAULT_GRAIN
    unknown = sorted(set(row) - set(defn.dimensions))
    if unknown:
        raise bad(f"row.{unknown[0]}", "Not a dimension of this report.")
    p = _Params()
    q = exp.select(*[_col(c) for c in sm.record_columns])
    q = q.from_(exp.Table(this=_id(sm.model), db=_id(SCHEMA)))
    for f in defn.filters:
        q = q.where(
            _condition(_col(sm.dimensions[f.dimension]), sl.dimensions[f.dimension].type, f, p)
        )
    if simple.filter is not None:
        q = q.where(simple.filter.copy())
    for d, v in row.items():
        col = _col(sm.dimensions[d])
        kind = sl.dimensions[d].type
        if v is None:
            q = q.where(col.is_(exp.null()))
        elif kind == "time":
            q = q.where(exp.EQ(this=_bucket(col, grain, None), expression=p(_date(v, f"row.{d}"))))
        else:
            q = q.where(exp.EQ(this=col, expression=p(_scalar(kind, v, f"row.{d}"))))
    q = q.order_by(exp.Ordered(this=_col(sm.record_id), desc=False))
    cols = [Column(c, c, "string", "record") for c in sm.record_columns]
    return Compiled(q.sql(dialect="postgres"), p.values, cols, [sm.model]), sm.record_type
