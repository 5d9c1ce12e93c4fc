with source as (

    select * from {{ source('app', 'contacts') }}

),

renamed as (

    select
        team_id,
        id as contact_id,
        first_name,
        last_name,
        email,
        phone,
        title,
        account_id,
        owner_id,
        lead_id,
        email_normalized,
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
