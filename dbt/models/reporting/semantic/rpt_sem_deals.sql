{#
  The semantic layer's deals: one row per live deal with its pipeline, stage (name and
  forecast category as the pipeline defines them now), owner, value and weighted value
  (value × the deal's probability, else its stage's, / 100).
#}
{{ config(indexes=[{'columns': ['team_id', 'created_at']}, {'columns': ['team_id', 'deal_id'], 'unique': true}]) }}

with deals as (

    select * from {{ ref('stg_app__deals') }}
    where not is_deleted

),

stages as (

    select * from {{ ref('int_pipeline_stages') }}

),

members as (

    select team_id, member_id, name from {{ ref('stg_app__team_members') }}

)

select
    deals.team_id::text as team_id,
    deals.deal_id::text as deal_id,
    deals.deal_name::text as deal_name,
    deals.pipeline_id::text as pipeline_id,
    coalesce(stages.pipeline_name, deals.pipeline_id)::text as pipeline_name,
    deals.stage::text as stage,
    coalesce(stages.stage_name, deals.stage)::text as stage_name,
    coalesce(stages.forecast_category, 'unknown')::text as forecast_category,
    deals.status::text as status,
    deals.owner_id::text as owner_id,
    coalesce(members.name, deals.owner_id, 'Unassigned')::text as owner_name,
    deals.source::text as source,
    deals.win_reason::text as win_reason,
    deals.loss_reason::text as loss_reason,
    deals.competitor::text as competitor,
    coalesce(deals.currency, 'USD')::text as currency,
    coalesce(deals.value, 0)::numeric(18, 2) as value,
    coalesce(deals.probability, stages.probability, 0)::integer as probability,
    round(
        coalesce(deals.value, 0) * coalesce(deals.probability, stages.probability, 0) / 100.0, 2
    )::numeric(18, 2) as weighted_value,
    deals.expected_close_date::date as expected_close_date,
    deals.actual_close_date::date as actual_close_date,
    coalesce(deals.actual_close_date, deals.expected_close_date)::date as close_date,
    deals.created_at::timestamptz as created_at
from deals
left join stages
    on  deals.team_id = stages.team_id
    and deals.pipeline_id = stages.pipeline_id
    and deals.stage = stages.stage_key
left join members
    on  deals.team_id = members.team_id
    and deals.owner_id = members.member_id
