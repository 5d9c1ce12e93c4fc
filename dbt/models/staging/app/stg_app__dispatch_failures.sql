with source as (

    select * from {{ source('app', 'dispatch_failures') }}

),

renamed as (

    select
        team_id,
        id as dispatch_failure_id,
        consumer,
        event_id,
        status,
        attempts,
        last_error,
        next_attempt_at,
        created_at,
        updated_at
    from source

)

select * from renamed
