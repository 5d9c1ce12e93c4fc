with source as (

    select * from {{ source('app', 'time_logs') }}

),

renamed as (

    select
        team_id,
        id as time_log_id,
        task_id,
        member_id,
        started_at,
        ended_at,
        {{ hours_between('started_at', 'ended_at') }} as hours,
        ended_at is null as is_running,
        notes,
        source,
        created_at,
        updated_at
    from source

)

select * from renamed
