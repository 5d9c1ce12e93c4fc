"""The requests of the sweep (bodies, headers, batches, path ids, query strings, multipart), and
the footprint of both teams (each app table counted and hashed) a refused request must leave."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql as pgsql

from tests.api.hostile_input.operations import SQL, Raw, dump, nested_dict, nested_list
from tests.api.hostile_input.values import (
    EXTRA_BODIES,
    Ctx,
    Schemas,
    base_value,
    extras,
    hostile_values,
    kind_of,
)
from tests.api.hostile_input.world import RECORD_PATHS, path_kind, unknown_id

# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    label: str
    method: str
    url: str
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: list[tuple[str, str]] | None = None


JSON_HEADERS = {"content-type": "application/json"}


def body_cases(ctx: Ctx, schemas: Schemas, url: str, schema: dict[str, Any]) -> list[Case]:
    s = schemas.resolve(schema)
    props = s.get("properties") or {}
    base = {**base_value(ctx, schemas, "$", s), **extras(ctx, ctx.method, ctx.path)}
    cases: list[Case] = []

    def add(label: str, content: bytes, headers: dict[str, str] | None = None) -> None:
        cases.append(Case(label, ctx.method, url, content, headers or JSON_HEADERS))

    for name, sub in props.items():
        for label, v in hostile_values(ctx, schemas, name, sub):
            add(f"{name}: {label}", dump({**base, name: v}, ascii_only=label != "unicode"))
    add("unknown field", dump({**base, "zz_unknown": 1}))
    add("unknown field with NUL", dump({**base, "zz\x00": 1}))
    add("duplicate key", dump(base)[:-1] + b', "zz": 1, "zz": 2}' if base else b'{"zz":1,"zz":2}')
    add("empty body", b"")
    add("whitespace body", b"  \n")
    add("a JSON array", b"[]")
    add("an array of the body", dump([base]))
    add("JSON null", b"null")
    add("a JSON string", b'"x"')
    add("a number", b"1e400")
    add("invalid JSON", b"{bad")
    add("truncated JSON", dump(base)[:-1])
    add("invalid UTF-8", b'{"x": "\xff\xfe"}')
    add("a BOM", b"\xef\xbb\xbf" + dump(base))
    add("40 deep", dump(nested_dict(40)))
    add("10,000 deep", b"[" * 10_000 + b"]" * 10_000)
    add("10,001 items at the top", dump([base] * 10_001))
    add("over 1 MiB", dump({**base, "zz": "x" * (1024 * 1024 + 10)}))
    add("text/plain", dump(base), {"content-type": "text/plain"})
    add("form-encoded", b"a=1&b=2", {"content-type": "application/x-www-form-urlencoded"})
    for label, over in EXTRA_BODIES.get((ctx.method, ctx.path), []):
        add(label, dump({**base, **over}))
    add("the base body", dump(base))  # last: a valid body may change the team's records
    return cases


def header_cases(method: str, url: str, content: bytes | None) -> list[Case]:
    """Hostile ``If-Match`` and ``Idempotency-Key`` headers (with the base body, if any)."""
    base = JSON_HEADERS if content is not None else {}
    values: list[tuple[str, str, str | bytes]] = [
        ("If-Match", "not an ETag", '"x"'),
        ("If-Match", "-1", '"-1"'),
        ("If-Match", "40 digits", '"' + "9" * 40 + '"'),
        ("If-Match", "a list", '"1", "2"'),
        ("If-Match", "UTF-8", '"ü"'.encode()),
    ]
    if method == "POST":
        values += [
            ("Idempotency-Key", "256 characters", "k" * 256),
            ("Idempotency-Key", "UTF-8", "ü".encode() * 100),
            ("Idempotency-Key", "a space", " "),
        ]
    return [
        Case(f"{name}: {label}", method, url, content, {**base, name.lower(): v})  # type: ignore[dict-item]
        for name, label, v in values
    ]


def batch_cases(ctx: Ctx, schemas: Schemas, url: str, create: dict[str, Any]) -> list[Case]:
    """``POST .../batch``: every hostile create body as an item, and hostile update items."""
    s = schemas.resolve(create)
    base = {
        **base_value(ctx, schemas, "$", s),
        **extras(ctx, "POST", ctx.path.removesuffix("/batch")),
    }
    cases: list[Case] = []

    def add(label: str, body: Any) -> None:
        cases.append(Case(label, "POST", url, dump(body), JSON_HEADERS))

    for name, sub in (s.get("properties") or {}).items():
        for label, v in hostile_values(ctx, schemas, name, sub):
            add(f"items[0].{name}: {label}", {"items": [{**base, name: v}]})
    kind = RECORD_PATHS[ctx.path.split("/")[3]]
    mine = ctx.ids[kind]
    for label, item in [
        ("id a number", {"id": 5}),
        ("id unknown", {"id": unknown_id(kind)}),
        ("id of another team", {"id": ctx.their_ids[kind]}),
        ("id with NUL", {"id": "a\x00b"}),
        ("id 10 KB", {"id": "x" * 10_000}),
        ("version a string", {"id": mine, "version": "1"}),
        ("version 2**63", {"id": mine, "version": 2**63}),
        ("version -1", {"id": mine, "version": -1}),
        ("version 1e400", {"id": mine, "version": Raw("1e400")}),
        ("item null", None),
        ("item a string", "x"),
        ("item 40 deep", nested_dict(40)),
        ("item NUL key", {"a\x00": 1}),
    ]:
        add(f"items: {label}", {"items": [item]})
        add(f"items: {label} (all_or_none)", {"items": [base, item], "all_or_none": True})
    add("items: 1,001", {"items": [base] * 1001})
    add("items: empty", {"items": []})
    add("all_or_none a string", {"items": [base], "all_or_none": "yes"})
    return cases


# Path parameters that are credentials, not ids.
# Not a team's: whoever holds another team's token may use it; a template is everyone's.
SECRETS = frozenset(
    {"invitation", "feed_token", "share_token", "dashboard_template", "report_template"}
)


def path_cases(ctx: Ctx, path: str, names: list[str], content: bytes | None) -> list[Case]:
    """Each path parameter in turn: unknown, another team's, garbage (the rest real)."""
    real = {n: ctx.ids[path_kind(path, n)] for n in names}
    cases: list[Case] = []
    for n in names:
        kind = path_kind(path, n)
        variants = [
            ("unknown", quote(unknown_id(kind), safe="")),
            ("another team's", quote(ctx.their_ids[kind], safe="")),
            ("SQL", quote(SQL, safe="")),
            ("10 KB", "x" * 10_000),
            ("unicode", quote("ü名🙂\u202e", safe="")),
            ("NUL", "a%00b"),
            ("invalid UTF-8", "%ED%A0%80%FF"),
            ("dots", ".."),
            ("encoded slash", "a%2Fb"),
            ("spaces", "%20%20"),
            ("lower-case id", quote(unknown_id(kind).lower(), safe="")),
        ]
        if kind in SECRETS:  # whoever holds another team's invitation may accept it
            variants = [v for v in variants if v[0] != "another team's"]
        for label, raw in variants:
            parts = {**{m: quote(v, safe="") for m, v in real.items()}, n: raw}
            url = path
            for m, v in parts.items():
                url = url.replace("{" + m + "}", v)
            headers = JSON_HEADERS if content is not None else {}
            cases.append(Case(f"path {n}: {label}", ctx.method, url, content, headers))
    return cases


QUERY_EDGES = [
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "2026-02-30",
    "0000-01-01",
    "10000-01-01",
    "9999-12-31",
    "0001-01-01",
    "2026-01-01T10:00:00 02:00",
    "1e308",
    str(2**63),
    "-1",
    "NaN",
    "",
    SQL,
    "x" * 10_000,
    "ü名🙂",
    "%_\\",
]
# Query parameters routes read by hand (the document does not list them), by path.
HAND_READ: list[tuple[str, list[str]]] = [
    (r"/\{record_id\}$", ["as_of", "fields"]),
    (r"/history$", ["limit", "cursor"]),
    (
        r"/timeline$",
        ["type", "from", "to", "member_id", "related_to_type", "related_to_id", "group_by"],
    ),
    (
        r"/search/activities$",
        ["q", "type", "from", "to", "member_id", "related_to_type", "related_to_id"],
    ),
    (r"/comments$", ["limit", "cursor"]),
    (r"/mentions$", ["unread", "limit", "cursor"]),
    (r"/(notifications|dispatcher/failures)$", ["status"]),
    (r"/members$", ["search"]),
    (r"/leads/export$", ["format"]),
    (r"/deals/velocity$", ["from", "to", "pipeline_id", "owner_id"]),
    (r"/deals/weighted-value$", ["pipeline_id", "owner_id"]),
    (r"/board$", ["stage", "limit", "cursor", "filter[value]", "filter[expected_close_date]"]),
    (r"/occurrences$", ["limit"]),
    (r"/stages/\{key\}$", ["target_stage"]),
]


def hand_read(path: str) -> list[str]:
    return [name for pattern, names in HAND_READ if re.search(pattern, path) for name in names]


def cursor_of(payload: Any) -> str:
    return base64.urlsafe_b64encode(dump(payload)).decode().rstrip("=")


def signature(sort: str) -> str:
    return hashlib.blake2s(sort.encode(), digest_size=4).hexdigest()


def query_cases(
    method: str, path: str, url: str, fields: dict[str, dict[str, Any]] | None
) -> list[Case]:
    """Hostile query strings: an unknown parameter, the hand-read ones with edge values, and
    for a list (``fields`` its items' fields) limit, cursor, sort, fields and filters."""
    qs: list[tuple[str, list[tuple[str, str]]]] = [
        ("unknown parameter", [("zz_unknown", "1")]),
        ("NUL in a name", [("a\x00", "1")]),
    ]
    for name in hand_read(path):
        for v in QUERY_EDGES:
            qs.append((f"{name}={v[:20]}", [(name, v)]))
        qs.append((f"{name} twice", [(name, "a"), (name, "b")]))
    if fields is None:
        return [Case(f"query {label}", method, url, params=params) for label, params in qs]
    for v in ("0", "-1", str(10**9), "abc", "1.5", "9" * 400, ""):
        qs.append((f"limit={v[:12]}", [("limit", v)]))
    for label, v in [
        ("garbage", "garbage"),
        ("not base64", "!!!"),
        ("10 KB", "x" * 10_000),
        ("a number", "5"),
        ("JSON of the wrong shape", cursor_of(["x", [1]])),
        ("JSON null", cursor_of(None)),
        ("JSON 40 deep", cursor_of(nested_list(40))),
        ("wrong signature", cursor_of([signature("nope"), [1, "x"]])),
    ]:
        qs.append((f"cursor {label}", [("cursor", v)]))
    # Cursors signed for the sort they come with, holding hostile values.
    sorts = ["-created_at"] + (["name"] if "name" in fields else [])
    for name, fs in fields.items():
        if kind_of(fs) in ("integer", "number", "boolean") or fs.get("format") in (
            "date",
            "date-time",
        ):
            sorts.append(name)
    for sort in dict.fromkeys(sorts):
        sig = signature(f"{sort},{'-' if sort.startswith('-') else ''}id")
        for label, values in [
            ("edge datetime", ["9999-12-31T23:59:59-12:00", "x"]),
            ("year 0", ["0001-01-01T00:00:00+14:00", "x"]),
            ("1e308", [1e308, "x"]),
            ("2**63", [2**63, "x"]),
            ("NUL", ["a\x00", "b\x00"]),
            ("object", [{"a": 1}, ["x"]]),
            ("nulls", [None, None]),
            ("too few", ["x"]),
        ]:
            qs.append(
                (
                    f"sort={sort} cursor {label}",
                    [("sort", sort), ("cursor", cursor_of([sig, values]))],
                )
            )
    for v in ("nope", "-", ",,,", "id,id", "-" * 100, SQL, "custom", "-custom"):
        qs.append((f"sort={v[:20]}", [("sort", v)]))
    for v in ("nope", ",", SQL, "id," * 500):
        qs.append((f"fields={v[:20]}", [("fields", v)]))
    for k, v in [
        ("filter[nope]", "x"),
        ("filter[id__bogus]", "x"),
        ("filter[]", "x"),
        ("filter[__gt]", "x"),
        ("filter[custom.k]", SQL),
        ("filter[custom.]", "x"),
        ("filter[custom.k__gt]", "9999-12-31T23:59:59-12:00"),
        ("filter[custom.k__in]", ",,,"),
        ("filter[custom]", '{"a": [1e400]}'),
        ("filter[custom__contains]", "{bad"),
        ("filter[custom__contains]", '{"a": 1}'),
        ("filter[custom__in]", "[1, {}]"),
        ("filter[custom__gt]", "1e400"),
        ("filter[id]", "a\x00b"),
        ("filter[id__in]", ",".join(["x"] * 5000)),
        ("filter[id]\x00", "x"),
    ]:
        qs.append((f"{k}={v[:20]!r}", [(k, v)]))
    for name, fs in fields.items():
        t = kind_of(fs)
        fmt = fs.get("format")
        if fmt in ("date-time", "date"):
            values = [*QUERY_EDGES[:7], "2026-03-02"]
        elif t in ("integer", "number"):
            values = [
                "1e308",
                str(2**63),
                "-" + "9" * 400,
                "NaN",
                "Infinity",
                "0x10",
                "1e-400",
                "7",
            ]
        elif t == "boolean":
            values = ["maybe", ""]
        elif t == "array":
            values = [SQL, ",,,"]
        elif t == "object":
            values = ["{bad", '{"a": 1e400}', "[]", "9" * 400]
        else:
            values = [SQL, "x" * 10_000]
        for v in values:
            qs.append((f"filter[{name}]={v[:20]}", [(f"filter[{name}]", v)]))
            if fmt in ("date-time", "date") or t in ("integer", "number"):
                qs.append((f"filter[{name}__gt]={v[:20]}", [(f"filter[{name}__gt]", v)]))
        qs.append((f"filter[{name}__in]", [(f"filter[{name}__in]", f"{values[0]},,{values[-1]}")]))
        qs.append((f"filter[{name}__contains]", [(f"filter[{name}__contains]", "%_\\")]))
        qs.append((f"filter[{name}__isnull]", [(f"filter[{name}__isnull]", "maybe")]))
        qs.append((f"sort=-{name}", [("sort", f"-{name}")]))
    return [Case(f"query {label}", method, url, params=params) for label, params in qs]


def multipart_cases(url: str) -> list[Case]:
    boundary = "sweepBOUNDARY"
    garbage = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n'
        'Content-Type: text/csv\r\n\r\n\x00\xff,"\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="object"\r\n\r\nplanets\r\n'
        f"--{boundary}--\r\n"
    ).encode("latin-1")
    ct = {"content-type": f"multipart/form-data; boundary={boundary}"}
    return [
        Case("garbage multipart", "POST", url, garbage, ct),
        Case("truncated multipart", "POST", url, garbage[:60], ct),
        Case(
            "multipart without boundary",
            "POST",
            url,
            garbage,
            {"content-type": "multipart/form-data"},
        ),
        Case("a JSON body", "POST", url, b'{"file": "x"}', JSON_HEADERS),
        Case("no body", "POST", url, b"", {}),
    ]


# --------------------------------------------------------------------------- what was written


class Footprint:
    """Rows per ``app`` table of a team, with an order-independent hash of their contents
    (a half-written row, an update or a delete all change it). Sessions, whose
    ``last_used_at`` any authenticated request may touch, are counted only."""

    COUNT_ONLY = frozenset({"sessions"})

    def __init__(self, conn: psycopg.AsyncConnection[Any], tables: list[str]) -> None:
        self.conn = conn
        parts = []
        for t in tables:
            where = pgsql.SQL("id") if t == "teams" else pgsql.SQL("team_id")
            digest = (
                pgsql.SQL("0::numeric")
                if t in self.COUNT_ONLY
                else pgsql.SQL("coalesce(sum(hashtextextended(x::text, 0)), 0)")
            )
            parts.append(
                pgsql.SQL(
                    "SELECT {name}, count(*), {digest} FROM app.{t} x WHERE {w} = %(team)s"
                ).format(name=pgsql.Literal(t), digest=digest, t=pgsql.Identifier(t), w=where)
            )
        self.query = pgsql.SQL(" UNION ALL ").join(parts)

    async def of(self, team_id: str) -> dict[str, tuple[int, int]]:
        cur = await self.conn.execute(self.query, {"team": team_id})
        return {r[0]: (r[1], int(r[2])) for r in await cur.fetchall()}


def changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return [
        f"{t} rows {before[t][0]} -> {after[t][0]}"
        + ("" if before[t][0] != after[t][0] else " (contents changed)")
        for t in before
        if before[t] != after[t]
    ]
