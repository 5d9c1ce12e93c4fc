{#
  One row per stage change of a deal (and its creation, from_stage null), from the stage
  history the deal service writes in the same transaction as the change: when, by whom, the
  owner then, and how long the deal had been in the stage it left. Stage order and won/lost
  flags come from the pipeline's current definition (null for a stage since removed).
#}

with

transitions as (

    select * from {{ ref('stg_app__deal_stage_history') }}

),

deals as (

    select team_id, deal_id, value, currency, is_deleted from {{ ref('stg_app__deals') }}

),

stages as (

    select team_id, pipeline_id, stage_key, stage_order, is_won, is_lost
    from {{ ref('int_pipeline_stages') }}

)

select
    transitions.team_id,
    transitions.transition_id,
    transitions.deal_id,
    transitions.pipeline_id,
    transitions.from_stage,
    transitions.to_stage,
    transitions.changed_at,
    {{ utc_date('transitions.changed_at') }} as changed_date,
    transitions.changed_by,
    transitions.owner_id,
    transitions.duration_in_stage_seconds,
    round(transitions.duration_in_stage_seconds / 86400.0, 4) as days_in_from_stage,
    transitions.from_stage is null as is_creation,
    from_stage.stage_order as from_stage_order,
    to_stage.stage_order as to_stage_order,
    to_stage.stage_order > from_stage.stage_order as is_forward,
    coalesce(to_stage.is_won, false) as is_won,
    coalesce(to_stage.is_lost, false) as is_lost,
    deals.value,
    deals.currency,
    coalesce(deals.is_deleted, false) as deal_is_deleted
from transitions
left join deals
    on deals.team_id = transitions.team_id and deals.deal_id = transitions.deal_id
left join stages as from_stage
    on from_stage.team_id = transitions.team_id
    and from_stage.pipeline_id = transitions.pipeline_id
    and from_stage.stage_key = transitions.from_stage
left join stages as to_stage
    on to_stage.team_id = transitions.team_id
    and to_stage.pipeline_id = transitions.pipeline_id
    and to_stage.stage_key = transitions.to_stage
