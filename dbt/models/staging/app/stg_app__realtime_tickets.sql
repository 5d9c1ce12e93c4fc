with source as (

    select * from {{ source('app', 'realtime_tickets') }}

),

renamed as (

    select
        -- not exposed: token_hash
        team_id,
        id as ticket_id,
        member_id,
        created_at,
        expires_at,
        used_at
    from source

)

select * from renamed
