{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key=['event_id', 'field_name'],
        indexes=[
            {'columns': ['event_id', 'field_name'], 'unique': true},
            {'columns': ['team_id', 'object_type', 'object_id', 'event_id']},
            {'columns': ['_loaded_xmin']},
            {'columns': ['_loaded_at']},
        ],
    )
}}

{#
  One row per changed field per event. Incremental on the event log's transaction ids: a run
  reads the events of every transaction that had not finished when the previous run read the
  log (txid >= that run's snapshot xmin), so an event committed late is never skipped; events
  already loaded are left out (replace_keys on event_id, field_name keeps reruns idempotent).
#}

with events as (

    select *
    from {{ ref('stg_app__events') }} as e
    where changes <> '{}'::jsonb
    {% if is_incremental() %}
      and txid >= {{ watermark('_loaded_xmin', 'xid8') }}
      -- re-read but already loaded (its transaction had finished after all): nothing to do
      and not exists (select 1 from {{ this }} as loaded where loaded.event_id = e.event_id)
    {% endif %}

),

fields as (

    select
        events.team_id,
        events.event_id,
        events.txid,
        events.occurred_at,
        events.actor_type,
        events.actor_id,
        events.object_type,
        events.object_id,
        events.action,
        change.key as field_name,
        change.value -> 0 as value_before,
        change.value -> 1 as value_after
    from events
    cross join lateral jsonb_each(events.changes) as change

)

select
    team_id,
    event_id,
    txid,
    occurred_at,
    actor_type,
    actor_id,
    object_type,
    object_id,
    action,
    field_name,
    value_before,
    value_after,
    value_before #>> '{}' as value_before_text,
    value_after #>> '{}' as value_after_text,
    batch._loaded_xmin,
    batch._loaded_at
from fields
-- once per run: the transactions this run could not see yet begin at the snapshot's xmin
cross join (
    select app.event_horizon() as _loaded_xmin, now() as _loaded_at
) as batch
