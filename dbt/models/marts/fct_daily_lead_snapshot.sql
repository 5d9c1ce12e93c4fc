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

with

{% if is_incremental() %}
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
    {{ days_since_last_run('lead', 'lead_id') }}

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

days as (

    -- the leads' states at the end of each day (the rebuilt leads from their from_date)
    {{ daily_versions('lead', 'rebuild', 'lead_id') }}

)

select
    team_id,
    object_id as lead_id,
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
