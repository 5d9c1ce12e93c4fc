{#
  Open pipeline per day: count, total and probability-weighted value of the open deals per
  pipeline, stage, owner and currency at the end of each day (today: now). Stage name and
  order are the pipeline's current ones (null for a stage since removed).
#}

with

snapshots as (

    select *
    from {{ ref('fct_daily_pipeline_snapshot') }}
    where not is_deleted and status = 'open'

),

stages as (

    select team_id, pipeline_id, stage_key, stage_name, stage_order
    from {{ ref('int_pipeline_stages') }}

)

select
    snapshots.team_id::text as team_id,
    snapshots.snapshot_date::date as snapshot_date,
    snapshots.pipeline_id::text as pipeline_id,
    snapshots.stage::text as stage,
    max(stages.stage_name)::text as stage_name,
    max(stages.stage_order)::integer as stage_order,
    snapshots.owner_id::text as owner_id,
    coalesce(snapshots.currency, 'USD')::text as currency,
    count(*)::integer as open_deals,
    coalesce(sum(snapshots.value), 0)::numeric(18, 2) as total_value,
    round(coalesce(sum(snapshots.weighted_value), 0), 2)::numeric(18, 2) as weighted_value
from snapshots
left join stages
    on stages.team_id = snapshots.team_id
    and stages.pipeline_id = snapshots.pipeline_id
    and stages.stage_key = snapshots.stage
group by
    snapshots.team_id,
    snapshots.snapshot_date,
    snapshots.pipeline_id,
    snapshots.stage,
    snapshots.owner_id,
    coalesce(snapshots.currency, 'USD')
