with source as (

    select * from {{ source('app', 'leads') }}

),

renamed as (

    select
        team_id,
        id as lead_id,
        first_name,
        last_name,
        email,
        phone,
        title,
        company_name,
        source,
        status,
        rating,
        reviews_count,
        website,
        website_score,
        industry,
        location,
        owner_id,
        converted_at,
        converted_contact_id,
        converted_account_id,
        merged_into_id,
        email_normalized,
        custom,
        created_by,
        {{ record_columns() }}
    from source

)

select * from renamed
