with source as (

    select * from {{ source('app', 'events') }}

),

renamed as (

    select
        team_id,
        id as event_id,
        txid,
        occurred_at,
        actor_type,
        actor_id,
        object_type,
        object_id,
        action,
        changes,
        data,
        request_id
    from source

)

select * from renamed
