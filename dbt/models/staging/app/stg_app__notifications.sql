with source as (

    select * from {{ source('app', 'notifications') }}

),

renamed as (

    select
        team_id,
        id as notification_id,
        member_id,
        type as notification_type,
        title,
        message,
        action_url,
        priority,
        related_to_type,
        related_to_id,
        actor_id,
        metadata,
        source_event_id,
        source_type,
        source_key,
        read_at,
        archived_at,
        snoozed_until,
        read_at is not null as is_read,
        archived_at is not null as is_archived,
        created_at,
        updated_at
    from source

)

select * from renamed
