"""GET /api/v1/leads/export: every matching row (no cap) in CSV, XLSX and Parquet, with the list
endpoint's filters, sort and fields; read back and compared with the list API."""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.api.records.conftest import uniq
from tests.conftest import Team, assert_problem, make_team
from tests.ingestion.conftest import csv_bytes, import_file

STATUSES = ["new", "contacted", "qualified", "unqualified"]
INDUSTRIES = ["SaaS", "Retail", "Health", None]


@pytest.fixture(scope="module")
def leads_file() -> bytes:
    rnd = random.Random(7)
    tag = uniq("x")
    rows: list[list[Any]] = [
        ["First Name", "Last Name", "Email", "Company", "Lead Status", "Rating", "Reviews",
         "Industry", "Website Score", "Segment"]
    ]  # fmt: skip
    for i in range(2500):
        rows.append(
            [
                f"F{i}",
                f'Lé,"{i}"' if i % 97 == 0 else f"L{i}",  # quotes, commas, accents
                f"e{i}-{tag}@export.example",
                f"Co {i % 40}",
                STATUSES[i % 4],
                "" if i % 9 == 0 else f"{rnd.randint(0, 50) / 10}",
                rnd.randint(0, 500),
                INDUSTRIES[i % 4] or "",
                rnd.randint(0, 100),
                "enterprise" if i % 3 == 0 else "",
            ]
        )
    return csv_bytes(rows)


@pytest.fixture(scope="module")
async def exporter(http: httpx.AsyncClient, leads_file: bytes) -> Team:
    """A team with 2,500 leads (one import), shared by the module's tests (read-only)."""
    team = await make_team(http)
    done = await import_file(
        team, leads_file, "export-me.csv", mapping={"Segment": "custom.segment"}
    )
    assert done["imported"] == 2500
    return team


async def _list_all(team: Team, params: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        q = {**params, "limit": "1000", **({"cursor": cursor} if cursor else {})}
        r = await team.get("/api/v1/leads", params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["data"]
        if not body["has_more"]:
            return out
        cursor = body["next_cursor"]


def _as_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dict):
        import json

        return json.dumps(v, separators=(",", ":"))
    return str(v)


QUERIES = [
    {},
    {"filter[status]": "qualified", "sort": "-rating"},
    {"filter[rating__gte]": "2.5", "filter[industry__in]": "SaaS,Health", "sort": "last_name"},
    {"filter[custom.segment]": "enterprise", "fields": "email,rating,custom", "sort": "-email"},
    {"filter[industry__isnull]": "true", "sort": "reviews_count,-created_at"},
]


@pytest.mark.parametrize("query", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
async def test_csv_export_matches_the_list(exporter: Team, query: dict[str, str]) -> None:
    listed = await _list_all(exporter, query)
    r = await exporter.get("/api/v1/leads/export", params={**query, "format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="leads-')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == len(listed) and len(listed) > 0
    assert [x["id"] for x in rows] == [x["id"] for x in listed]  # same order
    for got, want in zip(rows, listed, strict=True):
        assert set(got) == set(want)
        for k, v in want.items():
            if k == "rating" and v is not None:
                assert float(got[k]) == v
            elif k in ("created_at", "updated_at"):
                assert datetime.fromisoformat(got[k]) == datetime.fromisoformat(v)
            elif isinstance(v, dict):
                import json

                assert json.loads(got[k]) == v
            else:
                assert got[k] == _as_text(v), k


async def test_xlsx_export_matches_the_list(exporter: Team) -> None:
    from openpyxl import load_workbook

    query = {"filter[status]": "contacted", "sort": "-reviews_count"}
    listed = await _list_all(exporter, query)
    r = await exporter.get("/api/v1/leads/export", params={**query, "format": "xlsx"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert r.headers["content-disposition"].endswith('.xlsx"')
    wb = load_workbook(io.BytesIO(r.content), read_only=True)
    values = list(wb.worksheets[0].iter_rows(values_only=True))
    header, rows = list(values[0]), values[1:]
    assert len(rows) == len(listed) == 625
    for row, want in zip(rows, listed, strict=True):
        got = dict(zip(header, row, strict=True))
        assert got["id"] == want["id"] and got["email"] == want["email"]
        assert got["reviews_count"] == want["reviews_count"]
        assert (got["rating"] is None) == (want["rating"] is None)
        if want["rating"] is not None:
            assert got["rating"] == pytest.approx(want["rating"])
        assert got["last_name"] == want["last_name"]
        assert isinstance(got["created_at"], datetime)


async def test_parquet_export_in_row_groups(
    exporter: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ingestion import export

    monkeypatch.setattr(export, "CHUNK", 700)
    listed = await _list_all(exporter, {"sort": "email"})
    r = await exporter.get("/api/v1/leads/export", params={"format": "parquet", "sort": "email"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    f = pq.ParquetFile(io.BytesIO(r.content))
    assert f.metadata.num_rows == len(listed) == 2500  # more than a list page: no row cap
    assert f.metadata.num_row_groups == 4  # one per chunk of 700
    table = f.read()
    assert table.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("reviews_count").type == pa.int64()
    assert table.schema.field("rating").type == pa.float64()
    got = table.to_pylist()
    assert [g["id"] for g in got] == [x["id"] for x in listed]
    for g, want in zip(got[:300], listed[:300], strict=True):
        assert g["email"] == want["email"] and g["status"] == want["status"]
        assert g["rating"] == want["rating"]


async def test_export_is_not_a_lead_id_and_checks_its_parameters(
    exporter: Team, other_team: Team
) -> None:
    r = await exporter.get("/api/v1/leads/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert len(r.text.strip().split("\r\n")) == 2501
    assert_problem(await exporter.get("/api/v1/leads/export", params={"format": "pdf"}), 400)
    assert_problem(
        await exporter.get("/api/v1/leads/export", params={"filter[shoe_size]": "9"}), 400
    )
    assert_problem(await exporter.get("/api/v1/leads/export", params={"limit": "5"}), 400)
    assert_problem(await exporter.get("/api/v1/leads/export", params={"colour": "red"}), 400)
    # Another team exports only its own leads.
    r = await other_team.get("/api/v1/leads/export")
    assert r.status_code == 200 and r.text.strip().count("\r\n") == 0  # header only
