"""The semantic layer: the metrics and dimensions of ``dbt/semantic/leadly.yml``.

Loaded once, checked as it loads (every metric names a semantic model, every column and SQL
expression parses with sqlglot, every ratio names two simple metrics), and served as the
catalogue (``GET /api/v1/semantic/metrics`` and ``/dimensions``). :mod:`api.reports.compiler`
turns a report definition into SQL over the models named here; a client never writes SQL.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from warehouse.dbt import PROJECT_DIR

SEMANTIC_FILE = PROJECT_DIR / "semantic" / "leadly.yml"
SCHEMA = "analytics_reporting"
DIMENSION_TYPES = ("string", "number", "boolean", "time")
METRIC_TYPES = ("number", "money", "percent")
AGGREGATIONS = ("count", "count_distinct", "sum", "avg", "min", "max")


@dataclass(frozen=True)
class Dimension:
    name: str
    label: str
    description: str
    type: str

    def catalogue(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "type": self.type,
        }


@dataclass(frozen=True)
class SemanticModel:
    name: str
    model: str
    record_type: str
    record_id: str
    record_columns: tuple[str, ...]
    dimensions: dict[str, str]  # dimension name -> column


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    description: str
    type: str
    model: str | None = None  # simple metrics
    agg: str | None = None
    expr: exp.Expression | None = None
    filter: exp.Expression | None = None
    ratio: tuple[str, str] | None = None  # (numerator, denominator) metric names

    def catalogue(self, layer: SemanticLayer) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "type": self.type,
            "dimensions": sorted(layer.dimensions_of(self)),
        }

    def parts(self, layer: SemanticLayer) -> list[Metric]:
        """The simple metrics this one is computed from (itself when simple)."""
        if self.ratio is None:
            return [self]
        return [layer.metrics[n] for n in self.ratio]


@dataclass
class SemanticLayer:
    dimensions: dict[str, Dimension]
    models: dict[str, SemanticModel]
    metrics: dict[str, Metric]
    source: Path = field(default=SEMANTIC_FILE)

    def models_of(self, metric: Metric) -> set[str]:
        return {m.model for m in metric.parts(self) if m.model}

    def dimensions_of(self, metric: Metric) -> set[str]:
        """The dimensions every semantic model of ``metric`` has."""
        sets = [set(self.models[m].dimensions) for m in self.models_of(metric)]
        return set.intersection(*sets) if sets else set()


def _sql(text: str, where: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(text, dialect="postgres")
    except sqlglot.errors.ParseError as e:
        raise ValueError(f"{where}: not a SQL expression: {text!r} ({e})") from None


def parse(doc: dict[str, Any], source: Path = SEMANTIC_FILE) -> SemanticLayer:
    """The semantic layer of a parsed YAML document; ValueError naming what is wrong."""
    dims: dict[str, Dimension] = {}
    for d in doc.get("dimensions") or []:
        if d["type"] not in DIMENSION_TYPES:
            raise ValueError(f"dimension {d['name']}: type must be one of {DIMENSION_TYPES}")
        dims[d["name"]] = Dimension(d["name"], d["label"], d.get("description", ""), d["type"])
    models: dict[str, SemanticModel] = {}
    for m in doc.get("semantic_models") or []:
        unknown = set(m["dimensions"]) - set(dims)
        if unknown:
            raise ValueError(f"semantic model {m['name']}: unknown dimensions {sorted(unknown)}")
        for col in [*m["dimensions"].values(), *m["record"]["columns"], m["record"]["id"]]:
            if not col.isidentifier():
                raise ValueError(f"semantic model {m['name']}: {col!r} is not a column name")
        models[m["name"]] = SemanticModel(
            m["name"],
            m["model"],
            m["record"]["type"],
            m["record"]["id"],
            tuple(m["record"]["columns"]),
            dict(m["dimensions"]),
        )
    metrics: dict[str, Metric] = {}
    for x in doc.get("metrics") or []:
        name = x["name"]
        if x["type"] not in METRIC_TYPES:
            raise ValueError(f"metric {name}: type must be one of {METRIC_TYPES}")
        if "ratio" in x:
            metrics[name] = Metric(
                name, x["label"], x.get("description", ""), x["type"], ratio=tuple(x["ratio"])
            )
            continue
        if x["model"] not in models:
            raise ValueError(f"metric {name}: unknown semantic model {x['model']!r}")
        if x["agg"] not in AGGREGATIONS:
            raise ValueError(f"metric {name}: agg must be one of {AGGREGATIONS}")
        metrics[name] = Metric(
            name,
            x["label"],
            x.get("description", ""),
            x["type"],
            model=x["model"],
            agg=x["agg"],
            expr=_sql(str(x["expr"]), f"metric {name}"),
            filter=_sql(x["filter"], f"metric {name}") if x.get("filter") else None,
        )
    for m in metrics.values():
        for part in m.ratio or ():
            if part not in metrics or metrics[part].ratio is not None:
                raise ValueError(f"metric {m.name}: {part!r} is not a simple metric")
    clash = set(metrics) & set(dims)
    if clash:
        raise ValueError(f"names used by a metric and a dimension: {sorted(clash)}")
    return SemanticLayer(dims, models, metrics, source)


@functools.cache
def layer() -> SemanticLayer:
    """The project's semantic layer (read once per process)."""
    with SEMANTIC_FILE.open(encoding="utf-8") as f:
        return parse(yaml.safe_load(f), SEMANTIC_FILE)


def catalogue_metrics() -> list[dict[str, Any]]:
    sl = layer()
    return [m.catalogue(sl) for m in sl.metrics.values()]


def catalogue_dimensions() -> list[dict[str, Any]]:
    return [d.catalogue() for d in layer().dimensions.values()]
