{{
    config(
        materialized='incremental',
        incremental_strategy='delete_window',
        unique_key=['team_id', 'deal_id'],
        window_column='snapshot_date',
        indexes=[
            {'columns': ['team_id', 'deal_id', 'snapshot_date'], 'unique': true},
            {'columns': ['team_id', 'snapshot_date']},
            {'columns': ['_history_loaded_at']},
        ],
    )
}}

{#
  One row per deal per UTC day, from the day it was created to today: the deal as it was at the
  end of that day (today: now), rebuilt from the event log (int_record_history), and its stage's
  forecast category as the pipeline defined it at the end of that day (the pipeline's own
  versions in the event log). Nothing here reads the current app tables, so the rows of a past
  day computed today are what that day's rows were: a forecast "as of" a past date is
  reproducible (tests/dbt/test_deals_models.py checks it against the live numbers of that day).
  Days after a deal was deleted have no row; the day it happened has one with is_deleted.

  Incremental: deals with versions added to the history since the last run are rebuilt from the
  day of their first new version; a pipeline with a new version rebuilds every deal that was in
  it from that day (stage categories may have changed); when the date has moved on, every live
  deal gets the new days. The delete_window strategy replaces each rebuilt deal's days from
  there on.
#}

with

{% if is_incremental() %}
changed as (

    -- deals and pipelines with versions added since the last run, from their first new day
    select
        team_id,
        object_type,
        object_id,
        min({{ utc_date('valid_from') }}) as from_date
    from {{ ref('int_record_history') }}
    where object_type in ('deal', 'pipeline')
      and _loaded_at > {{ watermark('_history_loaded_at', 'timestamptz') }}
    group by team_id, object_type, object_id

),

rebuild as (

    select team_id, deal_id, min(from_date) as from_date
    from (
        select team_id, object_id as deal_id, from_date
        from changed
        where object_type = 'deal'

        union all

        -- every deal that was ever in a changed pipeline
        select history.team_id, history.object_id, changed.from_date
        from changed
        inner join {{ ref('int_record_history') }} as history
            on history.team_id = changed.team_id
            and history.object_type = 'deal'
            and history.state ->> 'pipeline_id' = changed.object_id
        where changed.object_type = 'pipeline'

        union all

        -- the date moved on since the last run: every live deal gets the days since
        {{ days_since_last_run('deal') }}
    ) as pending
    group by team_id, deal_id

),
{% endif %}

deal_days as (

    -- the deals' states at the end of each day (the rebuilt deals from their from_date)
    {{ daily_versions('deal', 'rebuild', 'deal_id') }}

),

pipeline_days as (

    -- the pipelines' definitions at the end of each day (a deleted one still defines its
    -- deals' stages)
    select team_id, object_id as pipeline_id, snapshot_date, state -> 'stages' as stages
    from ({{ daily_versions('pipeline', deleted_days='all') }}) as pipeline

),

deal_states as (

    select
        deal_days.team_id,
        deal_days.object_id as deal_id,
        deal_days.snapshot_date,
        deal_days.version,
        deal_days.is_deleted,
        deal_days.state ->> 'pipeline_id' as pipeline_id,
        deal_days.state ->> 'stage' as stage,
        coalesce(deal_days.state ->> 'status', 'open') as status,
        (deal_days.state ->> 'value')::numeric(18, 2) as value,
        deal_days.state ->> 'currency' as currency,
        deal_days.state ->> 'value_type' as value_type,
        (deal_days.state ->> 'probability')::integer as probability,
        (deal_days.state ->> 'expected_close_date')::date as expected_close_date,
        (deal_days.state ->> 'actual_close_date')::date as actual_close_date,
        deal_days.state ->> 'owner_id' as owner_id,
        pipeline_days.stages
    from deal_days
    left join pipeline_days
        on pipeline_days.team_id = deal_days.team_id
        and pipeline_days.pipeline_id = deal_days.state ->> 'pipeline_id'
        and pipeline_days.snapshot_date = deal_days.snapshot_date

)

select
    deal_states.team_id,
    deal_states.deal_id,
    deal_states.snapshot_date,
    deal_states.version,
    deal_states.pipeline_id,
    deal_states.stage,
    deal_states.status,
    stage_def.value ->> 'forecast_category' as forecast_category,
    deal_states.value,
    deal_states.currency,
    deal_states.value_type,
    deal_states.probability,
    (deal_states.value * deal_states.probability / 100.0)::numeric(20, 4) as weighted_value,
    deal_states.expected_close_date,
    deal_states.actual_close_date,
    date_trunc(
        'month',
        case
            when deal_states.status = 'open' then deal_states.expected_close_date
            else coalesce(deal_states.actual_close_date, deal_states.expected_close_date)
        end
    )::date as close_month,
    deal_states.owner_id,
    deal_states.is_deleted,
    (
        select max(_loaded_at)
        from {{ ref('int_record_history') }}
        where object_type in ('deal', 'pipeline')
    ) as _history_loaded_at
from deal_states
left join lateral (
    select s.value
    from jsonb_array_elements(deal_states.stages) as s (value)
    where s.value ->> 'key' = deal_states.stage
    limit 1
) as stage_def on true
