with source as (

    select * from {{ source('app', 'notification_preferences') }}

),

renamed as (

    select
        team_id,
        id as preference_id,
        member_id,
        type as notification_type,
        channel,
        enabled as is_enabled,
        created_at,
        updated_at
    from source

)

select * from renamed
