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
3. inserts the other rows as new leads in one statement (``ON CONFLICT DO NOTHING``: a row whose
   email belongs to a live lead, for instance one created meanwhile by someone else, is skipped,
   never duplicated), then appends one ``created`` event per inserted lead with every non-empty
   field as ``[null, value]``: the file's fields come as JSON built by DuckDB while staging
   (``raw.lead_import_rows.changes``), the database adds the ones it resolved (owner, account
   link, ``created_by``, ``created_at``).

Each row carries its pre-assigned lead id, and a batch is one transaction with its progress, so
a batch that is re-run writes nothing twice (a row whose id exists is skipped by the same
``ON CONFLICT``). The events name the import in ``data`` and use the import's request id.

Where the time goes (``bench/import.py``, docs/imports.md): maintaining the nine indexes of
``app.leads`` and writing ~0.7 kB of event per lead, which is also what a bare ``INSERT ...
SELECT`` of the same rows costs; the statements read the landed rows once and probe an index per
row, and no per-row JSON is built in PostgreSQL (only the staged text is parsed).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.batches import BatchCounts, batch_params
from leadly.actor import Actor
from warehouse.models.imports import LEAD_FILE_COLUMNS as FILE_COLUMNS
from warehouse.models.imports import LEAD_FILE_FIELDS as FILE_FIELDS

# The file's fields and raw.lead_import_rows' columns: warehouse.models.imports.
TEXT_FIELDS = tuple(name for name, kind in FILE_FIELDS if kind == "text")
NUMBER_FIELDS = tuple(name for name, kind in FILE_FIELDS if kind == "number")
# Fields an import writes on an existing lead (email is the match key and stays as it is).
UPDATED_FIELDS = (*TEXT_FIELDS, "status", *NUMBER_FIELDS, "owner_id", "custom")
# Public lead fields in a created event (as RecordService writes them): ``id`` and the file
# fields come with the staged row (``changes``), the rest is resolved by the database.
CREATED_FIELDS = ("id", *FILE_COLUMNS, "owner_id", "created_by", "created_at", "custom")
RESOLVED_FIELDS = ("owner_id", "created_by", "created_at", "custom")

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


# New leads: the batch's rows, less (ON CONFLICT DO NOTHING, no target, so every unique index is
# an arbiter) those whose email belongs to a live lead (existing, or created meanwhile by someone
# else: skipped, never duplicated) and those whose pre-assigned id exists (a batch is one
# transaction, so a re-run batch finds none; the arbiter is the guarantee). No per-row look-up
# of our own: the arbiters' probes are the only ones.
_NEW_VALUE = {"status": "coalesce(t.status, 'new')"}
_INSERT = text(
    f"""
    INSERT INTO app.leads (team_id, id, {", ".join(FILE_COLUMNS)}, owner_id, custom, created_by)
    SELECT :team_id, t.lead_id, {", ".join(_NEW_VALUE.get(c, f"t.{c}") for c in FILE_COLUMNS)}, t.owner_id,
           t.file_custom || coalesce(t.link, '{{}}'::jsonb), :created_by
    FROM ({_BATCH}) t
    ON CONFLICT DO NOTHING
    """
)

# One created event per lead this transaction inserted (its row version's xmin is the
# transaction: an index probe by id per row, which also reads what the database resolved). The
# changes are the staged JSON of the file's fields plus the resolved ones, so the event is the
# one RecordService writes: every non-empty field as ``[null, value]``. The rows come in the
# landing table's key order (row order) without a sort.
# The same changes built by PostgreSQL from the inserted lead, for rows landed before the
# staging wrote them (an import that was running when this version was deployed).
_CHANGES_IN_SQL = "jsonb_strip_nulls(jsonb_build_object({}))".format(
    ", ".join(
        f"'{f}', CASE WHEN l.{f} IS NOT NULL THEN jsonb_build_array(NULL, l.{f}) END"
        for f in ("id", *FILE_COLUMNS)
    )
)
_CREATED_EVENTS = text(
    f"""
    INSERT INTO app.events ({_EVENT_COLUMNS})
    SELECT :team_id, :actor_type, :actor_id, 'lead', l.id, 'created',
           coalesce(CAST(r.changes AS jsonb), {_CHANGES_IN_SQL}) || jsonb_strip_nulls(jsonb_build_object(
             'owner_id', CASE WHEN l.owner_id IS NOT NULL
                              THEN jsonb_build_array(NULL, l.owner_id) END,
             'created_by', CASE WHEN l.created_by IS NOT NULL
                                THEN jsonb_build_array(NULL, l.created_by) END,
             'created_at', jsonb_build_array(NULL, l.created_at),
             'custom', jsonb_build_array(NULL, l.custom))),
           jsonb_build_object('import_id', CAST(:import_id AS text)),
           :request_id
    FROM raw.team_lead_import_rows r
    CROSS JOIN LATERAL (
      SELECT x.* FROM app.leads x
      WHERE x.team_id = :team_id AND x.id = r.lead_id AND x.xmin = xid(pg_current_xact_id())
      OFFSET 0) l
    WHERE r.import_id = :import_id AND r.batch_no = :batch_no
    """
)

_BATCH_ROWS = text(
    """
    SELECT count(*) AS rows, coalesce(sum(r.folded), 0) AS rows_folded
    FROM raw.team_lead_import_rows r
    WHERE r.import_id = :import_id AND r.batch_no = :batch_no
    """
)

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


async def load_batch(
    conn: AsyncConnection, actor: Actor, import_id: str, batch_no: int, policy: str
) -> BatchCounts:
    """Write batch ``batch_no`` of import ``import_id`` into ``app.leads`` (see the module)."""
    params = batch_params(actor, import_id, batch_no)
    for setting in _PLAN:
        await conn.execute(setting)
    matched = matched_folded = changed = inserted_folded = 0
    if policy in _UPDATE:
        m = (await conn.execute(_UPDATE[policy], params)).one()
        matched, matched_folded, changed = int(m.matched), int(m.matched_folded), int(m.changed)
    imported = (await conn.execute(_INSERT, params)).rowcount
    if imported:
        events = (await conn.execute(_CREATED_EVENTS, params)).rowcount
        if events != imported:  # cannot happen: one statement reads what the other wrote
            raise RuntimeError(f"{imported} leads inserted but {events} created events")
    b = (await conn.execute(_BATCH_ROWS, params)).one()
    if policy in _UPDATE and int(b.rows_folded):
        inserted_folded = int((await conn.execute(_INSERTED_FOLDED, params)).scalar_one())
    rows = int(b.rows) + int(b.rows_folded)
    updated = matched + matched_folded + inserted_folded
    return BatchCounts(imported, updated, rows - imported - updated, changed)


__all__ = ["load_batch"]
