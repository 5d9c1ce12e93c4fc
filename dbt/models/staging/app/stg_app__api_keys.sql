with source as (

    select * from {{ source('app', 'api_keys') }}

),

renamed as (

    select
        -- not exposed: key_hash
        team_id,
        id as api_key_id,
        member_id,
        name,
        prefix,
        scopes,
        created_at,
        last_used_at,
        expires_at,
        revoked_at
    from source

)

select * from renamed
