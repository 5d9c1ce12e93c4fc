-- One row per team member, with the key and name of their role.

with members as (

    select * from {{ ref('stg_app__team_members') }}

),

roles as (

    select * from {{ ref('stg_app__roles') }}

)

select
    members.team_id,
    members.member_id,
    members.name,
    members.email,
    roles.key as role_key,
    roles.name as role_name,
    members.time_zone,
    members.is_active,
    members.last_login_at,
    members.created_at,
    members.updated_at
from members
left join roles
    on  members.team_id = roles.team_id
    and members.role_id = roles.role_id
