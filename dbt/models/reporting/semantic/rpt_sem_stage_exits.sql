{#
  The semantic layer's stage exits (deal velocity): one row per time a live deal left a stage,
  with how many days it had spent there (fct_deal_stage_transitions, creations left out).
#}
{{ config(indexes=[{'columns': ['team_id', 'changed_at']}, {'columns': ['team_id', 'transition_id'], 'unique': true}]) }}

select
    team_id::text as team_id,
    transition_id::text as transition_id,
    deal_id::text as deal_id,
    pipeline_id::text as pipeline_id,
    from_stage::text as stage,
    to_stage::text as to_stage,
    owner_id::text as owner_id,
    changed_at::timestamptz as changed_at,
    days_in_from_stage::numeric as days_in_stage
from {{ ref('fct_deal_stage_transitions') }}
where not is_creation and not deal_is_deleted and duration_in_stage_seconds is not null
