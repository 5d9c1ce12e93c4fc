with source as (

    select * from {{ source('app', 'accounts') }}

),

renamed as (

    select
        team_id,
        id as account_id,
        name,
        domain,
        industry,
        website,
        owner_id,
        domain_normalized,
        created_by,
        created_at,
        updated_at,
        version,
        deleted_at,
        custom,
        deleted_at is not null as is_deleted
    from source

)

select * from renamed
