with source as (

    select * from {{ source('app', 'teams') }}

),

renamed as (

    select
        id as team_id,
        name,
        slug,
        settings,
        created_at,
        updated_at,
        version
    from source

)

select * from renamed
