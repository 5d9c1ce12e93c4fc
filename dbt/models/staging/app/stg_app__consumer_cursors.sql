with source as (

    select * from {{ source('app', 'consumer_cursors') }}

),

renamed as (

    select
        consumer,
        last_txid,
        last_event_id,
        updated_at
    from source

)

select * from renamed
