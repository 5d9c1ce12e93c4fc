with source as (

    select * from {{ source('app', 'notification_deliveries') }}

),

renamed as (

    select
        team_id,
        id as delivery_id,
        notification_id,
        member_id,
        channel,
        target,
        status,
        digest,
        attempts,
        next_attempt_at,
        last_error,
        provider_id,
        sent_at,
        delivered_at,
        created_at,
        updated_at
    from source

)

select * from renamed
