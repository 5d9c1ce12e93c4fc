{{
    config(
        materialized='incremental',
        incremental_strategy='delete_window',
        unique_key=['team_id', 'lead_id'],
        window_column='snapshot_date',
        indexes=[
            {'columns': ['team_id', 'lead_id', 'snapshot_date'], 'unique': true},
            {'columns': ['team_id', 'snapshot_date']},
            {'columns': ['snapshot_date']},
            {'columns': ['_history_loaded_at']},
        ],
    )
}}

{#
  One row per lead per day (UTC) from the day it was created to today: its state at the end of
  that day (today: now), rebuilt from int_record_history, so past days show past values. Days
  after a lead was deleted or merged away have no row; the day it happened has one with
  is_deleted = true.

  Incremental: leads with versions added to the history since the last run are rebuilt from
  the day of their first new version; when the date has moved on, every live lead also gets
  the new days. The delete_window strategy replaces each rebuilt lead's days from there on.
#}

{% set today = analytics_today() %}

with

{% if is_incremental() %}
watermark as (

    select
        {{ watermark('snapshot_date', 'date') }} as last_date,
        {{ watermark('_history_loaded_at', 'timestamptz') }} as last_loaded_at

),

changed_leads as (

    select
        history.team_id,
        history.object_id as lead_id,
        min({{ utc_date('history.valid_from') }}) as from_date
    from {{ ref('int_record_history') }} as history
    where history.object_type = 'lead'
      and history._loaded_at > {{ watermark('_history_loaded_at', 'timestamptz') }}
    group by history.team_id, history.object_id

),

new_days as (

    -- the date moved on since the last run: every live lead gets the days since
    select history.team_id, history.object_id as lead_id, watermark.last_date + 1 as from_date
    from {{ ref('int_record_history') }} as history
    cross join watermark
    where history.object_type = 'lead'
      and history.is_current
      and not history.is_deleted
      -- a constant (one-time filter): no scan at all while the date has not moved on
      and {{ watermark('snapshot_date', 'date') }} < {{ today }}

),

rebuild as (

    select team_id, lead_id, min(from_date) as from_date
    from (
        select * from changed_leads
        union all
        select * from new_days
    ) as pending
    group by team_id, lead_id

),
{% endif %}

versions as (

    select
        history.team_id,
        history.object_id as lead_id,
        history.version,
        history.is_deleted,
        history.state,
        {{ utc_date('history.valid_from') }} as first_day,
        -- the last day this version was the state at the end of the day
        case
            when history.valid_to is null then {{ today }}
            else {{ utc_date('history.valid_to') }} - 1
        end as last_day
        {%- if is_incremental() %},
        rebuild.from_date
        {%- endif %}
    {% if is_incremental() %}
    -- the rebuilt leads' versions that cover a day from their from_date (index lookups)
    from rebuild
    cross join lateral (
        select *
        from {{ ref('int_record_history') }} as h
        where h.team_id = rebuild.team_id
          and h.object_type = 'lead'
          and h.object_id = rebuild.lead_id
          and (h.valid_to is null or {{ utc_date('h.valid_to') }} > rebuild.from_date)
    ) as history
    {% else %}
    from {{ ref('int_record_history') }} as history
    where history.object_type = 'lead'
    {% endif %}

),

days as (

    select
        versions.*,
        day::date as snapshot_date
    from versions
    cross join lateral generate_series(
        {% if is_incremental() -%}
        greatest(versions.first_day, versions.from_date)::timestamp
        {%- else -%}
        versions.first_day::timestamp
        {%- endif %},
        -- a deleted state shows on the day it began only
        case
            when versions.is_deleted then least(versions.first_day, versions.last_day)
            else least(versions.last_day, {{ today }})
        end::timestamp,
        interval '1 day'
    ) as day

)

select
    team_id,
    lead_id,
    snapshot_date,
    version,
    state ->> 'status' as status,
    state ->> 'owner_id' as owner_id,
    coalesce(nullif(state ->> 'source', ''), 'unknown') as source,
    (state ->> 'rating')::numeric(2, 1) as rating,
    (state ->> 'reviews_count')::integer as reviews_count,
    (state ->> 'website_score')::integer as website_score,
    is_deleted,
    (select max(_loaded_at) from {{ ref('int_record_history') }} where object_type = 'lead')
        as _history_loaded_at
from days
