"""Reports (one, or a dashboard's several) as one PDF: HTML rendered by WeasyPrint.

Each report gets its title, when its data was built, its chart (a Vega-Lite spec drawn to SVG by
vl-convert: bar, line, pie, funnel, heat map; a KPI card shows the totals), its totals and its
first :data:`PDF_MAX_ROWS` rows (the page says how many there are in all: the CSV, XLSX and
Parquet exports have every row). Every page carries the team's name and its page number.
"""

from __future__ import annotations

import asyncio
import base64
import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from api.common.scope import tenant_scope
from api.reports import service

PDF_MAX_ROWS = 2000

CSS = """
@page {
  size: A4 landscape; margin: 18mm 12mm 16mm 12mm;
  @top-left { content: "%(brand)s"; font: 600 9pt sans-serif; color: #1f4e79; }
  @top-right { content: "%(title)s"; font: 9pt sans-serif; color: #555; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font: 8pt sans-serif; }
  @bottom-left { content: "Generated %(now)s by Leadly"; font: 8pt sans-serif; color: #777; }
}
body { font-family: sans-serif; font-size: 9pt; color: #222; }
h1 { font-size: 16pt; color: #1f4e79; margin: 0 0 2mm 0; }
section { page-break-after: always; }
section:last-child { page-break-after: auto; }
.meta { color: #666; margin-bottom: 4mm; }
.kpi { display: inline-block; margin: 0 8mm 4mm 0; }
.kpi b { display: block; font-size: 18pt; color: #1f4e79; }
table { border-collapse: collapse; width: 100%%; }
th, td { border-bottom: 1px solid #ddd; padding: 1.2mm 2mm; text-align: left; }
th { background: #f0f4f8; }
td.n { text-align: right; }
img.chart { max-width: 100%%; max-height: 110mm; margin-bottom: 4mm; }
"""


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "percent" and isinstance(value, int | float | Decimal):
        return f"{float(value):.1%}" if abs(float(value)) <= 1.5 else f"{float(value):.2f}"
    if isinstance(value, Decimal | float):
        return f"{float(value):,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def chart_spec(chart: str, columns: list[dict], data: list[dict]) -> dict[str, Any] | None:
    """A Vega-Lite spec of the report's chart over ``data`` (None: a table or KPI report, or
    nothing to draw)."""
    dims = [c for c in columns if c["role"] == "dimension"]
    metrics = [c for c in columns if c["role"] == "metric"]
    if chart in ("table", "kpi") or not dims or not metrics or not data:
        return None
    x, y = dims[0], metrics[0]
    rows = [{k: (float(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in data]
    for r in rows:
        for k, v in r.items():
            if hasattr(v, "isoformat"):
                r[k] = v.isoformat()
    x_type = "temporal" if x["type"] == "time" else "nominal"
    base: dict[str, Any] = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": rows},
        "width": 700,
        "height": 280,
    }
    if chart == "pie":
        return {
            **base,
            "mark": "arc",
            "encoding": {
                "theta": {"field": y["name"], "type": "quantitative", "title": y["label"]},
                "color": {"field": x["name"], "type": "nominal", "title": x["label"]},
            },
        }
    if chart == "heatmap" and len(dims) >= 2:
        return {
            **base,
            "mark": "rect",
            "encoding": {
                "x": {"field": x["name"], "type": x_type, "title": x["label"]},
                "y": {"field": dims[1]["name"], "type": "nominal", "title": dims[1]["label"]},
                "color": {"field": y["name"], "type": "quantitative", "title": y["label"]},
            },
        }
    if chart == "funnel":
        return {
            **base,
            "mark": "bar",
            "encoding": {
                "y": {"field": x["name"], "type": "nominal", "sort": "-x", "title": x["label"]},
                "x": {"field": y["name"], "type": "quantitative", "title": y["label"]},
            },
        }
    encoding: dict[str, Any] = {
        "x": {"field": x["name"], "type": x_type, "title": x["label"]},
        "y": {"field": y["name"], "type": "quantitative", "title": y["label"]},
    }
    if len(dims) >= 2:
        encoding["color"] = {"field": dims[1]["name"], "type": "nominal"}
    return {**base, "mark": "line" if chart == "line" else "bar", "encoding": encoding}


def _svg(spec: dict[str, Any]) -> str:
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(vl_spec=spec)
    return base64.b64encode(svg.encode()).decode()


def section(report: dict[str, Any], result: dict[str, Any]) -> str:
    """One report's part of the document (its result: a run's answer)."""
    e = html.escape
    cols = result["columns"]
    kinds = {c["name"]: c["type"] for c in cols}
    parts = [f"<section><h1>{e(report.get('name') or 'Report')}</h1>"]
    as_of = result.get("data_as_of")
    shown = len(result["data"])
    more = (
        " (the first " + f"{shown:,} rows; export CSV for every row)" if result["has_more"] else ""
    )
    parts.append(
        f"<div class='meta'>Data as of {e(str(as_of) if as_of else 'never built')} · "
        f"{shown:,} rows{more}</div>"
    )
    totals = result.get("totals") or {}
    if totals:
        parts.append(
            "".join(
                f"<span class='kpi'>{e(c['label'])}<b>{e(_fmt(totals.get(c['name']), c['type']))}</b></span>"
                for c in cols
                if c["role"] != "dimension" and c["name"] in totals
            )
        )
    spec = chart_spec(report.get("chart") or "table", cols, result["data"])
    if spec is not None:
        parts.append(f"<img class='chart' src='data:image/svg+xml;base64,{_svg(spec)}'/>")
    head = "".join(f"<th>{e(c['label'])}</th>" for c in cols)
    body = []
    for row in result["data"]:
        cells = []
        for c in cols:
            v = row.get(c["name"])
            num = isinstance(v, int | float | Decimal) and not isinstance(v, bool)
            cells.append(f"<td{' class=n' if num else ''}>{e(_fmt(v, kinds[c['name']]))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    parts.append("</section>")
    return "".join(parts)


async def team_name(actor: Any) -> str:
    async with tenant_scope(actor) as conn:
        found = await conn.execute(
            text("SELECT name FROM app.teams WHERE id = :t"), {"t": actor.team_id}
        )
        return found.scalar_one_or_none() or actor.team_id


def document(title: str, brand: str, sections: list[str]) -> str:
    """The HTML of a report document (the PDF's source, and the shared page)."""

    def css_text(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")

    css = CSS % {
        "brand": css_text(brand),
        "title": css_text(title),
        "now": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    return (
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{css}</style></head><body><p class='meta'>{html.escape(brand)}</p>"
        f"{''.join(sections)}</body></html>"
    )


def render(title: str, brand: str, sections: list[str]) -> bytes:
    from weasyprint import HTML

    return HTML(string=document(title, brand, sections)).write_pdf()


async def _sections(actor: Any, reports: list[dict[str, Any]]) -> list[str]:
    return [section(r, await service.run(actor, r, limit=PDF_MAX_ROWS)) for r in reports]


async def shared_page(actor: Any, reports: list[dict[str, Any]], title: str) -> str:
    """A shared report or dashboard as a read-only page (the same document as the PDF)."""
    brand = f"{await team_name(actor)} · shared read-only with Leadly"
    sections = await _sections(actor, reports)
    return await asyncio.to_thread(document, title, brand, sections)


async def report_pdf(
    actor: Any, reports: list[dict[str, Any]], title: str | None = None
) -> AsyncIterator[bytes]:
    """One PDF of ``reports`` (saved reports' rows), each from its first page of rows."""
    brand = f"{await team_name(actor)} · Leadly"
    sections = await _sections(actor, reports)
    name = title or (reports[0].get("name") if len(reports) == 1 else "Dashboard") or "Report"
    yield await asyncio.to_thread(render, name, brand, sections)
