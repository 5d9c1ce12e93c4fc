-- Contract with the dashboards (apps/): see rpt_task_throughput in _tasks__models.yml.

with completed as (

    select
        credits.team_id,
        credits.member_id,
        tasks.completed_week,
        tasks.due_at,
        tasks.is_on_time,
        tasks.estimated_hours,
        tasks.actual_hours
    from {{ ref('fct_tasks') }} as tasks
    inner join {{ ref('fct_task_credits') }} as credits
        on  tasks.team_id = credits.team_id
        and tasks.task_id = credits.task_id
    where tasks.is_completed

),

members as (

    select team_id, member_id, name from {{ ref('stg_app__team_members') }}

),

weekly as (

    select
        team_id,
        member_id,
        completed_week,
        count(*) as tasks_completed,
        count(due_at) as tasks_with_due_date,
        count(*) filter (where is_on_time) as completed_on_time,
        sum(estimated_hours) filter (where estimated_hours > 0 and actual_hours > 0)
            as estimated_hours,
        sum(actual_hours) filter (where estimated_hours > 0 and actual_hours > 0)
            as actual_hours,
        count(*) filter (where estimated_hours > 0 and actual_hours > 0) as tasks_estimated
    from completed
    group by 1, 2, 3

)

select
    weekly.team_id::text as team_id,
    weekly.member_id::text as member_id,
    members.name::text as member_name,
    weekly.completed_week::date as week_start,
    weekly.tasks_completed::integer as tasks_completed,
    weekly.tasks_with_due_date::integer as tasks_with_due_date,
    weekly.completed_on_time::integer as completed_on_time,
    round(weekly.completed_on_time::numeric / nullif(weekly.tasks_with_due_date, 0), 4)::numeric
        as on_time_rate,
    weekly.tasks_estimated::integer as tasks_estimated,
    round(weekly.estimated_hours, 2)::numeric as estimated_hours,
    round(weekly.actual_hours, 2)::numeric as actual_hours,
    round(weekly.estimated_hours / nullif(weekly.actual_hours, 0), 4)::numeric
        as estimate_accuracy
from weekly
left join members
    on  weekly.team_id = members.team_id
    and weekly.member_id = members.member_id
