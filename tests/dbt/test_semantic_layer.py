"""The semantic layer's YAML against the dbt project: every semantic model names a reporting
model whose contract has every column the layer reads, and a broken file is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlglot import exp

from api.reports.semantic import layer, parse
from warehouse.dbt import PROJECT_DIR


def contracts() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (PROJECT_DIR / "models" / "reporting").rglob("*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models") or []:
            found[model["name"]] = {c["name"] for c in model.get("columns") or []}
    return found


def test_every_column_the_layer_reads_is_in_a_contract() -> None:
    sl, models = layer(), contracts()
    for sm in sl.models.values():
        assert sm.model in models, sm.model
        assert (PROJECT_DIR / "models" / "reporting" / "semantic" / f"{sm.model}.sql").exists()
        wanted = {*sm.dimensions.values(), *sm.record_columns, sm.record_id, "team_id"}
        assert wanted <= models[sm.model], (sm.model, wanted - models[sm.model])
    for m in sl.metrics.values():
        if m.model is None:
            continue
        used = {c.name for e in (m.expr, m.filter) if e is not None for c in e.find_all(exp.Column)}
        assert used <= models[sl.models[m.model].model], (m.name, used)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["metrics"][0].update(model="nowhere"), "unknown semantic model"),
        (lambda d: d["metrics"][0].update(agg="median"), "agg must be"),
        (lambda d: d["metrics"][0].update(expr="lead_id +"), "not a SQL expression"),
        (
            lambda d: d["semantic_models"][0]["dimensions"].update(lead_source="source; drop"),
            "not a column",
        ),
        (lambda d: d["semantic_models"][0]["dimensions"].update(nope="x"), "unknown dimensions"),
        (
            lambda d: d["metrics"].append(
                {"name": "r", "label": "R", "type": "percent", "ratio": ["r", "leads_created"]}
            ),
            "not a simple metric",
        ),
    ],
)
def test_a_broken_layer_is_refused(change: object, message: str) -> None:
    doc = yaml.safe_load(Path(layer().source).read_text())
    change(doc)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        parse(doc)
