with source as (

    select * from {{ source('app', 'push_subscriptions') }}

),

renamed as (

    select
        -- not exposed: endpoint, p256dh, auth (delivery secrets)
        team_id,
        id as push_subscription_id,
        member_id,
        user_agent,
        created_at
    from source

)

select * from renamed
