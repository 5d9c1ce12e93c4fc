"""Set-based lead writes: one batch of an import's landed rows into ``app.leads``, with events.

The rows come from ``raw.lead_import_rows`` (through the team-scoped view), already validated
and with in-file duplicates folded into one row per email. In the caller's tenant transaction,
:func:`load_batch`:

1. resolves each distinct owner (member id, email or name) and company domain (the account whose
   ``domain_normalized`` matches; linked in ``custom.account_id``) once per batch;
2. for the ``update`` and ``merge`` policies, locks the live leads with the same email
   (case-insensitive) and writes the file's values onto them (``update``: every value the file
   has; ``merge``: only fields the lead has empty), appending one ``updated`` event per lead that
   changed, with the before/after of each changed field (the format of :mod:`warehouse.events`);
3. inserts the other rows as new leads (``ON CONFLICT DO NOTHING`` on the unique email index, so
   a lead created meanwhile by someone else is skipped, never duplicated) and appends one
   ``created`` event per lead with every non-empty field as ``[null, value]``.

Each row carries its pre-assigned lead id, and rows whose id already exists are not inserted
again, so a batch that is re-run writes nothing twice. The events name the import and the row
in ``data`` and use the import's request id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.context import Actor

TEXT_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "title",
    "company_name",
    "source",
    "website",
    "industry",
    "location",
)
NUMBER_FIELDS = ("rating", "reviews_count", "website_score")
# Fields an import writes on an existing lead (email is the match key and stays as it is).
UPDATED_FIELDS = (*TEXT_FIELDS, "status", *NUMBER_FIELDS, "owner_id", "custom")
# Public lead fields in a created event, in the table's order (as RecordService writes them).
CREATED_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company_name",
    "source",
    "status",
    "rating",
    "reviews_count",
    "website",
    "website_score",
    "industry",
    "location",
    "owner_id",
    "created_by",
    "created_at",
    "custom",
)

# The batch's rows, each with its owner and account resolved by an index look-up. Every look-up
# below is a correlated subquery (or LATERAL ... OFFSET 0) keyed by the row's value, so it is an
# index probe per row whatever the planner believes about the sizes (the landing table is never
# analysed, and the API role cannot ANALYZE); no statement joins two of its CTEs.
_BATCH = """
    SELECT r.*,
           CASE WHEN r.owner IS NOT NULL THEN (
             SELECT m.id FROM app.team_members m
             WHERE m.team_id = :team_id
               AND (m.id = r.owner OR lower(m.email) = lower(r.owner)
                    OR lower(m.name) = lower(r.owner))
             ORDER BY (m.id = r.owner) DESC, (lower(m.email) = lower(r.owner)) DESC,
                      m.is_active DESC, m.created_at
             LIMIT 1) END AS owner_id,
           CASE WHEN r.domain IS NOT NULL THEN (
             SELECT jsonb_build_object('account_id', (array_agg(a.id ORDER BY a.created_at, a.id))[1])
             FROM app.accounts a
             WHERE a.team_id = :team_id AND a.domain_normalized = r.domain
               AND a.deleted_at IS NULL
             HAVING count(*) > 0) END AS link,
           coalesce(jsonb_strip_nulls(r.custom), '{}'::jsonb) AS file_custom
    FROM raw.team_lead_import_rows r
    WHERE r.import_id = :import_id AND r.batch_no = :batch_no
"""
# Nested loops with index probes only: a hash or merge join would read every lead of the team
# once per batch.
_PLAN = (text("SET LOCAL enable_hashjoin = off"), text("SET LOCAL enable_mergejoin = off"))

_EVENT_COLUMNS = (
    "team_id, actor_type, actor_id, object_type, object_id, action, changes, data, request_id"
)


def _new_value(field: str, policy: str, l: str = "l", s: str = "c") -> str:  # noqa: E741
    """SQL for the value an existing lead (``l``) gets from the file row (``s``: the columns
    ``f_<field>`` of ``cur``)."""
    if field == "status":
        if policy == "merge":
            return f"{l}.status"
        return (
            f"CASE WHEN {l}.status = 'converted' THEN {l}.status "
            f"ELSE coalesce({s}.f_status, {l}.status) END"
        )
    if field == "custom":
        link = f"coalesce({s}.f_link, '{{}}'::jsonb)"
        if policy == "merge":
            return f"{s}.f_custom || {link} || {l}.custom"
        return f"{l}.custom || {s}.f_custom || {link}"
    if policy == "update":
        return f"coalesce({s}.f_{field}, {l}.{field})"
    if field in TEXT_FIELDS:
        return f"coalesce(nullif({l}.{field}, ''), {s}.f_{field})"
    return f"coalesce({l}.{field}, {s}.f_{field})"


_FILE_COLUMNS = {
    **{f: f"s.{f}" for f in (*TEXT_FIELDS, *NUMBER_FIELDS, "status", "owner_id")},
    "custom": "s.file_custom",
    "link": "s.link",
}


def _update_sql(policy: str) -> str:
    file_cols = ", ".join(f"{expr} AS f_{name}" for name, expr in _FILE_COLUMNS.items())
    old_cols = ", ".join(f"l.{f} AS o_{f}" for f in UPDATED_FIELDS)
    sets = ",\n          ".join(f"{f} = {_new_value(f, policy, 'l', 'c')}" for f in UPDATED_FIELDS)
    # "changed" compares the values the SET writes with the current ones, on the locked row.
    changed = " OR ".join(
        f"({_new_value(f, policy, 'l', 'c')}) IS DISTINCT FROM l.{f}" for f in UPDATED_FIELDS
    )
    returning = ", ".join(f"l.{f}" for f in UPDATED_FIELDS)
    old_returning = ", ".join(f"c.o_{f}" for f in UPDATED_FIELDS)
    pairs = ", ".join(f"'{f}', jsonb_build_array(u.o_{f}, u.{f})" for f in UPDATED_FIELDS)
    same = ", ".join(
        f"CASE WHEN u.o_{f} IS NOT DISTINCT FROM u.{f} THEN '{f}' END" for f in UPDATED_FIELDS
    )
    return f"""
    WITH cur AS (
      SELECT l.id, {old_cols}, {file_cols}, s.row_no AS _row, s.folded AS _folded
      FROM ({_BATCH}) s
      CROSS JOIN LATERAL (
        SELECT x.* FROM app.leads x
        WHERE x.team_id = :team_id AND x.email_normalized = s.email_normalized
          AND x.deleted_at IS NULL
        OFFSET 0) l
      WHERE s.email_normalized IS NOT NULL
      FOR UPDATE OF l
    ),
    upd AS (
      UPDATE app.leads l SET
          {sets},
          version = l.version + 1, updated_at = now()
      FROM cur c
      WHERE l.team_id = :team_id AND l.id = c.id AND ({changed})
      RETURNING l.id, {returning}, {old_returning}, c._row
    ),
    ev AS (
      INSERT INTO app.events ({_EVENT_COLUMNS})
      SELECT :team_id, :actor_type, :actor_id, 'lead', u.id, 'updated',
             jsonb_build_object({pairs}) - array_remove(ARRAY[{same}]::text[], NULL),
             jsonb_build_object('import_id', CAST(:import_id AS text), 'row', u._row),
             :request_id
      FROM upd u
    )
    SELECT (SELECT count(*) FROM cur) AS matched,
           (SELECT coalesce(sum(_folded), 0) FROM cur) AS matched_folded,
           (SELECT count(*) FROM upd) AS changed
    """


def _insert_sql() -> str:
    cols = (
        "team_id, id, first_name, last_name, email, phone, title, company_name, source, status, "
        "rating, reviews_count, website, website_score, industry, location, owner_id, custom, "
        "created_by"
    )
    pairs = ", ".join(
        f"'{f}', CASE WHEN i.{f} IS NOT NULL THEN jsonb_build_array(NULL, i.{f}) END"
        for f in CREATED_FIELDS
    )
    return f"""
    WITH b AS ({_BATCH}),
    ins AS (
      INSERT INTO app.leads ({cols})
      SELECT :team_id, t.lead_id, t.first_name, t.last_name, t.email, t.phone, t.title,
             t.company_name, t.source, coalesce(t.status, 'new'), t.rating, t.reviews_count,
             t.website, t.website_score, t.industry, t.location, t.owner_id,
             t.file_custom || coalesce(t.link, '{{}}'::jsonb), :created_by
      FROM b t
      WHERE (SELECT l.id FROM app.leads l
             WHERE l.team_id = :team_id AND l.id = t.lead_id) IS NULL
        AND (t.email_normalized IS NULL OR (
             SELECT l.id FROM app.leads l
             WHERE l.team_id = :team_id AND l.email_normalized = t.email_normalized
               AND l.deleted_at IS NULL
             LIMIT 1) IS NULL)
      ORDER BY t.row_no
      ON CONFLICT (team_id, email_normalized) WHERE deleted_at IS NULL DO NOTHING
      RETURNING {", ".join(CREATED_FIELDS)}
    ),
    ev AS (
      INSERT INTO app.events ({_EVENT_COLUMNS})
      SELECT :team_id, :actor_type, :actor_id, 'lead', i.id, 'created',
             jsonb_strip_nulls(jsonb_build_object({pairs})),
             jsonb_build_object('import_id', CAST(:import_id AS text)),
             :request_id
      FROM ins i
    )
    SELECT (SELECT count(*) FROM b) AS rows,
           (SELECT coalesce(sum(folded), 0) FROM b) AS rows_folded,
           (SELECT count(*) FROM ins) AS inserted
    """


# Folded in-file duplicates of the rows that became new leads (update/merge policies only).
_INSERTED_FOLDED = text(
    """
    SELECT coalesce(sum(r.folded), 0) FROM raw.team_lead_import_rows r
    WHERE r.import_id = :import_id AND r.batch_no = :batch_no AND r.folded > 0
      AND (SELECT l.id FROM app.leads l WHERE l.team_id = :team_id AND l.id = r.lead_id)
          IS NOT NULL
    """
)

_UPDATE = {p: text(_update_sql(p)) for p in ("update", "merge")}
_INSERT = text(_insert_sql())


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What one batch did, counted in file rows (a folded in-file duplicate is a row too)."""

    imported: int  # rows that created a lead
    updated: int  # rows applied onto a lead that existed (or was created from an earlier row)
    skipped: int  # rows whose email belongs to a live lead (policy skip, or a race)
    changed: int  # existing leads whose values changed (one updated event each)


def _params(actor: Actor, import_id: str, batch_no: int) -> dict[str, Any]:
    return {
        "team_id": actor.team_id,
        "import_id": import_id,
        "batch_no": batch_no,
        "actor_type": actor.actor_type,
        "actor_id": actor.member_id,
        "request_id": actor.request_id,
        "created_by": actor.member_id if actor.actor_type != "system" else None,
    }


async def load_batch(
    conn: AsyncConnection, actor: Actor, import_id: str, batch_no: int, policy: str
) -> BatchCounts:
    """Write batch ``batch_no`` of import ``import_id`` into ``app.leads`` (see the module)."""
    params = _params(actor, import_id, batch_no)
    for setting in _PLAN:
        await conn.execute(setting)
    matched = matched_folded = changed = inserted_folded = 0
    if policy in _UPDATE:
        m = (await conn.execute(_UPDATE[policy], params)).one()
        matched, matched_folded, changed = int(m.matched), int(m.matched_folded), int(m.changed)
    r = (await conn.execute(_INSERT, params)).one()
    if policy in _UPDATE and int(r.rows_folded):
        inserted_folded = int((await conn.execute(_INSERTED_FOLDED, params)).scalar_one())
    rows = int(r.rows) + int(r.rows_folded)
    imported = int(r.inserted)
    updated = matched + matched_folded + inserted_folded
    return BatchCounts(imported, updated, rows - imported - updated, changed)


__all__ = ["BatchCounts", "load_batch"]
