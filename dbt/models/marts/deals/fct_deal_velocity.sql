{#
  How long deals stay in each stage. Grain: team_id × pipeline_id × owner_id × stage ×
  transition_month: the deals that left `stage` that month (UTC) while owned by owner_id
  (null: unassigned), how many, and the average and median days they had spent in it.
#}

with transitions as (

    select *
    from {{ ref('fct_deal_stage_transitions') }}
    where not is_creation and duration_in_stage_seconds is not null

)

select
    team_id,
    pipeline_id,
    owner_id,
    from_stage as stage,
    date_trunc('month', changed_date)::date as transition_month,
    count(*)::integer as transitions,
    sum(duration_in_stage_seconds)::bigint as total_seconds,
    round(avg(duration_in_stage_seconds) / 86400.0, 2) as avg_days,
    round(
        (percentile_cont(0.5) within group (order by duration_in_stage_seconds) / 86400.0)::numeric,
        2
    ) as median_days
from transitions
group by team_id, pipeline_id, owner_id, from_stage, date_trunc('month', changed_date)
