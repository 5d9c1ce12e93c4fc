{#
  One row per deal per UTC day, from the day it was created to today: the deal as it was at the
  end of that day (today: now), rebuilt from the event log (int_record_history), and its stage's
  forecast category as the pipeline defined it at the end of that day (the pipeline's own
  versions in the event log). Nothing here reads the current app tables, so the rows of a past
  day computed today are what that day's rows were: a forecast "as of" a past date is
  reproducible (tests/dbt/test_deals_models.py checks it against the live numbers of that day).
  Days after a deal was deleted have no row; the day it happened has one with is_deleted.
#}

{% set today = analytics_today() %}

with

versions as (

    select
        team_id,
        object_type,
        object_id,
        version,
        is_deleted,
        state,
        {{ utc_date('valid_from') }} as first_day,
        case
            when valid_to is null then {{ today }}
            else {{ utc_date('valid_to') }} - 1
        end as last_day
    from {{ ref('int_record_history') }}
    where object_type in ('deal', 'pipeline')

),

deal_days as (

    select versions.*, day::date as snapshot_date
    from versions
    cross join lateral generate_series(
        versions.first_day::timestamp,
        case
            when versions.is_deleted then least(versions.first_day, versions.last_day)
            else least(versions.last_day, {{ today }})
        end::timestamp,
        interval '1 day'
    ) as day
    where versions.object_type = 'deal'

),

pipeline_days as (

    select
        versions.team_id,
        versions.object_id as pipeline_id,
        day::date as snapshot_date,
        versions.state -> 'stages' as stages
    from versions
    cross join lateral generate_series(
        versions.first_day::timestamp,
        least(versions.last_day, {{ today }})::timestamp,
        interval '1 day'
    ) as day
    where versions.object_type = 'pipeline'

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
    deal_states.is_deleted
from deal_states
left join lateral (
    select s.value
    from jsonb_array_elements(deal_states.stages) as s (value)
    where s.value ->> 'key' = deal_states.stage
    limit 1
) as stage_def on true
