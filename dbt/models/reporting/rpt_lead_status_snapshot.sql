{{
    config(
        materialized='incremental',
        incremental_strategy='delete_window',
        unique_key=['team_id'],
        window_column='snapshot_date',
        indexes=[{'columns': ['team_id', 'snapshot_date']}],
    )
}}

{#
  Leads per status at the end of each day (UTC): one row per team × snapshot_date × status,
  from fct_daily_lead_snapshot (live leads only; a zero row where the
  last lead of a status was deleted that day). Incremental: each team's days from the
  earliest day whose lead snapshots were rebuilt since the last run.
#}

with

{% if is_incremental() %}
rebuilt as (

    select team_id, min(snapshot_date) as from_date
    from {{ ref('fct_daily_lead_snapshot') }}
    where _history_loaded_at > {{ watermark('_snapshot_loaded_at', 'timestamptz') }}
    group by team_id

),
{% endif %}

snapshots as (

    {% if is_incremental() %}
    select snapshot.*
    from rebuilt
    cross join lateral (
        select *
        from {{ ref('fct_daily_lead_snapshot') }} as s
        where s.team_id = rebuilt.team_id
          and s.snapshot_date >= rebuilt.from_date
    ) as snapshot
    {% else %}
    select * from {{ ref('fct_daily_lead_snapshot') }}
    {% endif %}

)

select
    team_id::text as team_id,
    snapshot_date::date as snapshot_date,
    status::text as status,
    -- a lead deleted that day keeps its team's day in the rebuild window with a zero row
    (count(*) filter (where not is_deleted))::integer as leads,
    max(_history_loaded_at)::timestamptz as _snapshot_loaded_at
from snapshots
group by team_id, snapshot_date, status
