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
        custom,
        created_by,
        {{ record_columns() }}
    from source

)

select * from renamed
