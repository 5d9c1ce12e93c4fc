with source as (

    select * from {{ source('app', 'task_reminders') }}

),

renamed as (

    select
        team_id,
        id as reminder_id,
        task_id,
        member_id,
        kind,
        "offset" as reminder_offset,
        due_at,
        remind_at,
        fired_at
    from source

)

select * from renamed
