with source as (

    select * from {{ source('app', 'idempotency_keys') }}

),

renamed as (

    select
        -- not exposed: body, headers, request_hash
        team_id,
        actor_id,
        key as idempotency_key,
        method,
        path,
        status_code,
        created_at,
        expires_at
    from source

)

select * from renamed
