with source as (

    select * from {{ source('app', 'roles') }}

),

renamed as (

    select
        team_id,
        id as role_id,
        key,
        name,
        is_system,
        permissions,
        created_at,
        updated_at
    from source

)

select * from renamed
