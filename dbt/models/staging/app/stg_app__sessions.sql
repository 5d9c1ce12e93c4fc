with source as (

    select * from {{ source('app', 'sessions') }}

),

renamed as (

    select
        -- not exposed: token_hash
        team_id,
        id as session_id,
        member_id,
        created_at,
        last_used_at,
        expires_at,
        revoked_at,
        user_agent,
        ip
    from source

)

select * from renamed
