with source as (

    select * from {{ source('app', 'deal_stage_history') }}

),

renamed as (

    select
        team_id,
        id as transition_id,
        deal_id,
        pipeline_id,
        from_stage,
        to_stage,
        changed_at,
        changed_by,
        duration_in_stage as duration_in_stage_seconds,
        owner_id
    from source

)

select * from renamed
