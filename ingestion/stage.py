"""Parse, validate and shape an import's rows with DuckDB (synchronous: run it in a thread).

The file's rows are read as text (``all_varchar``) with spare columns to catch rows that hold
more values than the header. Each mapped field is cleaned (trimmed; ``N/A``, ``NA``, ``null``,
``-`` and empty cells are no value), converted and checked with the same rules as the API; a row
that breaks any rule gets a reason naming every bad field and goes to the rejects. Duplicates
inside the file (same email, case-insensitive) are skipped or folded into their first row by the
import's policy. The accepted rows get their batch number and a new record id, and are written
to a CSV in COPY order for ``raw.<object>_import_rows``; the rejects to a CSV for
``raw.import_rejects``.

Row numbers count the header as row 1, so the first data row is row 2 (what a spreadsheet
shows); blank lines are not counted.
"""

from __future__ import annotations

import csv
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.files import FileProblem, Prepared
from ingestion.mapping import NULL_TOKENS, ObjectSpec, sources
from leadly.settings import get_settings
from warehouse.models.crm import CALL_DIRECTIONS, IMPORTABLE_LEAD_STATUSES, MAX_CALL_SECONDS
from warehouse.models.imports import (
    CALL_LOG_RAW_COLUMNS,
    LEAD_FILE_COLUMNS,
    LEAD_RAW_COLUMNS,
    LEAD_STAGED_EXTRA,
)

SPARE_COLUMNS = 8
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_RE = r"^[0-9+()./\-\sextEXT#*]{3,40}$"
URL_RE = r"^(https?://)?[^\s/$.?#][^\s]*$"
TEXT_MAX = 1000
LONG_TEXT_MAX = 200_000
_STATUS_NAMES = ", ".join(IMPORTABLE_LEAD_STATUSES)
_DIRECTION_NAMES = " or ".join(CALL_DIRECTIONS)

# Lead status values seen in CRM exports and spreadsheets, normalised (lower case, letters and
# digits only). "!converted" marks statuses that mean converted (refused: convert in Leadly).
_STATUS_WORDS = {
    "new": "new|open|opennotcontacted|notcontacted|newlead|fresh|untouched|notstarted"
    "|unassigned|raw|incoming|received|pending|offen|neu|nouveau|ouvert|nuevo|abierto|nuovo"
    "|aperto",
    "contacted": "contacted|working|workingcontacted|attemptedtocontact|attempted|connected"
    "|inprogress|engaged|responded|replied|followup|followingup|contacting|reachedout|nurture"
    "|nurturing|openinprogress|meetingbooked|meetingscheduled|callback|badtiming|kontaktiert"
    "|contacte|contactado|contattato|inbearbeitung|encours",
    "qualified": "qualified|salesqualified|marketingqualified|mql|sql|sal|opendeal|hot"
    "|interested|salesaccepted|opportunity|workingqualified|qualifiziert|qualifie|cualificado"
    "|calificado|qualificato",
    "unqualified": "unqualified|disqualified|closednotconverted|notinterested|badfit|junk|lost"
    "|dead|notqualified|closedlost|closed|rejected|spam|donotcontact|invalid"
    "|closeddisqualified|disqualifiziert|nonqualifie|descartado|noqualificato",
    "!converted": "converted|closedconverted|won|closedwon|customer",
}
STATUS_SYNONYMS: dict[str, str] = {
    word: status for status, words in _STATUS_WORDS.items() for word in words.split("|")
}
DIRECTIONS: dict[str, str] = {
    **dict.fromkeys(("inbound", "in", "incoming", "received", "inboundcall", "i"), "inbound"),
    **dict.fromkeys(("outbound", "out", "outgoing", "dialed", "outboundcall", "o"), "outbound"),
}

TIMESTAMP_FORMATS = [
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d.%m.%Y",
]


@dataclass(frozen=True)
class StageResult:
    total_rows: int  # non-empty data rows of the file
    rejected: int
    skipped_duplicates: int  # later rows of an email seen earlier in the file (policy skip)
    staged_rows: int  # rows to load (after in-file duplicates were folded)
    folded_rows: int  # rows folded into an earlier row of the same email (update/merge)
    batches: int
    rows_paths: list[Path]  # the rows to land, in parts that can be COPYed at once
    rejects_path: Path
    copy_columns: list[str]


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def _in_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(_q(v) for v in values) + ")"


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


def _id_sql(prefix: str, seq: str) -> str:
    """A ULID-shaped id per row: the import's millisecond clock and 30 random bits, then a
    50-bit counter (random start + ``seq``), so ids are unique and sort in row order."""
    head = _b32(int(time.time() * 1000), 10) + _b32(secrets.randbits(30), 6)
    start = secrets.randbits(48)
    counter = f"to_base(({start}::BIGINT + {seq}) % 1125899906842624, 32, 10)"
    return (
        f"'{prefix}_{head}' || translate({counter}, '0123456789ABCDEFGHIJKLMNOPQRSTUV', "
        f"'{CROCKFORD}')"
    )


# How ``good`` computes a lead field from ``checked`` (by default: the column of that name).
_GOOD_EXPR = {
    "first_name": "first",
    "last_name": "last",
    "rating": "round(rating_num, 1)::DECIMAL(2, 1)",
    "reviews_count": "reviews_num::INTEGER",
    "website_score": "score_num::INTEGER",
}
# A new lead's value of a field in its created event (the insert defaults the status).
_CHANGE_EXPR = {"status": "coalesce(status, 'new')"}


class Stager:
    """One import's DuckDB session: ``load`` the file, (call logs: ``refs`` / ``add_lookup``),
    then ``finish`` writes the COPY files."""

    def __init__(
        self, prepared: Prepared, spec: ObjectSpec, mapping: Mapping[str, str | None], workdir: Path
    ) -> None:
        import duckdb

        self.prepared = prepared
        self.spec = spec
        self.mapping = dict(mapping)
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.db = duckdb.connect(
            config={
                "threads": max(1, min(4, os.cpu_count() or 1)),
                "preserve_insertion_order": True,
                "temp_directory": str(workdir / "duckdb.tmp"),
                "memory_limit": get_settings().import_duckdb_memory,
            }
        )
        self.db.execute("SET TimeZone = 'UTC'")
        self.ncols = len(prepared.columns)
        self.col = {name: f"c{i}" for i, name in enumerate(prepared.columns)}

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ reading

    def load(self) -> None:
        import duckdb

        p = self.prepared
        n = self.ncols + SPARE_COLUMNS
        columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n)) + "}"
        try:
            self.db.execute(
                f"""
                CREATE TABLE src AS
                SELECT * FROM read_csv({_q(str(p.csv_path))}, header = false,
                    auto_detect = false, columns = {columns}, delim = {_q(p.delimiter)},
                    quote = {_q(p.quote)}, escape = {_q(p.quote)}, null_padding = true,
                    strict_mode = false, parallel = false, all_varchar = true)
                """
            )
        except duckdb.Error as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise FileProblem(f"The file cannot be read as CSV: {first}") from None
        # Row 1 is the header; rows where every cell is empty are dropped (not counted).
        cells = ", ".join(f"c{i}" for i in range(n))
        self.db.execute(
            f"CREATE VIEW rows AS SELECT (rowid + 1)::INTEGER AS row_no, * FROM src "
            f"WHERE rowid > 0 AND trim(concat_ws('', {cells})) <> ''"
        )
        nulls = _sql_list(list(NULL_TOKENS))
        self.db.execute(
            f"CREATE MACRO clean(x) AS CASE WHEN list_contains({nulls}, "
            f"lower(trim(replace(x, chr(0), '')))) THEN NULL ELSE trim(replace(x, chr(0), '')) END"
        )
        self.db.execute("CREATE MACRO norm(x) AS regexp_replace(lower(x), '[^a-z0-9]+', '', 'g')")
        # "4,5" (decimal comma) → 4.5; "1,234" / "1 234" / "1'234" (thousands) → 1234.
        self.db.execute(
            "CREATE MACRO num(x) AS TRY_CAST(CASE "
            "WHEN regexp_full_match(x, '[+-]?\\d{1,3}([,\\x27 ]\\d{3})+(\\.\\d+)?') "
            "THEN regexp_replace(x, '[,\\x27 ]', '', 'g') "
            "WHEN x LIKE '%,%' AND x NOT LIKE '%.%' THEN replace(x, ',', '.') "
            "ELSE x END AS DOUBLE)"
        )

    def field_expr(self, field: str) -> str:
        """The cleaned text of ``field`` from its source columns (NULL when none is mapped)."""
        cols = sources(self.mapping, self.prepared.columns).get(field, [])
        if not cols:
            return "NULL::VARCHAR"
        cleaned = [f"clean({self.col[c]})" for c in cols]
        if field in self.spec.joined:
            return f"nullif(concat_ws(', ', {', '.join(cleaned)}), '')"
        return cleaned[0] if len(cleaned) == 1 else f"coalesce({', '.join(cleaned)})"

    def custom_expr(self) -> str:
        pairs = [
            (f.split(".", 1)[1], f"clean({self.col[c]})")
            for f, cs in sources(self.mapping, self.prepared.columns).items()
            if f.startswith("custom.")
            for c in cs[:1]
        ]
        if not pairs:
            return "NULL::VARCHAR"
        args = ", ".join(f"{_q(k)}, {v}" for k, v in pairs)
        present = " OR ".join(f"{v} IS NOT NULL" for _, v in pairs)
        return f"CASE WHEN {present} THEN CAST(json_object({args}) AS VARCHAR) END"

    def _extra_values(self) -> str:
        spare = range(self.ncols, self.ncols + SPARE_COLUMNS)
        return " OR ".join(f"nullif(trim(c{i}), '') IS NOT NULL" for i in spare)

    def _values_json(self, table: str = "") -> str:
        """A row's original cells as a JSON array (computed for the rejects only)."""
        cols = ", ".join(f"{table}c{i}" for i in range(self.ncols))
        spare = ", ".join(f"{table}c{i}" for i in range(self.ncols, self.ncols + SPARE_COLUMNS))
        # Original cells in file order, then any value past the header's columns.
        return (
            f"CAST(to_json(list_concat([{cols}], "
            f"list_filter([{spare}], x -> x IS NOT NULL))) AS VARCHAR)"
        )

    # ------------------------------------------------------------------ checks

    @staticmethod
    def _text_check(name: str, expr: str, limit: int = TEXT_MAX) -> str:
        return (
            f"CASE WHEN length({expr}) > {limit} THEN '{name}: longer than {limit} characters' END"
        )

    def _synonyms(self, table: str, synonyms: Mapping[str, str]) -> None:
        """A table ``table`` (k, v): each spelling a file may use and the value it stands for."""
        pairs = ", ".join(f"({_q(k)}, {_q(v)})" for k, v in synonyms.items())
        self.db.execute(
            f"CREATE TABLE {table}(k VARCHAR, v VARCHAR); INSERT INTO {table} VALUES {pairs}"
        )

    def lead_checks(self) -> None:
        f = self.field_expr
        self._synonyms("status_map", STATUS_SYNONYMS)
        free = _sql_list(sorted(_free_mail()))
        self.db.execute(
            f"""
            CREATE VIEW cleaned AS
            SELECT row_no,
                   {f("first_name")} AS first_name, {f("last_name")} AS last_name,
                   {f("full_name")} AS full_name,
                   regexp_replace({f("email")}, '^(mailto:)?<?([^>]*)>?$', '\\2') AS email,
                   {f("phone")} AS phone, {f("title")} AS title,
                   {f("company_name")} AS company_name, {f("source")} AS source,
                   {f("status")} AS status_raw, {f("rating")} AS rating_raw,
                   {f("reviews_count")} AS reviews_raw, {f("website")} AS website,
                   {f("website_score")} AS score_raw, {f("industry")} AS industry,
                   {f("location")} AS location, {f("owner")} AS owner,
                   {self.custom_expr()} AS custom,
                   ({self._extra_values()}) AS extra
            FROM rows
            """
        )
        self.db.execute(
            """
            CREATE VIEW typed AS
            SELECT c.*,
                   CASE WHEN c.first_name IS NULL AND c.last_name IS NULL THEN
                        CASE WHEN c.full_name LIKE '%,%'
                             THEN nullif(trim(split_part(c.full_name, ',', 2)), '')
                             ELSE nullif(trim(regexp_extract(c.full_name, '^(\\S+)', 1)), '') END
                        ELSE c.first_name END AS first,
                   CASE WHEN c.first_name IS NULL AND c.last_name IS NULL THEN
                        CASE WHEN c.full_name LIKE '%,%'
                             THEN nullif(trim(split_part(c.full_name, ',', 1)), '')
                             ELSE nullif(trim(regexp_extract(c.full_name, '^\\S+\\s+(.*)$', 1)), '') END
                        ELSE c.last_name END AS last,
                   sm.v AS status,
                   num(regexp_replace(c.rating_raw, '\\s*(/\\s*5(\\.0)?|stars?|★+)$', '', 'i'))
                       AS rating_num,
                   num(c.reviews_raw) AS reviews_num,
                   num(regexp_replace(c.score_raw, '\\s*%$', '')) AS score_num
            FROM cleaned c LEFT JOIN status_map sm ON sm.k = norm(c.status_raw)
            """
        )
        self.db.execute(
            f"""
            CREATE TABLE checked AS
            SELECT t.*,
                   nullif(concat_ws('; ',
                     CASE WHEN t.extra THEN 'the row has more values than the header has columns' END,
                     CASE WHEN t.email IS NOT NULL AND (NOT regexp_full_match(t.email, {_q(EMAIL_RE)})
                          OR length(t.email) > 320)
                          THEN 'email: ' || {_quote_value("t.email")} || ' is not a valid email address' END,
                     CASE WHEN t.phone IS NOT NULL AND NOT regexp_full_match(t.phone, {_q(PHONE_RE)})
                          THEN 'phone: ' || {_quote_value("t.phone")} || ' is not a phone number' END,
                     CASE WHEN t.website IS NOT NULL AND (NOT regexp_full_match(t.website, {_q(URL_RE)})
                          OR length(t.website) > 2000)
                          THEN 'website: ' || {_quote_value("t.website")} || ' is not a URL' END,
                     CASE WHEN t.status_raw IS NOT NULL AND t.status IS NULL
                          THEN 'status: ' || {_quote_value("t.status_raw")} || ' is not a lead status ({_STATUS_NAMES})'
                          WHEN t.status = '!converted'
                          THEN 'status: ' || {_quote_value("t.status_raw")} || ' (converted): convert leads in Leadly, they cannot be imported as converted' END,
                     CASE WHEN t.rating_raw IS NOT NULL AND t.rating_num IS NULL
                          THEN 'rating: ' || {_quote_value("t.rating_raw")} || ' is not a number'
                          WHEN t.rating_num < 0 OR t.rating_num > 5 OR isnan(t.rating_num)
                          THEN 'rating: ' || {_quote_value("t.rating_raw")} || ' is not between 0 and 5' END,
                     CASE WHEN t.reviews_raw IS NOT NULL AND (t.reviews_num IS NULL OR t.reviews_num <> floor(t.reviews_num))
                          THEN 'reviews_count: ' || {_quote_value("t.reviews_raw")} || ' is not a whole number'
                          WHEN t.reviews_num < 0
                          THEN 'reviews_count: ' || {_quote_value("t.reviews_raw")} || ' is negative'
                          WHEN t.reviews_num > 100000000
                          THEN 'reviews_count: ' || {_quote_value("t.reviews_raw")} || ' is too large' END,
                     CASE WHEN t.score_raw IS NOT NULL AND (t.score_num IS NULL OR t.score_num <> floor(t.score_num))
                          THEN 'website_score: ' || {_quote_value("t.score_raw")} || ' is not a whole number'
                          WHEN t.score_num < 0 OR t.score_num > 100
                          THEN 'website_score: ' || {_quote_value("t.score_raw")} || ' is not between 0 and 100' END,
                     {self._text_check("first_name", "t.first")},
                     {self._text_check("last_name", "t.last")},
                     {self._text_check("title", "t.title")},
                     {self._text_check("company_name", "t.company_name")},
                     {self._text_check("source", "t.source")},
                     {self._text_check("industry", "t.industry")},
                     {self._text_check("location", "t.location")},
                     CASE WHEN t.first IS NULL AND t.last IS NULL AND t.email IS NULL
                               AND t.phone IS NULL AND t.company_name IS NULL
                          THEN 'a lead needs a name, an email, a phone or a company' END
                   ), '') AS reason,
                   CASE WHEN t.email IS NOT NULL THEN lower(t.email) END AS email_key,
                   coalesce(
                     nullif(regexp_replace(regexp_replace(regexp_extract(lower(t.website),
                       '^(?:[a-z][a-z0-9+.\\-]*://)?(?:[^@/?#]*@)?([^/:?#\\s]+)', 1),
                       '^www\\.', ''), '\\.+$', ''), ''),
                     CASE WHEN t.email LIKE '%@%'
                          AND NOT list_contains({free}, lower(split_part(t.email, '@', 2)))
                          THEN nullif(regexp_replace(regexp_replace(lower(split_part(t.email, '@', 2)),
                               '^www\\.', ''), '\\.+$', ''), '') END
                   ) AS domain
            FROM typed t
            """
        )

    def call_log_checks(self) -> None:
        f = self.field_expr
        self._synonyms("direction_map", DIRECTIONS)
        self.db.execute(
            f"""
            CREATE VIEW cleaned AS
            SELECT row_no, {f("lead")} AS lead_ref, {f("contact")} AS contact_ref,
                   {f("member")} AS member_ref, {f("direction")} AS direction_raw,
                   {f("phone_number")} AS phone_number, {f("started_at")} AS started_raw,
                   {f("duration")} AS duration_raw, {f("outcome")} AS outcome,
                   {f("notes")} AS notes, {f("transcript")} AS transcript,
                   {f("recording_url")} AS recording_url, {self.custom_expr()} AS custom,
                   ({self._extra_values()}) AS extra
            FROM rows
            """
        )
        fmts = _sql_list(TIMESTAMP_FORMATS)
        self.db.execute(
            f"""
            CREATE VIEW typed AS
            SELECT c.*, dm.v AS direction,
                   coalesce(TRY_CAST(c.started_raw AS TIMESTAMPTZ),
                            try_strptime(c.started_raw, {fmts})::TIMESTAMPTZ) AS started_at,
                   CASE WHEN regexp_full_match(c.duration_raw, '\\d+:\\d{{1,2}}(:\\d{{1,2}})?')
                        THEN list_reduce(list_transform(string_split(c.duration_raw, ':'),
                             x -> TRY_CAST(x AS DOUBLE)), (a, b) -> a * 60 + b)
                        ELSE TRY_CAST(regexp_replace(c.duration_raw, '\\s*(s|sec|secs|seconds)$', '', 'i')
                             AS DOUBLE) END AS duration_num
            FROM cleaned c LEFT JOIN direction_map dm ON dm.k = norm(c.direction_raw)
            """
        )

    def call_log_refs(self) -> dict[str, list[str]]:
        """Distinct lead/contact/member references to resolve against the database."""
        out: dict[str, list[str]] = {}
        for kind in ("lead", "contact", "member"):
            rows = self.db.execute(
                f"SELECT DISTINCT {kind}_ref FROM typed WHERE {kind}_ref IS NOT NULL"
            ).fetchall()
            out[kind] = [r[0] for r in rows]
        return out

    def add_lookup(self, kind: str, pairs: Sequence[tuple[str, str]]) -> None:
        """``kind`` reference → record id, as resolved by the database."""
        path = self.workdir / f"{kind}_lookup.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["ref", "id"])
            w.writerows(pairs)
        self.db.execute(
            f"CREATE OR REPLACE TABLE {kind}_lookup AS SELECT * FROM read_csv({_q(str(path))}, "
            "header = true, columns = {'ref': 'VARCHAR', 'id': 'VARCHAR'}, auto_detect = false, "
            "quote = '\"', escape = '\"', delim = ',')"
        )

    def call_log_finish_checks(self, default_member: bool) -> None:
        for kind in ("lead", "contact", "member"):
            if not self.db.execute(
                f"SELECT count(*) FROM information_schema.tables WHERE table_name = '{kind}_lookup'"
            ).fetchone()[0]:
                self.add_lookup(kind, [])
        self.db.execute(
            f"""
            CREATE TABLE checked AS
            SELECT t.*, l.id AS lead_id, ct.id AS contact_id, m.id AS member_id,
                   nullif(concat_ws('; ',
                     CASE WHEN t.extra THEN 'the row has more values than the header has columns' END,
                     CASE WHEN t.lead_ref IS NOT NULL AND l.id IS NULL
                          THEN 'lead: no lead with email or id ' || {_quote_value("t.lead_ref")} END,
                     CASE WHEN t.contact_ref IS NOT NULL AND ct.id IS NULL
                          THEN 'contact: no contact with email or id ' || {_quote_value("t.contact_ref")} END,
                     CASE WHEN t.lead_ref IS NULL AND t.contact_ref IS NULL
                          THEN 'a call log belongs to a lead or a contact (map a lead or contact column)' END,
                     CASE WHEN t.member_ref IS NOT NULL AND m.id IS NULL
                          THEN 'member: no team member with email, name or id ' || {_quote_value("t.member_ref")} END,
                     CASE WHEN t.direction_raw IS NOT NULL AND t.direction IS NULL
                          THEN 'direction: ' || {_quote_value("t.direction_raw")} || ' is not {_DIRECTION_NAMES}' END,
                     CASE WHEN t.phone_number IS NOT NULL AND NOT regexp_full_match(t.phone_number, {_q(PHONE_RE)})
                          THEN 'phone_number: ' || {_quote_value("t.phone_number")} || ' is not a phone number' END,
                     CASE WHEN t.started_raw IS NOT NULL AND t.started_at IS NULL
                          THEN 'started_at: ' || {_quote_value("t.started_raw")} || ' is not a date and time' END,
                     CASE WHEN t.duration_raw IS NOT NULL AND (t.duration_num IS NULL OR isnan(t.duration_num))
                          THEN 'duration: ' || {_quote_value("t.duration_raw")} || ' is not a number of seconds'
                          WHEN t.duration_num < 0 OR t.duration_num > {MAX_CALL_SECONDS}
                          THEN 'duration: ' || {_quote_value("t.duration_raw")} || ' is not between 0 and {MAX_CALL_SECONDS} seconds' END,
                     CASE WHEN t.recording_url IS NOT NULL AND NOT regexp_full_match(t.recording_url, {_q(URL_RE)})
                          THEN 'recording_url: ' || {_quote_value("t.recording_url")} || ' is not a URL' END,
                     {self._text_check("outcome", "t.outcome")},
                     {self._text_check("notes", "t.notes", LONG_TEXT_MAX)},
                     {self._text_check("transcript", "t.transcript", LONG_TEXT_MAX)}
                   ), '') AS reason
            FROM typed t
            LEFT JOIN lead_lookup l ON l.ref = t.lead_ref
            LEFT JOIN contact_lookup ct ON ct.ref = t.contact_ref
            LEFT JOIN member_lookup m ON m.ref = t.member_ref
            """
        )

    def deal_rows(self, fields: Sequence[str]) -> list[tuple[int, dict[str, Any], bool, str]]:
        """Every data row of a deal import as ``(row_no, {field: cleaned text, "custom": JSON
        text}, has extra values, original cells as JSON)``: deals are checked row by row in
        Python (:mod:`ingestion.deals`) and written through the deal service."""
        exprs = ", ".join(f"{self.field_expr(f)} AS {_ident(f)}" for f in fields)
        rows = self.db.execute(
            f"SELECT row_no, {exprs}, {self.custom_expr()} AS custom, "
            f"coalesce({self._extra_values()}, false) AS extra, {self._values_json()} AS original "
            "FROM rows ORDER BY row_no"
        ).fetchall()
        n = len(fields)
        return [
            (int(r[0]), {**dict(zip(fields, r[1 : n + 1], strict=True)), "custom": r[n + 1]},
             bool(r[n + 2]), r[n + 3])
            for r in rows
        ]  # fmt: skip

    # ------------------------------------------------------------------ output

    def _write_rows(self, select: str, parts: int) -> list[Path]:
        """COPY files of the rows ``select`` gives (it has a ``batch_no`` column), split into
        ``parts`` files by batch so each batch is whole in one file."""
        # The rows' batch and id come from values, not from the output's order: let DuckDB
        # write in parallel.
        self.db.execute("SET preserve_insertion_order = false")
        paths = []
        for k in range(max(1, parts)):
            path = self.workdir / f"rows.{k}.copy.csv"
            where = f"WHERE batch_no % {parts} = {k}" if parts > 1 else ""
            self.db.execute(
                f"""
                COPY (SELECT * FROM ({select}) {where})
                TO {_q(str(path))} (FORMAT csv, HEADER false, QUOTE '"', ESCAPE '"', NULLSTR '')
                """
            )
            paths.append(path)
        return paths

    def _write_rejects(self, import_id: str) -> Path:
        path = self.workdir / "rejects.copy.csv"
        self.db.execute(
            f"""
            COPY (SELECT {_q(import_id)} AS import_id, c.row_no, c.reason,
                         {self._values_json("r.")} AS original
                  FROM checked c JOIN rows r ON r.row_no = c.row_no
                  WHERE c.reason IS NOT NULL ORDER BY c.row_no)
            TO {_q(str(path))} (FORMAT csv, HEADER false, QUOTE '"', ESCAPE '"', NULLSTR '')
            """
        )
        return path

    def finish_leads(
        self, import_id: str, policy: str, batch_size: int, parts: int = 1
    ) -> StageResult:
        fields = (*LEAD_FILE_COLUMNS, *LEAD_STAGED_EXTRA)
        good_cols = ", ".join(f"{_GOOD_EXPR.get(c, c)} AS {c}" for c in fields)
        self.db.execute(
            f"CREATE VIEW good AS SELECT row_no, email_key, {good_cols} "
            "FROM checked WHERE reason IS NULL"
        )
        # In-file duplicates: one row per email. skip keeps the first row; update folds the
        # later rows' values over it (last non-empty value wins); merge only fills what the
        # first row left empty (first non-empty value wins).
        if policy == "skip":
            self.db.execute(
                """
                CREATE TABLE kept AS
                SELECT *, 0 AS folded FROM good
                WHERE email_key IS NULL OR row_no IN (
                  SELECT min(row_no) FROM good WHERE email_key IS NOT NULL GROUP BY email_key)
                ORDER BY row_no
                """
            )
        else:
            agg = "arg_max" if policy == "update" else "arg_min"
            cols = ", ".join(
                f"{agg}({c}, row_no) FILTER (WHERE {c} IS NOT NULL) AS {c}" for c in fields
            )
            self.db.execute(
                f"""
                CREATE TABLE kept AS
                SELECT * FROM (
                  SELECT min(row_no) AS row_no, email_key, {cols}, count(*) - 1 AS folded
                  FROM good WHERE email_key IS NOT NULL GROUP BY email_key
                  UNION ALL BY NAME
                  SELECT *, 0 AS folded FROM good WHERE email_key IS NULL)
                ORDER BY row_no
                """
            )
        total, rejected = self.db.execute(
            "SELECT count(*), count(*) FILTER (WHERE reason IS NOT NULL) FROM checked"
        ).fetchone()
        good, staged, folded = self.db.execute(
            "SELECT (SELECT count(*) FROM good), count(*), coalesce(sum(folded), 0) FROM kept"
        ).fetchone()
        # kept is in row order (insertion order is preserved), so its rowid numbers the rows.
        seq = "(rowid + 1)"
        # The created event's changes for the file's fields (``[null, value]`` per non-empty
        # field; concat_ws drops the empty ones), as api.leads.bulk completes them.
        pairs = ", ".join(
            f"'\"{c}\":[null,' || to_json({_CHANGE_EXPR.get(c, c)}) || ']'"
            for c in ("id", *LEAD_FILE_COLUMNS)
        )
        values = {
            "import_id": _q(import_id),
            "batch_no": f"((seq - 1) // {batch_size})::INTEGER",
            "changes": f"'{{' || concat_ws(',', {pairs}) || '}}'",
            "lead_id": "id",
        }
        select = ", ".join(f"{values.get(c, c)} AS {c}" for c in LEAD_RAW_COLUMNS)
        rows_paths = self._write_rows(
            f"SELECT {select} "
            f"FROM (SELECT *, {seq} AS seq, {_id_sql('lead', seq)} AS id FROM kept)",
            parts,
        )
        return StageResult(
            total_rows=int(total),
            rejected=int(rejected),
            skipped_duplicates=int(good - staged - folded),
            staged_rows=int(staged),
            folded_rows=int(folded),
            batches=-(-int(staged) // batch_size),
            rows_paths=rows_paths,
            rejects_path=self._write_rejects(import_id),
            copy_columns=list(LEAD_RAW_COLUMNS),
        )

    def finish_call_logs(self, import_id: str, batch_size: int, parts: int = 1) -> StageResult:
        total, rejected, staged = self.db.execute(
            "SELECT count(*), count(*) FILTER (WHERE reason IS NOT NULL), "
            "count(*) FILTER (WHERE reason IS NULL) FROM checked"
        ).fetchone()
        seq = "row_number() OVER (ORDER BY row_no)"
        rows_paths = self._write_rows(
            f"""
            SELECT {_q(import_id)}, ((({seq}) - 1) // {batch_size})::INTEGER AS batch_no, row_no,
                     {_id_sql("call", seq)}, lead_id, contact_id, member_id, direction,
                     phone_number, strftime(started_at, '%Y-%m-%dT%H:%M:%S.%f+00:00'),
                     round(duration_num)::INTEGER, outcome, notes, transcript, recording_url,
                     custom
              FROM checked WHERE reason IS NULL""",
            parts,
        )
        return StageResult(
            total_rows=int(total),
            rejected=int(rejected),
            skipped_duplicates=0,
            staged_rows=int(staged),
            folded_rows=0,
            batches=-(-int(staged) // batch_size),
            rows_paths=rows_paths,
            rejects_path=self._write_rejects(import_id),
            copy_columns=list(CALL_LOG_RAW_COLUMNS),
        )

    # ------------------------------------------------------------------ preview

    def sample(self, n: int = 20) -> list[dict[str, Any]]:
        cols = ", ".join(f"c{i}" for i in range(self.ncols))
        # The first rows are near the top: look there first, then (many blank lines) everywhere.
        rows = self.db.execute(
            f"SELECT {cols} FROM rows WHERE row_no <= {10 * int(n) + 1000} "
            f"ORDER BY row_no LIMIT {int(n)}"
        ).fetchall()
        if len(rows) < n:
            rows = self.db.execute(
                f"SELECT {cols} FROM rows ORDER BY row_no LIMIT {int(n)}"
            ).fetchall()
        return [dict(zip(self.prepared.columns, r, strict=True)) for r in rows]

    def row_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM rows").fetchone()[0])


def _quote_value(expr: str) -> str:
    """SQL for ``'value'`` quoted in a reason (cut at 60 characters)."""
    return (
        f"('''' || CASE WHEN length({expr}) > 60 THEN left({expr}, 57) || '...' "
        f"ELSE {expr} END || '''')"
    )


def _free_mail() -> frozenset[str]:
    from api.accounts.service import FREE_MAIL

    return FREE_MAIL
