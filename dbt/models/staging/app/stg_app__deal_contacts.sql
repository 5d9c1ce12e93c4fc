with source as (

    select * from {{ source('app', 'deal_contacts') }}

),

renamed as (

    select
        team_id,
        deal_id,
        id as contact_id,
        role,
        created_at
    from source

)

select * from renamed
