{# The semantic layer's tasks: one row per live task; the owner is its first assignee. #}
{{ config(indexes=[{'columns': ['team_id', 'created_at']}, {'columns': ['team_id', 'task_id'], 'unique': true}]) }}

with tasks as (

    select * from {{ ref('fct_tasks') }}

),

members as (

    select team_id, member_id, name from {{ ref('stg_app__team_members') }}

)

select
    tasks.team_id::text as team_id,
    tasks.task_id::text as task_id,
    tasks.title::text as title,
    tasks.status::text as status,
    tasks.priority::text as priority,
    tasks.primary_assignee_id::text as owner_id,
    coalesce(members.name, tasks.primary_assignee_id, 'Unassigned')::text as owner_name,
    tasks.due_at::timestamptz as due_at,
    tasks.completed_at::timestamptz as completed_at,
    tasks.is_completed::boolean as is_completed,
    tasks.is_on_time::boolean as is_on_time,
    tasks.created_at::timestamptz as created_at
from tasks
left join members
    on  tasks.team_id = members.team_id
    and tasks.primary_assignee_id = members.member_id
