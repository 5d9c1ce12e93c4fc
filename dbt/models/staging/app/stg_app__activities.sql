with source as (

    select * from {{ source('app', 'activities') }}

),

renamed as (

    select
        -- not exposed: search_vector (a full-text index column)
        team_id,
        id as activity_id,
        type as activity_type,
        subject,
        description,
        related_to_type,
        related_to_id,
        actor_type,
        member_id,
        occurred_at,
        metadata,
        source_event_id,
        source_event_id is not null as is_derived,
        created_by,
        {{ record_columns() }}
    from source

)

select * from renamed
