with source as (

    select * from {{ source('app', 'tasks') }}

),

renamed as (

    select
        -- not exposed: due_set_at (reminder bookkeeping)
        team_id,
        id as task_id,
        title,
        description,
        status,
        priority,
        priority_rank,
        due_at,
        time_zone,
        started_at,
        completed_at,
        assignee_ids,
        related_to_type,
        related_to_id,
        tags,
        parent_task_id,
        estimated_hours,
        recurrence_rule,
        series_id,
        occurrence_at,
        next_occurrence_id,
        created_by,
        {{ record_columns() }}
    from source

)

select * from renamed
