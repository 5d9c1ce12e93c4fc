{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key=['team_id', 'object_type', 'object_id', 'version'],
        indexes=[
            {'columns': ['team_id', 'object_type', 'object_id', 'version'], 'unique': true},
            {'columns': ['_loaded_at']},
            {'columns': ['_loaded_xmin']},
        ],
    )
}}

{#
  One row per version of every record in the event log: the record's full state (jsonb) after
  each event that changed it, valid from that event until the next one. The state at moment t:

      where valid_from <= t and (valid_to > t or valid_to is null)

  Incremental: events of transactions unfinished at the previous run (txid >= its snapshot
  xmin) are candidates; for each record they touch, only events after the record's current
  version count (a record's events are ordered by id: its row lock serialises its writers).
  The current version is re-emitted with its valid_to set, and the new versions continue from
  its state. _loaded_at marks when a version was added (downstream incremental models read
  the versions added since their last run).

  Shape: no joins between the intermediate results (their row counts are unknown to the
  planner); per-record look-ups go through the unique index, the rest is sorts and windows.
#}

{%- set keys = 'team_id, object_type, object_id' %}

with candidates as (

    select
        team_id,
        event_id,
        occurred_at,
        actor_type,
        actor_id,
        object_type,
        object_id,
        action,
        changes
    from {{ ref('stg_app__events') }}
    where changes <> '{}'::jsonb
    {% if is_incremental() %}
      and txid >= {{ watermark('_loaded_xmin', 'xid8') }}
    {% endif %}

),

{% if is_incremental() %}

events as (

    -- events after their record's current version (not yet applied)
    select candidates.*
    from candidates
    left join lateral (
        select h.event_id
        from {{ this }} as h
        where h.team_id = candidates.team_id
          and h.object_type = candidates.object_type
          and h.object_id = candidates.object_id
        order by h.version desc
        limit 1
    ) as applied on true
    where candidates.event_id > coalesce(applied.event_id, 0)

),

prior as (

    -- the current version of each record with new events
    select current_version.*
    from (select distinct {{ keys }} from events) as touched
    cross join lateral (
        select h.*
        from {{ this }} as h
        where h.team_id = touched.team_id
          and h.object_type = touched.object_type
          and h.object_id = touched.object_id
        order by h.version desc
        limit 1
    ) as current_version

),

{% else %}

events as (

    select * from candidates

),

{% endif %}

field_values as (

    -- one row per changed field, each carrying its event; a sentinel field '' per event keeps
    -- every event; a record's prior version is one row holding its whole state ('@prior')
    {% if is_incremental() %}
    select
        prior.team_id, prior.object_type, prior.object_id, prior.event_id,
        true as is_prior, prior.version as prior_version, prior.action,
        prior.actor_type, prior.actor_id, prior.valid_from as occurred_at,
        prior.changed_fields, prior.record_created_at, prior._loaded_at, prior._loaded_xmin,
        '@prior' as field_name, prior.state as field_value
    from prior

    union all
    {% endif %}

    select
        events.team_id, events.object_type, events.object_id, events.event_id,
        false as is_prior, null::integer as prior_version, events.action,
        events.actor_type, events.actor_id, events.occurred_at,
        null::jsonb as changed_fields, null::timestamptz as record_created_at,
        null::timestamptz as _loaded_at, null::xid8 as _loaded_xmin,
        change.key as field_name, change.value -> 1 as field_value
    from events
    cross join lateral (
        select * from jsonb_each(events.changes) union all select '', null
    ) as change

),

states as (

    -- per event: the record's state after it (every field's latest value so far)
    select distinct on ({{ keys }}, event_id)
        team_id, object_type, object_id, event_id, is_prior, prior_version, action,
        actor_type, actor_id, occurred_at, record_created_at, _loaded_at, _loaded_xmin,
        case
            when is_prior then changed_fields
            else jsonb_agg(field_name) filter (where field_name <> '') over (
                partition by {{ keys }}, event_id
                order by field_name
                rows between unbounded preceding and unbounded following
            )
        end as changed_fields,
        jsonb_object_agg(field_name, field_value) over (
            partition by {{ keys }}
            order by event_id
            range between unbounded preceding and current row
        ) as fields_so_far
    from field_values
    order by {{ keys }}, event_id

),

versions as (

    select
        team_id,
        object_type,
        object_id,
        case
            when is_prior then prior_version
            else coalesce(max(prior_version) over record, 0)
                 + count(*) filter (where not is_prior) over record_so_far
        end as version,
        event_id,
        action,
        actor_type,
        actor_id,
        -- never before the previous version (a writer that began earlier may commit later)
        max(occurred_at) over record_so_far as valid_from,
        -- the prior version's state, then every field changed since (latest value wins)
        coalesce(fields_so_far -> '@prior', '{}'::jsonb) || (fields_so_far - '@prior' - '')
            as state,
        changed_fields,
        coalesce(
            max(record_created_at) over record,
            min(occurred_at) over record
        ) as record_created_at,
        case when is_prior then _loaded_at else now() end as _loaded_at,
        case
            when is_prior then _loaded_xmin
            -- evaluated once: the transactions this run could not see begin at its xmin
            else (select app.event_horizon())
        end as _loaded_xmin
    from states
    window
        record as (partition by {{ keys }}),
        record_so_far as (
            partition by {{ keys }}
            order by event_id
            rows between unbounded preceding and current row
        )

)

select
    team_id,
    object_type,
    object_id,
    version,
    event_id,
    action,
    actor_type,
    actor_id,
    valid_from,
    lead(valid_from) over record_versions as valid_to,
    lead(valid_from) over record_versions is null as is_current,
    state ->> 'deleted_at' is not null as is_deleted,
    state,
    changed_fields,
    record_created_at,
    _loaded_at,
    _loaded_xmin
from versions
window record_versions as (partition by {{ keys }} order by version)
