with source as (

    select * from {{ source('app', 'team_members') }}

),

renamed as (

    select
        -- not exposed: password_hash
        team_id,
        id as member_id,
        email,
        name,
        role_id,
        time_zone,
        is_active,
        last_login_at,
        created_at,
        updated_at,
        version
    from source

)

select * from renamed
