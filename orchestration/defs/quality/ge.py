"""Great Expectations (GX Core 1.x) behind a small declarative layer.

A :class:`Suite` names a table (a dbt model or a ``raw`` table) and its expectations as plain
data (:func:`expect`), so loading the Dagster definitions never imports Great Expectations (it
takes seconds). :func:`validate` imports it, points an ephemeral context at PostgreSQL (SQL
datasource: expectations run as SQL in the database, nothing is pulled into pandas), runs the
suites and returns :class:`SuiteOutcome` objects with, per expectation, the unexpected counts and
a sample of unexpected values.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Expect:
    """One expectation: a class of ``great_expectations.expectations`` and its arguments."""

    type: str
    kwargs: tuple[tuple[str, Any], ...]

    @property
    def arguments(self) -> dict[str, Any]:
        return dict(self.kwargs)

    @property
    def label(self) -> str:
        """``expect_column_values_to_match_regex(email)``: what a failing check reports."""
        args = self.arguments
        snake = _snake(self.type)
        if "column" in args:
            return f"{snake}({args['column']})"
        if "description" in args:
            return f"{snake}: {args['description']}"
        return snake


def expect(type_: str, **kwargs: Any) -> Expect:
    """``expect("ExpectColumnValuesToBeBetween", column="rating", min_value=0, max_value=5)``."""
    return Expect(type_, tuple(sorted(kwargs.items())))


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


@dataclass(frozen=True)
class Suite:
    """Expectations on one table. ``model`` names a dbt model (its asset key and relation come
    from the manifest); ``raw_table`` names a table of schema ``raw`` written by ingestion.

    ``UnexpectedRowsExpectation`` queries may use ``{batch}`` (this table) and ``{<model>}`` for
    any dbt model listed in ``refs`` (e.g. ``{dim_team_members}``)."""

    name: str
    description: str
    expectations: tuple[Expect, ...]
    model: str | None = None
    raw_table: str | None = None
    refs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.model is None) == (self.raw_table is None):
            raise ValueError(f"suite {self.name}: give exactly one of model= or raw_table=")


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str

    @property
    def sql(self) -> str:
        return f'"{self.schema}"."{self.name}"'

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass
class ExpectationOutcome:
    label: str
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    partial_unexpected_list: list[Any] = field(default_factory=list)
    observed_value: Any = None
    error: str | None = None

    def summary(self) -> str:
        if self.error:
            return f"{self.label}: error: {self.error}"
        if self.unexpected_count is not None:
            sample = ", ".join(repr(v) for v in self.partial_unexpected_list[:3])
            total = f" of {self.element_count}" if self.element_count is not None else ""
            return f"{self.label}: {self.unexpected_count} unexpected{total}" + (
                f" (e.g. {sample})" if sample else ""
            )
        return f"{self.label}: observed {self.observed_value!r}"


@dataclass
class SuiteOutcome:
    suite: Suite
    relation: Relation
    success: bool
    outcomes: list[ExpectationOutcome]
    absent: bool = False

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _outcome(label: str, result: Any) -> ExpectationOutcome:
    details = dict(result.result or {})
    error = None
    info = result.exception_info or {}
    # exception_info is either one {raised_exception, exception_message} or one per metric.
    infos = [info] if "raised_exception" in info else list(info.values())
    for item in infos:
        if isinstance(item, Mapping) and item.get("raised_exception"):
            error = str(item.get("exception_message") or "raised an exception")
            break
    unexpected_count = details.get("unexpected_count")
    if unexpected_count is None and result.expectation_config.type == "unexpected_rows_expectation":
        unexpected_count = details.get("observed_value")  # the number of rows the query returned
    return ExpectationOutcome(
        label=label,
        success=bool(result.success) and error is None,
        element_count=details.get("element_count"),
        unexpected_count=unexpected_count,
        unexpected_percent=details.get("unexpected_percent"),
        partial_unexpected_list=jsonable(details.get("partial_unexpected_list") or [])[:20],
        observed_value=jsonable(details.get("observed_value")),
        error=error,
    )


def validate(
    sqlalchemy_url: str,
    suites: Sequence[tuple[Suite, Relation, Mapping[str, Relation]]],
) -> list[SuiteOutcome]:
    """Run each ``(suite, its relation, relations of its refs)`` against the database."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_sql(
        "leadly", connection_string=sqlalchemy_url, create_temp_table=False
    )
    outcomes: list[SuiteOutcome] = []
    try:
        for suite, relation, refs in suites:
            asset = source.add_table_asset(
                suite.name, table_name=relation.name, schema_name=relation.schema
            )
            batch = asset.add_batch_definition_whole_table("all_rows")
            expectations = []
            labels = []
            for spec in suite.expectations:
                args = spec.arguments
                query = args.get("unexpected_rows_query")
                if query:
                    for ref, ref_relation in refs.items():
                        query = query.replace("{" + ref + "}", ref_relation.sql)
                    args["unexpected_rows_query"] = query
                expectations.append(getattr(gxe, spec.type)(**args))
                labels.append(spec.label)
            gx_suite = context.suites.add(
                gx.ExpectationSuite(name=suite.name, expectations=expectations)
            )
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
            )
            result = definition.run(result_format="SUMMARY")
            # Results do not always come back in the suite's order (an expectation that raised
            # comes first): match them to their expectation by id, report in the suite's order.
            ids = [e.id for e in gx_suite.expectations]
            label_by_id = dict(zip(ids, labels, strict=True))
            ranked = sorted(
                result.results,
                key=lambda r: (
                    ids.index(r.expectation_config.id)
                    if r.expectation_config.id in ids
                    else len(ids)
                ),
            )
            items = [
                _outcome(label_by_id.get(r.expectation_config.id, r.expectation_config.type), r)
                for r in ranked
            ]
            outcomes.append(SuiteOutcome(suite, relation, all(o.success for o in items), items))
    finally:
        # Checks run in their own process in production; in-process runs (tests) must not keep
        # the engine's pooled connections.
        with contextlib.suppress(Exception):
            source.get_execution_engine().engine.dispose()
    return outcomes
