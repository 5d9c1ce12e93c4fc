with source as (

    select * from {{ source('app', 'watches') }}

),

renamed as (

    select
        team_id,
        id as watch_id,
        member_id,
        target_type,
        target_id,
        created_at
    from source

)

select * from renamed
