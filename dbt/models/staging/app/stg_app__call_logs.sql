with source as (

    select * from {{ source('app', 'call_logs') }}

),

renamed as (

    select
        team_id,
        id as call_log_id,
        lead_id,
        contact_id,
        member_id,
        direction,
        phone_number,
        started_at,
        duration as duration_seconds,
        outcome,
        notes,
        transcript,
        recording_url,
        ai_suggestions,
        custom,
        created_by,
        {{ record_columns() }}
    from source

)

select * from renamed
