-- One row per live (not deleted) task, with the hours logged on it (finished logs, the task's own: subtasks have their rows),
-- and whether it was completed on time (completed_at <= due_at; null without both).
{{ config(indexes=[{'columns': ['team_id', 'completed_at']}, {'columns': ['team_id', 'due_at']}]) }}

with tasks as (

    select
        *,
        -- A completed task written without completed_at (an import, a seed) counts as
        -- completed when it last changed.
        case when status = 'completed' then coalesce(completed_at, updated_at) end
            as finished_at
    from {{ ref('stg_app__tasks') }}
    where not is_deleted

),

logged as (

    select team_id, task_id, sum(hours) as actual_hours, count(*) as time_logs
    from {{ ref('stg_app__time_logs') }}
    where not is_running
    group by 1, 2

),

dependencies as (

    {{ count_per_key(ref('stg_app__task_dependencies'), 'task_id', 'dependencies') }}

)

select
    tasks.team_id,
    tasks.task_id,
    tasks.title,
    tasks.status,
    tasks.priority,
    tasks.priority_rank,
    tasks.due_at,
    tasks.started_at,
    tasks.finished_at as completed_at,
    {{ utc_date('tasks.finished_at') }} as completed_date,
    date_trunc('week', tasks.finished_at at time zone 'UTC')::date as completed_week,
    tasks.assignee_ids[1] as primary_assignee_id,
    coalesce(cardinality(tasks.assignee_ids), 0) as assignee_count,
    tasks.created_by,
    tasks.related_to_type,
    tasks.related_to_id,
    tasks.parent_task_id,
    tasks.parent_task_id is not null as is_subtask,
    tasks.series_id,
    tasks.recurrence_rule is not null as is_recurring,
    tasks.estimated_hours,
    coalesce(logged.actual_hours, 0)::numeric as actual_hours,
    coalesce(logged.time_logs, 0) as time_logs,
    coalesce(dependencies.dependencies, 0) as dependencies,
    tasks.status = 'completed' as is_completed,
    case
        when tasks.status = 'completed' and tasks.due_at is not null
            then tasks.finished_at <= tasks.due_at
    end as is_on_time,
    {{ hours_between('tasks.created_at', 'tasks.finished_at') }} as hours_to_complete,
    tasks.created_at,
    tasks.updated_at
from tasks
left join logged
    on  tasks.team_id = logged.team_id
    and tasks.task_id = logged.task_id
left join dependencies
    on  tasks.team_id = dependencies.team_id
    and tasks.task_id = dependencies.task_id
