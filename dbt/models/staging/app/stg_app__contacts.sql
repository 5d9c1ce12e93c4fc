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
        custom,
        created_by,
        {{ record_columns() }}
    from source

)

select * from renamed
