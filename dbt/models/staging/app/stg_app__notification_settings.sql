with source as (

    select * from {{ source('app', 'notification_settings') }}

),

renamed as (

    select
        -- not exposed: email, phone, slack_webhook_url, teams_webhook_url (contact data and
        -- secrets); only whether they are set
        team_id,
        id as notification_settings_id,
        member_id,
        time_zone,
        dnd_start,
        dnd_end,
        dnd_allow_urgent,
        digest,
        digest_hour,
        email is not null as has_email_override,
        phone is not null as has_phone,
        slack_webhook_url is not null as has_slack_webhook,
        teams_webhook_url is not null as has_teams_webhook,
        created_at,
        updated_at
    from source

)

select * from renamed
