{#
  One row per stage of every pipeline as it is defined now: the pipeline's stages jsonb
  unnested in order (stage_order 1..n).
#}

with pipelines as (

    select * from {{ ref('stg_app__pipelines') }}

)

select
    pipelines.team_id,
    pipelines.pipeline_id,
    pipelines.pipeline_name,
    pipelines.is_default,
    pipelines.is_deleted as pipeline_is_deleted,
    stage.ordinality::integer as stage_order,
    stage.value ->> 'key' as stage_key,
    stage.value ->> 'name' as stage_name,
    (stage.value ->> 'probability')::integer as probability,
    stage.value ->> 'forecast_category' as forecast_category,
    coalesce((stage.value ->> 'is_won')::boolean, false) as is_won,
    coalesce((stage.value ->> 'is_lost')::boolean, false) as is_lost,
    (stage.value ->> 'rot_days')::integer as rot_days
from pipelines
cross join lateral jsonb_array_elements(pipelines.stages) with ordinality as stage (value, ordinality)
